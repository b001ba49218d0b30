"""`iknet-ros evaluate-real`: layout, metrics on known answers, a real run, iknet_node's path.

The last tests check over real DDS that the tracker evaluate-real measures is iknet_node's.
"""
import json

import cv2
import numpy as np
import pytest
import torch
import yaml
from conftest import REAL_DATA, require_real
from rclpy.node import Node
from rclpy.parameter import Parameter
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import MultiDOFJointState, PointCloud2
from std_msgs.msg import Float32MultiArray, Header

from iknet_ros import cli
from iknet_ros.evaluation import datasets, methods, metrics
from iknet_ros.evaluation.datasets import RealDataError, StereoCamera
from iknet_ros.evaluation.detections import Detections
from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.model.checkpoint import default_checkpoint
from iknet_ros.ros.conversions import keypoints_to_cloud
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.iknet_node import IKNetNode
from iknet_ros.synth.motion import generate_motion
from iknet_ros.synth.observation import observe


@pytest.fixture(scope='module')
def hands():
    """(2, 40, 21, 3) true camera-frame joints of two generated hand motions, float64."""
    return generate_motion(2, 40, seed=3).positions.double().numpy()


# --- layout ---------------------------------------------------------------------------------

def write_gt_set(folder, frames=3, joints_shape=None):
    (folder / 'images').mkdir(parents=True)
    names = [f'{i:05d}.jpg' for i in range(frames)]
    for name in names:
        cv2.imwrite(str(folder / 'images' / name), np.zeros((8, 8, 3), np.uint8))
    np.savez(folder / 'gt.npz', image=np.array(names),
             joints_m=np.zeros(joints_shape or (frames, 1, 21, 3), np.float32),
             side=np.array([['left']] * frames), K=np.tile(np.eye(3), (frames, 1, 1)))


CAMERA = {'K': np.eye(3).tolist(), 'D': [0.0] * 5, 'R': np.eye(3).tolist(), 'T': [0.0, 0, 0]}


def write_stereo_set(folder, cameras=('cam0', 'cam1')):
    folder.mkdir(parents=True)
    for name in ('cam0', 'cam1'):
        (folder / f'{name}.mp4').write_bytes(b'')
    (folder / 'calib.yaml').write_text(yaml.safe_dump({n: CAMERA for n in cameras}))


def test_discover_finds_every_kind_by_layout(tmp_path):
    write_gt_set(tmp_path / 'gt_frames' / 'set_a')
    write_stereo_set(tmp_path / 'stereo' / 'pair')
    (tmp_path / 'videos' / 'licenses').mkdir(parents=True)
    (tmp_path / 'videos' / 'clip.mp4').write_bytes(b'')
    (tmp_path / 'videos' / 'clip.yaml').write_text('fx: 500\nfy: 510\ncx: 320\ncy: 240\n')
    (tmp_path / 'videos' / 'notes.md').write_text('not a video')
    found = datasets.discover(tmp_path)
    assert [g.key for g in found.gt_frames] == ['gt_frames/set_a']
    assert found.gt_frames[0].joints_m.shape == (3, 1, 21, 3)
    assert [(s.name, sorted(s.cameras)) for s in found.stereo] == [('pair', ['cam0', 'cam1'])]
    assert [v.key for v in found.videos] == ['videos/clip']
    assert found.videos[0].intrinsics.fy == 510.0


def test_layout_errors_name_what_is_missing_or_malformed(tmp_path):
    with pytest.raises(RealDataError, match='holds no real data'):
        datasets.discover(tmp_path)
    (tmp_path / 'gt_frames' / 'no_truth' / 'images').mkdir(parents=True)
    with pytest.raises(RealDataError, match='gt.npz is missing'):
        datasets.discover(tmp_path)

    wrong = tmp_path / 'shapes'
    write_gt_set(wrong / 'gt_frames' / 'bad', joints_shape=(3, 1, 20, 3))
    with pytest.raises(RealDataError, match=r'joints_m has shape \(3, 1, 20, 3\)'):
        datasets.discover(wrong)

    one_camera = tmp_path / 'stereo_only'
    write_stereo_set(one_camera / 'stereo' / 'pair', cameras=('cam0',))
    with pytest.raises(RealDataError, match="no camera 'cam1'"):
        datasets.discover(one_camera)


def test_the_command_turns_a_bad_folder_into_one_line_and_status_2(tmp_path, capsys):
    assert cli.main(['evaluate-real', '--data', str(tmp_path / 'absent')]) == 2
    assert 'real-data folder not found' in capsys.readouterr().err
    assert cli.main(['evaluate-real', '--data', str(tmp_path), '--methods', 'magic']) == 2
    assert 'unknown method(s) magic' in capsys.readouterr().err


