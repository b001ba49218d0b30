"""The MediaPipe detector core on the real right-hand video: side, metric placement, stamps."""
import io
import zipfile

import cv2
import numpy as np
import pytest
from conftest import REAL_VIDEO, require_real

from iknet_ros.detect.detector import (
    BUNDLED_DETECTOR,
    BUNDLED_LANDMARKS,
    SEARCH_EVERY,
    HandDetector,
    bundled_task,
    labels_assume_mirrored,
    place_in_camera,
)
from iknet_ros.detect.drawing import draw_landmarks
from iknet_ros.detect.video import VideoFrames
from iknet_ros.hand.keypoints import Intrinsics
from iknet_ros.hand.skeleton import JOINT_INDEX

WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = (JOINT_INDEX[n] for n in
                                           ('wrist', 'index_mcp', 'middle_mcp', 'pinky_mcp'))
CAMERA = Intrinsics(1000.0, 1000.0, 640.0, 360.0)  # a plausible guess for this 1280x720 video


@pytest.fixture(scope='module')
def frames():
    """Every 40th RGB frame of the real video (16 frames across all its poses)."""
    with VideoFrames(require_real(REAL_VIDEO)) as video:
        return [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for i, f in enumerate(video) if i % 40 == 0]


def chirality(xyz):
    """+1 for right-hand geometry, -1 for left: (distal x radial) points dorsally."""
    distal, radial = xyz[MIDDLE_MCP] - xyz[WRIST], xyz[INDEX_MCP] - xyz[PINKY_MCP]
    palm_to_camera_dorsal = np.cross(distal, radial)[2]  # this video: palm faces the camera
    return np.sign(palm_to_camera_dorsal)


def test_bundled_model_reports_the_true_right_hand(frames):
    with HandDetector(max_hands=2, mirrored=False) as detector:
        assert not detector.labels_mirrored  # legacy models: labels name the unmirrored side
        results = [detector.detect(rgb, i * 33_333_333) for i, rgb in enumerate(frames)]
    assert all(len(hands) == 1 for hands in results)
    assert {hands[0].side for hands in results} == {'right'}
    # the 3D shape agrees: a right hand (checked by geometry, independent of any label)
    assert np.mean([chirality(hands[0].xyz) for hands in results]) > 0.8
    for hands in results:
        xyz = hands[0].xyz
        assert 0.06 < np.linalg.norm(xyz[MIDDLE_MCP] - xyz[WRIST]) < 0.12
        assert np.abs(xyz.mean(axis=0)).max() < 0.05  # hand-centred without intrinsics
        assert 0.0 < hands[0].score <= 1.0


def test_two_hands_are_found_while_one_hand_is_tracked_cheaply(frames):
    """max_hands 2: the one-hand landmarker tracks a lone hand; a second one is still found.

    Each image is a frame beside a black half, then beside its mirror image (a left hand): the
    left hand must be found within SEARCH_EVERY frames of showing up, and kept from then on.
    """
    images = [np.ascontiguousarray(np.concatenate(
        [rgb, rgb[:, ::-1] if i >= 4 else np.zeros_like(rgb)], axis=1))
        for i, rgb in enumerate(frames)]
    with HandDetector(max_hands=2) as detector:
        sides, looked_for = [], []
        for i, image in enumerate(images):
            looked_for.append(detector._hands_to_look_for())
            sides.append(sorted(h.side for h in detector.detect(image, i * 33_333_333)))
        assert detector._landmarkers.keys() == {1, 2}
    assert 1 in looked_for[:4]  # the cheap landmarker ran while one hand was tracked
    assert sides[:4] == [['right']] * 4
    assert ['left', 'right'] in sides[4:4 + SEARCH_EVERY]
    first = sides.index(['left', 'right'])
    assert sides[first:] == [['left', 'right']] * (len(sides) - first)


def test_a_lone_hand_does_not_jump_when_the_detector_looks_for_more():
    """max_hands 2 with one hand in view answers as max_hands 1 does, look or no look.

    Their first frames differ (max_hands 2 starts with its two-hand landmarker); from then on a
    look for more hands that finds none must not move the tracked hand (it moved it by mm).
    """
    with VideoFrames(require_real(REAL_VIDEO)) as video:
        frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB)
                  for _, f in zip(range(3 * SEARCH_EVERY), video, strict=False)]
    with HandDetector(max_hands=1) as one, HandDetector(max_hands=2) as two:
        for i, rgb in enumerate(frames):
            (a,), (b,) = one.detect(rgb, i * 33_333_333), two.detect(rgb, i * 33_333_333)
            if i >= 5:
                assert np.abs(a.xyz - b.xyz).max() < 1e-3, f'frame {i}'  # m


