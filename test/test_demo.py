"""`iknet-ros demo` and `iknet-ros bench` end to end, as a newcomer runs them."""
import json
import subprocess
import sys

from conftest import REAL_VIDEO

from iknet_ros.ros.demo import read_bag

CLI = [sys.executable, '-m', 'iknet_ros.cli']


def run_cli(*args, timeout=300):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


def test_synthetic_demo_writes_every_output(tmp_path):
    out = tmp_path / 'demo'
    result = run_cli('demo', '--synthetic', '--out', str(out), '--max-frames', '90')
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'demo source: synthetic' in result.stdout
    assert 'ros2 bag play' in result.stdout
    for name in ('annotated_frames.png', 'attention.png', 'skeleton_3d.png', 'summary.json'):
        assert (out / name).stat().st_size > 1000, name
    summary = json.loads((out / 'summary.json').read_text())
    for key in ('frames_in', 'frames_with_keypoints', 'frames_with_rotations', 'fps',
                'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm', 'latency_ms_p50',
                'latency_ms_p95', 'source'):
        assert key in summary, key
    assert summary['frames_with_rotations'] >= 80
    (bag_path,) = out.glob('*.mcap')
    bag = read_bag(bag_path)
    for topic in ('/hand/keypoints', '/hand/joint_rotations', '/hand/attention'):
        assert len(bag[topic]) >= 80, topic
    assert summary['recorded_messages']['/tf'] >= 80
    assert summary['recorded_messages']['/hand/skeleton'] >= 80


def test_demo_with_a_missing_video_names_it(tmp_path):
    missing = tmp_path / 'no_such_video.mp4'
    result = run_cli('demo', '--video', str(missing), '--out', str(tmp_path / 'out'))
    assert result.returncode == 2
    assert str(missing) in result.stderr and 'Traceback' not in result.stderr


def test_demo_with_an_unreadable_video_names_it(tmp_path):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'this is not a video')
    result = run_cli('demo', '--video', str(broken), '--out', str(tmp_path / 'out'))
    assert result.returncode == 2
    assert 'broken.mp4' in result.stderr and 'Traceback' not in result.stderr


def test_demo_with_a_camera_that_does_not_open_names_it(tmp_path):
    result = run_cli('demo', '--camera', '57', '--out', str(tmp_path / 'out'))
    assert result.returncode == 2
    assert '57' in result.stderr and 'Traceback' not in result.stderr


def test_bench_json_has_every_key(tmp_path):
    out = tmp_path / 'runs' / 'bench.json'  # as the README writes it, in a folder not made yet
    result = run_cli('bench', '--json', str(out), '--iterations', '20', '--frames', '15',
                     timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures['generation']['frames_per_s_one_core'] > 0
    for kind in ('baseline', 'sequence'):
        forward = figures['model_forward_ms'][kind]
        assert {'p50', 'p95'} <= set(forward) and {'p50', 'p95'} <= set(forward['default_threads'])
    for where in ('in_process', 'two_processes'):
        latency = figures['node_latency_ms'][where]
        assert {'p50', 'p95'} <= set(latency)
        assert {'p50', 'p95'} <= set(latency['received_by_probe'])
        # published before it came back (both on this machine's system clock)
        assert 0 < latency['p50'] <= latency['received_by_probe']['p50']
    if REAL_VIDEO.exists():
        for size in ('1280x720', '640x360'):
            assert figures['pipeline_fps'][size] > 0
            assert figures['mediapipe_only_fps'][size] > 0
            # the pipeline runs MediaPipe and more: transport, decoding, the IKNet
            cpu_ms = figures['pipeline_cpu_ms_per_frame'][size]
            assert cpu_ms > figures['mediapipe_only_cpu_ms_per_frame'][size] > 0
        assert figures['rss_mb'] > 0
    else:
        assert 'absent' in figures['pipeline_skipped']


def test_bench_json_that_cannot_be_written_is_named_before_measuring(tmp_path):
    (tmp_path / 'a_file').write_text('')
    out = tmp_path / 'a_file' / 'bench.json'
    result = run_cli('bench', '--json', str(out), timeout=60)
    assert result.returncode == 2
    assert str(out) in result.stderr and 'Traceback' not in result.stderr
    assert 'generation:' not in result.stdout  # nothing was measured