# --- metrics on known answers ---------------------------------------------------------------

def test_a_moved_and_scaled_skeleton_has_pa_mpjpe_zero(hands):
    truth = hands[0]                                                       # (40, 21, 3)
    rotation = Rotation.from_rotvec([0.3, -0.5, 1.1]).as_matrix()
    moved = 1.7 * truth @ rotation.T + np.array([0.1, -0.2, 0.3])
    assert metrics.pa_mpjpe_mm(moved, truth) < 1e-6
    assert metrics.pa_mpjpe_mm(moved + np.random.default_rng(0).normal(0, 0.005, moved.shape),
                               truth) > 1.0
    scale, r, t = metrics.similarity_transform(truth.reshape(-1, 3), moved.reshape(-1, 3))
    assert scale == pytest.approx(1.7) and np.allclose(r, rotation)
    scale, r, _ = metrics.sequence_similarity(truth, moved)
    assert scale == pytest.approx(1.7) and np.allclose(r, rotation)


def test_a_known_time_shift_gives_its_lag():
    time = np.arange(120.0)
    phases = np.random.default_rng(1).uniform(0, 2 * np.pi, (21, 3))
    trajectory = lambda t: 0.02 * np.sin(2 * np.pi * t[:, None, None] / 37.0 + phases)  # noqa: E731
    reference = trajectory(time)
    behind = trajectory(time - 2.5)  # the joints trail the reference by 2.5 frames
    assert metrics.lag_frames(behind, reference) == pytest.approx(2.5, abs=0.051)
    assert metrics.lag_frames(trajectory(time + 1.0), reference) == pytest.approx(-1.0, abs=0.051)


def test_triangulation_returns_the_points_two_known_cameras_projected(hands):
    points = hands[0, 0] + np.array([0.0, 0.0, 0.3])                        # (21, 3) world
    K = np.array([[900.0, 0, 360], [0, 900, 350], [0, 0, 1]])
    cameras = [StereoCamera(K, np.array([-0.01, 0.2, 0.001, -0.002, -0.5]), np.eye(3),
                            np.zeros(3)),
               StereoCamera(K, np.zeros(5), Rotation.from_rotvec([0, -0.6, 0.1]).as_matrix(),
                            np.array([0.4, 0.02, 0.1]))]
    uv = [cv2.projectPoints(points, cv2.Rodrigues(c.R)[0], c.T, c.K, c.D)[0].reshape(-1, 2)
          for c in cameras]
    assert np.allclose(metrics.triangulate(uv, cameras), points, atol=1e-6)
    assert np.allclose(metrics.project(cameras[1].to_camera(points), K, cameras[1].D), uv[1],
                       atol=1e-6)


def test_the_offset_calibration_recovers_a_known_constant_offset(hands):
    keypoints = hands.reshape(-1, 21, 3).copy()                              # (80, 21, 3)
    sides = np.array(['right'] * 40 + ['left'] * 40)
    keypoints[40:] = keypoints[40:] @ sk.MIRROR                              # real left hands
    known = np.random.default_rng(2).normal(0, 0.1, (21, 3))                 # palm lengths
    truth = np.concatenate([methods.apply_offsets(keypoints[sides == s], s, known)
                            for s in ('right', 'left')])
    fitted = methods.fit_offsets(keypoints, sides, truth)
    assert np.allclose(fitted, known, atol=1e-9)
    # the offset is in the hand's own frame: the left hands moved the mirrored way
    frame, palm = methods.hand_frame(keypoints[:1])
    assert np.allclose(truth[0] - keypoints[0], palm[0] * known @ frame[0].T)


def test_joint_limits_catch_a_sideways_bent_pip_and_pass_the_rest_pose():
    angles = torch.zeros(2, 21, 3, dtype=torch.float64)
    angles[1, sk.JOINT_INDEX['index_pip'], 1] = 25.0  # PIP abduction, limit +-3 deg
    outside = metrics.limit_violations(kin.angles_to_local(angles).numpy())  # (2, 15)
    assert not outside[0].any()
    assert outside[1].tolist() == [j == sk.JOINT_INDEX['index_pip'] for j in
                                   metrics.LIMITED_JOINTS]


def test_acceleration_error_is_zero_for_a_moved_copy_and_counts_jitter(hands):
    truth = hands[0]
    assert metrics.accel_error_mm(truth + 0.01, truth) == pytest.approx(0.0, abs=1e-9)
    jitter = np.zeros_like(truth)
    jitter[1::2, 1:, 0] = 0.001  # every other frame 1 mm off: second differences of 2 mm
    expected = 2.0 * 20 / 21  # the wrist (aligned on) does not jitter
    assert metrics.accel_error_mm(truth + jitter, truth) == pytest.approx(expected, rel=1e-6)