def test_mirrored_camera_still_reports_right_with_right_hand_shape(frames):
    with HandDetector(mirrored=True) as detector:
        results = [detector.detect(np.ascontiguousarray(rgb[:, ::-1]), i * 33_333_333)
                   for i, rgb in enumerate(frames[:6])]
    assert {hands[0].side for hands in results} == {'right'}
    assert np.mean([chirality(hands[0].xyz) for hands in results]) > 0.6


def test_intrinsics_place_the_hand_in_the_camera_frame(frames):
    with HandDetector() as detector:
        for i, rgb in enumerate(frames):
            (hand,) = detector.detect(rgb, i * 33_333_333, CAMERA)
            assert 0.3 < hand.xyz[WRIST, 2] < 1.0  # a hand at arm's length
            projected = hand.xyz[:, :2] / hand.xyz[:, 2:] * 1000.0 + (640.0, 360.0)
            assert np.abs(projected - hand.uv).mean() < 10.0  # lands on its own pixels
            assert 0.06 < np.linalg.norm(hand.xyz[MIDDLE_MCP] - hand.xyz[WRIST]) < 0.12


def test_placement_refuses_unusable_intrinsics_and_points_before_solving():
    """An infinity reaching LAPACK's least squares never returns: refused before it."""
    world = np.random.default_rng(0).normal(0.0, 0.03, (21, 3))
    uv = [640.0, 360.0] + 1000.0 * world[:, :2] / (world[:, 2:] + 0.5)  # seen 0.5 m away
    placed = place_in_camera(world, uv, CAMERA)
    np.testing.assert_allclose(placed - world, np.tile(placed[0] - world[0], (21, 1)), atol=1e-9)
    assert 0.4 < placed[0, 2] < 0.6
    inf, nan = float('inf'), float('nan')
    for camera in (Intrinsics(inf, inf, 640.0, 360.0), Intrinsics(1000.0, 1000.0, nan, 360.0),
                   Intrinsics(0.0, 0.0, 640.0, 360.0), Intrinsics(-1000.0, 1000.0, 640.0, 360.0)):
        with pytest.raises(ValueError, match='intrinsics must be finite with positive focal'):
            place_in_camera(world, uv, camera)
    bad = uv.copy()
    bad[3, 0] = inf
    with pytest.raises(ValueError, match='must be finite'):
        place_in_camera(world, bad, CAMERA)
    with pytest.raises(ValueError, match='must be finite'):
        place_in_camera(np.full((21, 3), nan), uv, CAMERA)


def test_stamps_going_back_restart_tracking_instead_of_failing(frames):
    with HandDetector() as detector:
        first = detector.detect(frames[0], 5_000_000_000)
        again = detector.detect(frames[0], 5_000_000_000)  # same stamp: a republished frame
        back = detector.detect(frames[0], 1_000_000_000)  # a bag loop
        assert detector.restarts == 2
    # a fresh landmarker on the same image gives the same answer
    np.testing.assert_array_equal(first[0].uv, again[0].uv)
    np.testing.assert_array_equal(first[0].uv, back[0].uv)


def test_user_task_file_uses_the_same_path(frames, tmp_path):
    path = tmp_path / 'hand_landmarker.task'
    path.write_bytes(bundled_task())
    with HandDetector(model_path=str(path)) as detector:
        assert not detector.labels_mirrored  # a repack of the legacy models keeps their labels
        (hand,) = detector.detect(frames[0], 0)
    assert hand.side == 'right'


def test_label_convention_is_decided_by_the_landmark_model():
    def task(landmarks: bytes) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, 'w') as archive:
            archive.writestr('hand_detector.tflite', BUNDLED_DETECTOR.read_bytes())
            archive.writestr('hand_landmarks_detector.tflite', landmarks)
        return buffer.getvalue()

    assert not labels_assume_mirrored(task(BUNDLED_LANDMARKS.read_bytes()))
    assert labels_assume_mirrored(task(b'any other model, e.g. Google\'s official one'))
    with pytest.raises(ValueError, match='holds hand_detector.tflite and'):
        labels_assume_mirrored(b'PK\x05\x06' + b'\0' * 18)  # an empty zip
    with pytest.raises(ValueError, match='not a MediaPipe .task'):
        labels_assume_mirrored(b'not a zip')


def test_missing_or_bad_model_path_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match='hand landmarker model not found'):
        HandDetector(model_path=str(tmp_path / 'nope.task'))
    bad = tmp_path / 'bad.task'
    bad.write_bytes(b'not a model')
    with pytest.raises(ValueError, match='not a MediaPipe .task'):
        HandDetector(model_path=str(bad))


def test_draw_landmarks_draws_on_a_copy(frames):
    with HandDetector() as detector:
        hands = detector.detect(frames[0], 0)
    drawn = draw_landmarks(frames[0], hands)
    assert drawn.shape == frames[0].shape and drawn.dtype == np.uint8
    assert (drawn != frames[0]).any(axis=2).sum() > 500
    assert draw_landmarks(frames[0], []).tobytes() == frames[0].tobytes()
