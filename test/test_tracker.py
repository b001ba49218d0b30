"""The core tracker (no ROS): per-side tracks, mirroring, the track's bones, resets, bad input."""
import numpy as np
import pytest

from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.model.networks import build_model
from iknet_ros.synth.motion import generate_motion
from iknet_ros.tracking.summary import joint_positions
from iknet_ros.tracking.tracker import BoneEstimate, HandTracker

FLIP = np.array([-1.0, 1.0, 1.0], dtype=np.float32)


@pytest.fixture(scope='module')
def frames():
    """(50, 21, 3) camera-frame joint positions of a generated right hand."""
    return generate_motion(1, 50, seed=11).positions[0].numpy()


def hand(side, xyz, rays=None):
    """A detection whose 2D landmarks are the projection of its 3D keypoints."""
    xyz = np.asarray(xyz, np.float32)
    rays = xyz[:, :2] / xyz[:, 2:] if rays is None else rays
    return HandKeypoints(side, xyz, np.zeros((21, 2), np.float32), 0.9, rays=rays, guessed=False)


def test_left_hand_is_the_mirror_of_the_right(frames):
    tracker = HandTracker(device='cpu')
    for i, xyz in enumerate(frames[:12]):
        out = tracker.update(i / 30, [hand('right', xyz), hand('left', xyz * FLIP)])
    right, left = sorted(out.estimates, key=lambda e: e.side, reverse=True)
    assert np.allclose(left.positions * FLIP, right.positions, atol=1e-5)
    assert np.allclose(np.linalg.norm(right.quat_xyzw, axis=-1), 1.0, atol=1e-6)
    assert right.attention.shape == (2, tracker.window)
    assert np.allclose(right.attention.sum(-1), 1.0, atol=1e-5)


def test_without_a_correction_the_published_skeleton_is_the_detection(frames):
    """Closed-form IK (an untrained model) on the detection's bones, placed on its own rays."""
    tracker = HandTracker(device='cpu', model=build_model('baseline'))
    for i, xyz in enumerate(frames[:5]):
        (estimate,) = tracker.update(i / 30, [hand('right', xyz)]).estimates
        if i == 0:  # the first frame's bones are that frame's; later ones are averaged
            assert np.abs(estimate.positions - xyz).max() < 1e-4
    assert np.allclose(joint_positions(estimate.quat_xyzw, estimate.offsets),
                       estimate.positions, atol=1e-6)


def test_the_skeleton_sits_on_the_rays_of_the_2d_landmarks(frames):
    """Wherever MediaPipe put the 3D hand, the published one is where the 2D landmarks see it."""
    tracker = HandTracker(device='cpu', model=build_model('baseline'))
    xyz = frames[0]
    rays = xyz[:, :2] / xyz[:, 2:]
    misplaced = xyz + np.array([0.01, 0.0, 0.08], np.float32)  # 8 cm too deep, 1 cm aside
    (estimate,) = tracker.update(0.0, [hand('right', misplaced, rays)]).estimates
    assert np.abs(estimate.positions - xyz).max() < 1e-4


def test_bones_are_a_running_mean_that_keeps_following_the_hand():
    bones = BoneEstimate(time_constant=1.0, outlier=0.5)
    palm = np.zeros((21, 3))
    lengths = np.linalg.norm(sk.REST_OFFSETS, axis=-1)
    for value in (1.0, 1.1, 0.9):  # the first frames: their mean
        bones.update(lengths * value, palm, 1 / 30)
    assert np.allclose(bones.lengths[1:], lengths[1:] * np.exp(np.log([1.0, 1.1, 0.9]).mean()))
    for _ in range(300):  # 10 s of a hand 20 % larger: never frozen
        bones.update(lengths * 1.2, palm, 1 / 30)
    assert np.allclose(bones.lengths[1:], lengths[1:] * 1.2, rtol=1e-3)
    before = bones.lengths.copy()
    bones.update(lengths * 3.0, palm, 1 / 30)  # an outlying frame moves it little
    assert np.all(bones.lengths[1:] / before[1:] < 1.02)


def test_the_published_bones_follow_a_hand_that_is_larger_than_it_first_looked(frames):
    tracker = HandTracker(device='cpu', model=build_model('baseline'), bone_time_constant=1.0)
    first = None
    for i in range(120):
        xyz = frames[i % 2]
        if i >= 30:  # from the second second on, the hand is seen 10 % larger
            xyz = xyz[:1] + 1.1 * (xyz - xyz[:1])
        (estimate,) = tracker.update(i / 30, [hand('right', xyz)]).estimates
        first = np.linalg.norm(estimate.offsets[1:], axis=-1) if i == 0 else first
    last = np.linalg.norm(estimate.offsets[1:], axis=-1)
    assert np.allclose(last / first, 1.1, rtol=0.01)


def test_tracks_restart_when_lost_or_when_stamps_go_back(frames):
    tracker = HandTracker(device='cpu', reset_after=0.5)
    for i in range(10):
        out = tracker.update(i / 30, [hand('right', frames[i])])
    assert out.estimates[0].window_fill == min(10, tracker.window)
    assert tracker.update(2.0, []).lost == ['right']
    out = tracker.update(2.1, [hand('right', frames[10])])
    assert out.resets == {'right': 'new track'} and out.estimates[0].window_fill == 1
    tracker.update(2.2, [hand('right', frames[11])])
    out = tracker.update(1.0, [hand('right', frames[12])])
    assert 'backwards' in out.resets['right'] and out.estimates[0].window_fill == 1


def test_a_wrist_jump_restarts_the_track(frames):
    """keypoint_node's placement moves when real intrinsics replace its first guess."""
    tracker = HandTracker(device='cpu')
    for i in range(10):
        tracker.update(i / 30, [hand('right', frames[i])])
    moved = frames[10] + np.array([0.0, 0.0, 0.6], dtype=np.float32)
    out = tracker.update(10 / 30, [hand('right', moved)])
    assert 'jumped 0.6' in out.resets['right'] and out.estimates[0].window_fill == 1
    out = tracker.update(11 / 30, [hand('right', frames[11] + [0.05, 0.0, 0.6])])
    assert not out.resets  # 5 cm in a frame is a fast hand, not a jump


@pytest.mark.parametrize('broken, message', [
    (lambda x: np.where(np.arange(21)[:, None] == 7, np.nan, x), 'non-finite'),
    (lambda x: np.zeros_like(x) + [0.0, 0.0, 0.5], 'degenerate'),          # all one point
    (lambda x: x * 1e6, 'palm'),                                           # a hand of kilometres
    (lambda x: x - [0.0, 0.0, 1.0], 'in front of the camera'),             # behind the camera
])
def test_keypoints_no_hand_can_have_are_refused_and_do_not_poison_the_track(frames, broken,
                                                                            message):
    tracker = HandTracker(device='cpu')
    with pytest.raises(ValueError, match=message):
        tracker.update(0.0, [hand('right', broken(frames[0]))])
    for i in range(1, 5):  # the next good frames are all answered
        (estimate,) = tracker.update(i / 30, [hand('right', frames[i])]).estimates
        assert np.isfinite(estimate.positions).all()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match='device'):
        HandTracker(device='tpu')
    with pytest.raises(ValueError, match='bone_time_constant'):
        HandTracker(device='cpu', bone_time_constant=0.0)