# --- a real run -----------------------------------------------------------------------------

REQUIRED = {'gt_frames': ('detection_rate', 'handedness_accuracy', 'mpjpe_wrist_mm',
                          'pa_mpjpe_mm', 'root_mm'),
            'stereo': ('mpjpe_mm', 'mpjpe_wrist_mm', 'pa_mpjpe_mm', 'accel_mm', 'lag_frames'),
            'videos': ('tips_2d_rel_palm', 'joints_2d_px', 'accel_mm', 'bone_std_mm',
                       'limit_violation_rate', 'coverage')}


@pytest.fixture
def small_real_data(tmp_path):
    """One dataset of each kind from the shared real data, linked into a folder of the layout."""
    for part in ('gt_frames/handgraph_dev', 'stereo/desk_topdown', 'videos/right_hand_720p.mp4'):
        require_real(REAL_DATA / part)
    root = tmp_path / 'real'
    for part in ('gt_frames/handgraph_dev', 'stereo/desk_topdown', 'videos/right_hand_720p.mp4'):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        (root / part).symlink_to(REAL_DATA / part)
    return root


def test_a_small_real_run_through_the_command(small_real_data, tmp_path, capsys):
    out_json, out_png, cache = tmp_path / 'real.json', tmp_path / 'real.png', tmp_path / 'cache'
    args = ['evaluate-real', '--data', str(small_real_data), '--limit', '30', '--cache',
            str(cache), '--no-progress']
    assert cli.main(args + ['--json', str(out_json), '--plot', str(out_png)]) == 0
    printed = capsys.readouterr().out
    results = json.loads(out_json.read_text())
    assert results['data'] == str(small_real_data) and len(results['commit']) >= 7
    one_euro = results['method_settings']['one_euro']
    assert set(one_euro['setting']) == {'min_cutoff', 'beta'}
    assert 'synthetic training seeds' in one_euro['chosen_by']
    expected = {'gt_frames/handgraph_dev': 'gt_frames',
                'gt_frames/handgraph_dev/held_out': 'gt_frames',
                'stereo/desk_topdown/cam0': 'stereo', 'stereo/desk_topdown/cam1': 'stereo',
                'videos/right_hand_720p': 'videos'}
    assert {k: v['kind'] for k, v in results['datasets'].items()} == expected
    for key, entry in results['datasets'].items():
        assert key in printed
        assert list(entry['methods']) == list(methods.METHODS)
        for method, values in entry['methods'].items():
            for metric in REQUIRED[entry['kind']]:
                assert isinstance(values[metric], float), (key, method, metric)
    gt = results['datasets']['gt_frames/handgraph_dev']['methods']
    assert gt['mediapipe']['detection_rate'] > 0.9
    assert 10.0 < gt['mediapipe']['mpjpe_wrist_mm'] < 40.0  # MediaPipe is ~25 mm off here
    assert gt['mediapipe']['pa_mpjpe_mm'] < gt['mediapipe']['mpjpe_wrist_mm']
    held_out = results['datasets']['gt_frames/handgraph_dev/held_out']
    assert held_out['frame_range'] == [15, 30] and held_out['frames'] == 15  # of --limit 30
    stereo = results['datasets']['stereo/desk_topdown/cam0']
    assert stereo['reference']['frames_triangulated'] >= 10
    assert stereo['reference']['reprojection_px'] < 10.0
    video = results['datasets']['videos/right_hand_720p']['methods']
    assert video['mediapipe']['coverage'] == 1.0
    # the tracker averages the track's bone lengths: steadier bones than MediaPipe
    assert video['sequence']['bone_std_mm'] < video['mediapipe']['bone_std_mm']
    assert out_png.stat().st_size > 10_000
    assert not any(e['detections_cached'] for e in results['datasets'].values())

    # a second run takes the detections from the cache
    again = tmp_path / 'again.json'
    assert cli.main(args + ['--methods', 'mediapipe', '--json', str(again)]) == 0
    results = json.loads(again.read_text())
    assert all(e['detections_cached'] for e in results['datasets'].values())
    assert list(results['datasets']['videos/right_hand_720p']['methods']) == ['mediapipe']


# --- iknet_node and evaluate-real run the same tracker ----------------------------------------

def header_at(stamp_ns: int) -> Header:
    h = Header(frame_id='camera')
    h.stamp.sec, h.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return h


