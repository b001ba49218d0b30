"""Run statistics of `iknet-ros run --record`, checked on synthetic hands without ROS."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from iknet_ros.synth.motion import generate_motion
from iknet_ros.synth.observation import observe
from iknet_ros.tracking.summary import RunSummary, joint_positions

FRAMES = 40


@pytest.fixture(scope='module')
def motion():
    return generate_motion(1, FRAMES, seed=3)


def truth(motion, f):
    """(quat (21, 4), offsets (21, 3) with the wrist in row 0) of frame f: a perfect tracker."""
    quat = Rotation.from_matrix(motion.local_rot[0, f].double().numpy()).as_quat()
    offsets = motion.offsets[0].double().numpy().copy()
    offsets[0] = motion.root_position[0, f].double().numpy()
    return quat, offsets


def test_joint_positions_is_forward_kinematics(motion):
    quat, offsets = truth(motion, 5)
    np.testing.assert_allclose(joint_positions(quat, offsets), motion.positions[0, 5].numpy(),
                               atol=1e-5)


def test_perfect_tracker_on_clean_input(motion):
    run = RunSummary()
    for f in range(FRAMES):
        run.add_keypoints(f, {'right': motion.positions[0, f].numpy()})
        run.add_rotations(f, {'right': truth(motion, f)}, latency=0.01)
    s = run.result(frames_in=FRAMES, seconds=2.0)
    assert s['frames_in'] == s['frames_with_keypoints'] == s['frames_with_rotations'] == FRAMES
    assert s['fps'] == pytest.approx(20.0)
    assert s['skeleton_bone_std_mm'] == pytest.approx(0.0, abs=1e-6)
    assert s['fidelity_mm'] == pytest.approx(0.0, abs=1e-3)
    assert s['accel_ratio'] == pytest.approx(1.0, rel=1e-3)
    assert s['latency_ms_p50'] == pytest.approx(10.0)


def test_noisy_keypoints_against_a_steady_skeleton(motion):
    noisy = observe(motion.positions, 'realistic', seed=1).keypoints[0].numpy()
    run = RunSummary()
    for f in range(FRAMES):
        run.add_keypoints(f, {'right': noisy[f]})
        run.add_rotations(f, {'right': truth(motion, f)})
    s = run.result(frames_in=FRAMES, seconds=1.0)
    assert s['accel_ratio'] < 1.0  # the truth is smoother than the detections
    assert s['keypoint_bone_std_mm'] > s['skeleton_bone_std_mm']
    expected = np.linalg.norm((noisy - noisy[:, :1]) - (motion.positions[0].numpy()
                                                         - motion.positions[0, :, :1].numpy()),
                              axis=-1).mean() * 1000
    assert s['fidelity_mm'] == pytest.approx(expected, rel=1e-3)
    assert math.isnan(s['latency_ms_p50'])


def test_gaps_split_runs_and_unmatched_frames_are_counted(motion):
    run = RunSummary()
    for f in range(FRAMES):
        hands = {} if f in (10, 11) else {'right': motion.positions[0, f].numpy()}
        run.add_keypoints(f, hands)
        if hands and f != 20:  # frame 20: keypoints, but no rotations came out
            run.add_rotations(f, {'right': truth(motion, f)})
        elif not hands:
            run.add_rotations(f, {})
    # a track that jumps between runs must not count as acceleration
    s = run.result(frames_in=FRAMES + 2, seconds=1.0)
    assert s['frames_in'] == FRAMES + 2
    assert s['frames_with_keypoints'] == FRAMES - 2
    assert s['frames_with_rotations'] == FRAMES - 3
    assert s['accel_ratio'] == pytest.approx(1.0, rel=1e-3)


def test_frames_dropped_before_the_tracker_end_runs(motion):
    run = RunSummary()
    for f in range(FRAMES):
        if f % 7 == 3:
            continue  # dropped by the detector: neither keypoints nor rotations
        run.add_keypoints(f * 33_333_333, {'right': motion.positions[0, f].numpy()})
        run.add_rotations(f * 33_333_333, {'right': truth(motion, f)})
    assert run.result(frames_in=FRAMES, seconds=1.0)['accel_ratio'] == pytest.approx(1.0, rel=1e-3)
    runs = run._tracks()
    assert len(runs) == len([f for f in range(FRAMES) if f % 7 == 3]) + 1
    assert sum(len(kp) for kp, _ in runs) == FRAMES - len(runs) + 1


def test_nothing_tracked_gives_nan_not_an_error():
    s = RunSummary().result(frames_in=0, seconds=0.0)
    assert s['frames_with_rotations'] == 0
    for key in ('fps', 'skeleton_bone_std_mm', 'accel_ratio', 'fidelity_mm'):
        assert math.isnan(s[key])
