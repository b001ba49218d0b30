"""The `iknet-ros` commands end to end, as a newcomer runs them (in this process)."""
import json
import math
import subprocess
import sys

import pytest
from conftest import REAL_VIDEO, require_real

from iknet_ros import cli
from iknet_ros.ros.recording import bag_info, read_bag


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch):
    """The commands set a Fast DDS profile variable for the process; undo it after each test."""
    from iknet_ros.ros.node_main import PROFILE_VARIABLES

    for name in PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def run_cli(capsys, *args):
    """(exit status, stdout, stderr) of `iknet-ros ARGS`."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_version_and_help_answer_from_the_console_script():
    version = subprocess.run([sys.executable, '-m', 'iknet_ros.cli', '--version'],
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith('iknet-ros ')


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(['--help'])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert 'usage: iknet-ros' in out
    for command in cli.COMMANDS:
        assert command in out


def test_synthetic_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / 'demo'
    status, stdout, stderr = run_cli(capsys, 'demo', '--synthetic', '--out', out,
                                     '--max-frames', 90)
    assert status == 0, stderr[-2000:]
    assert 'demo source: synthetic' in stdout and 'ros2 bag play' in stdout
    for name in ('annotated_frames.png', 'attention.png', 'skeleton_3d.png', 'summary.json'):
        assert (out / name).stat().st_size > 1000, name
    summary = json.loads((out / 'summary.json').read_text())
    for key in ('frames_in', 'frames_with_keypoints', 'frames_with_rotations', 'fps',
                'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm', 'latency_ms_p50',
                'latency_ms_p95', 'source'):
        assert key in summary, key
    assert summary['frames_with_rotations'] >= 80
    bag = read_bag(out / 'bag')
    for topic in ('/hand/keypoints', '/hand/joint_rotations', '/hand/attention'):
        assert len(bag[topic]) >= 80, topic
    assert summary['recorded_messages']['/tf'] >= 80
    assert summary['recorded_messages']['/hand/skeleton'] >= 80


def logged_stamps(recording, entity: str, component: str) -> set:
    """Image stamps (ns) at which a Rerun recording holds `component` of `entity`."""
    import pyarrow as pa

    view = recording.view(index='image_stamp', contents={entity: [component]})
    return set(view.select().read_all().column('image_stamp').cast(pa.int64()).to_pylist())


def test_demo_on_a_fresh_clone_runs_the_real_graph_on_the_shipped_clip(tmp_path, capsys,
                                                                        monkeypatch):
    """`make demo` with no ../shared: the shipped clip through every node, recorded for Rerun."""
    import cv2
    import numpy as np
    import rerun as rr

    from iknet_ros.paths import REAL_DATA_VARIABLE, sample_video
    from iknet_ros.ros.recording import read_run

    (tmp_path / 'no_real_data').mkdir()
    monkeypatch.setenv(REAL_DATA_VARIABLE, str(tmp_path / 'no_real_data'))
    out = tmp_path / 'demo'
    status, stdout, stderr = run_cli(capsys, 'demo', '--out', out)
    assert status == 0, stderr[-2000:]
    assert f'demo source: the shipped sample clip {sample_video()}' in stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert 'right_hand_clip.mp4' in summary['source']
    assert summary['frames_in'] == 300  # every frame of the clip, read from the video
    assert summary['frames_with_rotations'] >= 0.95 * summary['frames_in']
    assert summary['recorded_messages']['/hand/debug_image/compressed'] > 0  # MediaPipe drew

    # the Rerun recording holds what the nodes published (the bag), frame by frame
    bag = read_run(out / 'bag')
    recording = rr.dataframe.load_recording(str(out / 'demo.rrd'))
    assert logged_stamps(recording, '/camera/image', 'Blob') == set(bag.images)
    assert len(bag.images) >= 0.95 * summary['frames_in']
    assert logged_stamps(recording, '/world/skeleton/right/bones', 'LineStrip3D') == \
        set(bag.skeletons)
    assert logged_stamps(recording, '/world/keypoints/right', 'Position3D') == \
        {stamp for stamp, hands in bag.keypoints.items() if hands}
    for series in ('/series/flexion_mcp/right', '/series/flexion_pip/right',
                   '/series/latency_ms'):
        assert logged_stamps(recording, series, 'Scalar') == set(bag.skeletons), series
    images = recording.view(index='image_stamp', contents={'/camera/image': ['Blob']})
    jpeg = images.select().read_all().column('/camera/image:Blob')[0].as_py()[0]
    assert cv2.imdecode(np.array(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)


@pytest.mark.parametrize('command', ['demo', 'run'])
def test_a_missing_unreadable_or_closed_source_is_named(tmp_path, capsys, command):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'this is not a video')
    missing = tmp_path / 'no_such_video.mp4'
    for args, name in ((['--video', missing], 'no_such_video.mp4'),
                       (['--video', broken], 'broken.mp4'),
                       (['--camera', 57], 'camera 57')):
        out = ['--out', tmp_path / 'out'] if command == 'demo' else []
        status, _, stderr = run_cli(capsys, command, *args, *out, '--max-frames', 5)
        assert status == 2
        assert name in stderr.strip().splitlines()[-1]
        assert not (tmp_path / 'out').exists()  # a source that does not play writes nothing


def test_run_records_a_rosbag2_bag_and_a_summary(tmp_path, capsys):
    video = require_real(REAL_VIDEO)
    out = tmp_path / 'run'
    status, stdout, stderr = run_cli(capsys, 'run', '--video', video, '--max-frames', 30,
                                     '--record', out)
    assert status == 0, stderr[-3000:]
    assert f'ros2 bag play {out}' in stdout
    summary = json.loads((out / 'summary.json').read_text())
    for key in ('frames_in', 'frames_with_keypoints', 'frames_with_rotations', 'fps',
                'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm', 'cpu_cores'):
        assert key in summary, key
    assert summary['frames_in'] == 30
    # how many frames the detector keeps up with depends on the machine's load; every frame
    # with a hand in it must come out with rotations
    assert 0 < summary['frames_with_rotations'] == summary['frames_with_keypoints']
    assert math.isfinite(summary['fidelity_mm'])
    # a rosbag2 folder: metadata.yaml and the MCAP file, read back with rosbags
    assert (out / 'metadata.yaml').is_file() and (out / 'run.mcap').is_file()
    info = bag_info(out)
    for topic, type_name in (('/hand/keypoints', 'sensor_msgs/msg/PointCloud2'),
                             ('/hand/joint_rotations', 'sensor_msgs/msg/MultiDOFJointState'),
                             ('/tf', 'tf2_msgs/msg/TFMessage'),
                             ('/hand/skeleton', 'visualization_msgs/msg/MarkerArray'),
                             ('/hand/attention', 'std_msgs/msg/Float32MultiArray'),
                             ('/hand/joint_states', 'sensor_msgs/msg/JointState'),
                             ('/hand/debug_image/compressed', 'sensor_msgs/msg/CompressedImage')):
        assert info['topics'][topic]['count'] > 0, f'no {topic} in the bag: {info}'
        assert info['topics'][topic]['type'] == type_name
    assert info['topics']['/hand/keypoints']['count'] == summary['recorded_messages'][
        '/hand/keypoints']
    rotations = [m for _, m in read_bag(out, {'/hand/joint_rotations'})['/hand/joint_rotations']
                 if m.joint_names]
    assert rotations and rotations[0].joint_names[0] == 'right_wrist'
    # rclpy leaves 8 bytes after a JointState without velocities; the bag still reads back
    angles = [m for _, m in read_bag(out, {'/hand/joint_states'})['/hand/joint_states'] if m.name]
    assert angles and len(angles[0].name) == len(angles[0].position) == 55


def test_run_refuses_to_overwrite_a_recording(tmp_path, capsys):
    video = require_real(REAL_VIDEO)
    (tmp_path / 'old').mkdir()
    status, _, stderr = run_cli(capsys, 'run', '--video', video, '--record', tmp_path / 'old')
    assert status == 2 and 'already exists' in stderr


def test_bench_json_has_every_model_key(tmp_path, capsys):
    out = tmp_path / 'runs' / 'bench.json'  # as the README writes it, in a folder not made yet
    status, _, stderr = run_cli(capsys, 'bench', '--json', out, '--iterations', 5,
                                '--only', 'generation', 'models')
    assert status == 0, stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures['generation']['frames_per_s_one_core'] > 0
    for kind in ('baseline', 'sequence'):
        forward = figures['model_forward_ms'][kind]
        assert {'p50', 'p95'} <= set(forward) and {'p50', 'p95'} <= set(forward['default_threads'])
    assert {'p50', 'p95'} <= set(figures['model_forward_ms']['sequence']['traced'])


def test_bench_pipeline_has_every_key():
    from iknet_ros.bench.pipeline import bench_pipeline

    figures = bench_pipeline(frames=10, messages=20)
    for where in ('in_process', 'two_processes'):
        latency = figures['node_latency_ms'][where]
        assert {'p50', 'p95'} <= set(latency) and {'p50', 'p95'} <= set(
            latency['received_by_probe'])
        # published before it came back (both on this machine's system clock)
        assert 0 < latency['p50'] <= latency['received_by_probe']['p50']
    if REAL_VIDEO.exists():
        for key in ('pipeline_fps', 'mediapipe_only_fps', 'pipeline_cpu_ms_per_frame',
                    'mediapipe_only_cpu_ms_per_frame'):
            assert set(figures[key]) == {'1280x720', '640x360'}, key
        assert figures['rss_mb'] > 0
    else:
        assert 'absent' in figures['pipeline_skipped']


def test_bench_json_that_cannot_be_written_is_named_before_measuring(tmp_path, capsys):
    (tmp_path / 'a_file').write_text('')
    out = tmp_path / 'a_file' / 'bench.json'
    status, stdout, stderr = run_cli(capsys, 'bench', '--json', out)
    assert status == 2 and str(out) in stderr
    assert 'generation:' not in stdout  # nothing was measured


def test_run_reads_node_parameters_like_ros2_launch(tmp_path):
    from iknet_ros.ros.pipeline import load_parameters

    path = tmp_path / 'p.yaml'
    path.write_text('/**:\n  ros__parameters:\n    frame_id: cam\n'
                    'iknet_node:\n  ros__parameters:\n    device: cpu\n    reset_after: 1.5\n'
                    '/**/keypoint_node:\n  ros__parameters:\n    max_hands: 1\n')
    params = load_parameters(path)
    assert [(p.name, p.value) for p in params['iknet_node']] == \
        [('frame_id', 'cam'), ('device', 'cpu'), ('reset_after', 1.5)]
    assert [(p.name, p.value) for p in params['keypoint_node']] == \
        [('frame_id', 'cam'), ('max_hands', 1)]  # /**/name: that node in any namespace
    assert [p.name for p in params['video_source']] == ['frame_id']
    path.write_text('iknet_node:\n  device: cpu\n')
    with pytest.raises(ValueError, match='ros__parameters'):
        load_parameters(path)
    with pytest.raises(FileNotFoundError, match='not found'):
        load_parameters(tmp_path / 'missing.yaml')