def synthetic_detections(frames: int) -> Detections:
    """A right and a left hand (camera frame) as detections, stamped 1/30 s apart."""
    keypoints = observe(generate_motion(2, frames, seed=21).positions, 'realistic',
                        seed=22).keypoints.double().numpy()
    xyz = np.stack([keypoints[0], keypoints[1] @ sk.MIRROR], axis=1)       # (F, 2, 21, 3)
    stamps_ns = 50_000_000_000 + np.arange(frames) * 33_333_333
    xyz = xyz.astype(np.float32).astype(np.float64)
    return Detections(stamps=stamps_ns * 1e-9, xyz=xyz, world=xyz - xyz.mean(-2, keepdims=True),
                      uv=xyz[..., :2] / xyz[..., 2:],
                      side=np.tile([1, 0], (frames, 1)), score=np.full((frames, 2), 0.9),
                      intrinsics=np.tile([1.0, 1.0, 0.0, 0.0], (frames, 1)),
                      guessed=np.zeros(frames, bool))  # fx = fy = 1: the pixels are the rays


def feed_iknet_node(graph, detections: Detections, checkpoint='') -> list:
    """The MultiDOFJointState answers of an iknet_node fed `detections` as keypoint clouds."""
    iknet = graph.add(IKNetNode(context=graph.context, parameter_overrides=[
        Parameter('device', value='cpu'), Parameter('checkpoint', value=str(checkpoint))]))
    feeder = graph.add(Node('evaluate_real_feeder', context=graph.context))
    publisher = feeder.create_publisher(PointCloud2, '/hand/keypoints', 10)
    answers, attention = [], []
    feeder.create_subscription(MultiDOFJointState, '/hand/joint_rotations', answers.append, 100)
    feeder.create_subscription(Float32MultiArray, '/hand/attention', attention.append, 100)
    assert wait_for(lambda: publisher.get_subscription_count() > 0
                    and iknet.joints_pub.get_subscription_count() > 0, 10)
    for f in range(detections.frames):
        stamp_ns = int(round(detections.stamps[f] * 1e9))
        publisher.publish(keypoints_to_cloud(header_at(stamp_ns), detections.hands(f)))
        assert wait_for(lambda n=f + 1: len(answers) >= n, 10), 'iknet_node did not answer'
    return answers, attention


def published_rotations(msg) -> dict:
    """{side: (21, 3, 3)} local rotations of one joint-rotations message."""
    quats = {}
    for name, transform in zip(msg.joint_names, msg.transforms, strict=True):
        q = transform.rotation
        quats.setdefault(name.split('_')[0], []).append([q.x, q.y, q.z, q.w])
    return {side: Rotation.from_quat(q).as_matrix() for side, q in quats.items()}


def test_iknet_node_over_dds_and_evaluate_real_give_the_same_rotations(ros_graph):
    detections = synthetic_detections(12)
    answers, _ = feed_iknet_node(ros_graph, detections)
    published, _ = methods.run_tracker(detections, methods.make_tracker('sequence', {}, 'cpu'))
    for f, msg in enumerate(answers):
        for side, rotations in published_rotations(msg).items():
            m = methods.mirror(side)
            evaluated = m @ published.local_rot[side][f] @ m  # back from the right-hand convention
            assert np.allclose(rotations, evaluated, atol=1e-6), (f, side)
    assert set(published_rotations(answers[-1])) == {'left', 'right'}


def test_iknet_node_runs_a_baseline_checkpoint(ros_graph):
    detections = synthetic_detections(4)
    answers, attention = feed_iknet_node(ros_graph, detections, default_checkpoint('baseline'))
    assert all(len(msg.joint_names) == 2 * sk.NUM_JOINTS for msg in answers)
    # the per-frame baseline's attention: all on the newest frame, one layer
    assert wait_for(lambda: len(attention) == len(answers), 5)
    assert [d.size for d in attention[-1].layout.dim] == [2, 1, 1]
    assert np.allclose(attention[-1].data, 1.0)


def test_the_ik_method_is_closed_form_swing_ik_inside_the_tracker():
    """A freshly built IKNet (zero head) in the tracker: its rotations are swing IK."""
    detections = synthetic_detections(5)
    tracker = methods.make_tracker('ik', {}, 'cpu')
    _, raw = methods.run_tracker(detections, tracker)
    right = detections.xyz[:, 0]                                             # (5, 21, 3)
    expected = metrics.swing_rotations(right)
    articulated = list(sk.ARTICULATED)
    assert np.allclose(raw.local_rot['right'][:, articulated], expected[:, articulated],
                       atol=1e-4)
    assert tracker.config['kind'] == 'sequence' and tracker.config['checkpoint'] is None
