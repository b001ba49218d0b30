"""MediaPipe Hands in video (tracking) mode: RGB frames in, metric 3D + pixel keypoints out.

One code path, the Tasks API ``HandLandmarker`` in VIDEO mode, serves both the models bundled in
the ``mediapipe==0.10.21`` wheel (packed in memory into a ``.task`` zip) and a user's
``hand_landmarker.task``.

Handedness. MediaPipe documents its labels as assuming a mirrored (selfie) image, but which
label comes out depends on the model path:

* the bundled legacy ``.tflite`` files run through the Tasks API label a real right hand filmed
  by an unmirrored camera "Right", with right-hand geometry (test_detector checks it on the
  shared real video): their label is the true side of an *unmirrored* image.
* Google's official ``hand_landmarker.task``: its own tests expect "Left" for an unmirrored
  right hand, so its label is the true side of a *mirrored* image (the documented convention).

A user's ``.task`` whose landmark model is byte-identical to a bundled legacy model follows the
legacy convention; any other ``.task`` the official one. ``mirrored`` then says whether the
images are selfie views, and the reported side is always the true one.

Metric placement. MediaPipe's world landmarks are metric, hand-centred and rotated like the
camera. With intrinsics the hand is moved, unrotated, to the translation that best reprojects
them onto their pixels (linear least squares). A full PnP (rotation too) reprojects better but
adds a per-frame rotation that makes the wrist jitter more and leans on guessed intrinsics;
translation-only keeps MediaPipe's hand shape and orientation exactly, so the IK sees the same
hand with or without intrinsics.
"""
import hashlib
import io
import os
import zipfile
from functools import lru_cache
from pathlib import Path

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core.base_options import BaseOptions

from iknet_ros.hand.keypoints import HandKeypoints, Intrinsics

_MP_DIR = Path(mp.__file__).parent
BUNDLED_DETECTOR = _MP_DIR / 'modules' / 'palm_detection' / 'palm_detection_full.tflite'
BUNDLED_LANDMARKS = _MP_DIR / 'modules' / 'hand_landmark' / 'hand_landmark_full.tflite'
# landmark models whose labels name the true side of an unmirrored image (measured, see above)
_LEGACY_LANDMARK_MODELS = (BUNDLED_LANDMARKS,
                           _MP_DIR / 'modules' / 'hand_landmark' / 'hand_landmark_lite.tflite')
_TASK_LANDMARKS = 'hand_landmarks_detector.tflite'
_TASK_DETECTOR = 'hand_detector.tflite'


@lru_cache(maxsize=1)
def bundled_task() -> bytes:
    """Return a ``.task`` zip (bytes) of the palm and landmark models bundled in the wheel.

    Built in memory and cached per process: nothing is written to disk, so no stale or
    half-written cache file can exist.
    """
    for path in (BUNDLED_DETECTOR, BUNDLED_LANDMARKS):
        if not path.exists():
            raise FileNotFoundError(
                f'{path} is missing: the bundled hand models need mediapipe==0.10.21; '
                'give a hand_landmarker.task as model_path instead')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_STORED) as task:
        task.write(BUNDLED_DETECTOR, _TASK_DETECTOR)
        task.write(BUNDLED_LANDMARKS, _TASK_LANDMARKS)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _legacy_digests() -> frozenset:
    return frozenset(hashlib.sha256(p.read_bytes()).hexdigest()
                     for p in _LEGACY_LANDMARK_MODELS if p.exists())


def labels_assume_mirrored(task: bytes) -> bool:
    """Return whether a ``.task``'s handedness labels name the true side of a selfie image."""
    try:
        with zipfile.ZipFile(io.BytesIO(task)) as archive:
            names = set(archive.namelist())
            if not {_TASK_DETECTOR, _TASK_LANDMARKS} <= names:
                raise ValueError(f'a hand landmarker .task holds {_TASK_DETECTOR} and '
                                 f'{_TASK_LANDMARKS}; this one holds {sorted(names)}')
            landmarks = archive.read(_TASK_LANDMARKS)
    except zipfile.BadZipFile as error:
        raise ValueError(f'not a MediaPipe .task (zip) file: {error}') from error
    return hashlib.sha256(landmarks).hexdigest() not in _legacy_digests()


def load_task(model_path: str = '') -> bytes:
    """Return the bytes of the ``.task`` at ``model_path``, or of the bundled models if empty."""
    if not model_path:
        return bundled_task()
    path = Path(os.path.expanduser(model_path))
    if not path.is_file():
        raise FileNotFoundError(f'hand landmarker model not found: {path}')
    return path.read_bytes()


def place_in_camera(world: np.ndarray, uv: np.ndarray, camera: Intrinsics):
    """Return (21, 3) camera-frame points: ``world`` shifted to reproject best onto ``uv``.

    Solves the translation t of ``world + t`` in linear least squares from
    (u - cx)(Z + tz) = fx (X + tx), and the same in v; None when the solution is degenerate
    (not finite, or behind the camera). Non-finite or non-positive intrinsics and non-finite
    points raise ValueError first: LAPACK's least squares never returns on an infinity.
    """
    focal, centre = (camera.fx, camera.fy), (camera.cx, camera.cy)
    if not (np.all(np.isfinite(focal + centre)) and min(focal) > 0.0):
        raise ValueError(f'intrinsics must be finite with positive focal lengths, got {camera}')
    if not (np.all(np.isfinite(world)) and np.all(np.isfinite(uv))):
        raise ValueError('landmarks to place in the camera must be finite')
    du, dv = uv[:, 0] - camera.cx, uv[:, 1] - camera.cy
    n = len(world)
    a = np.zeros((2 * n, 3))
    a[:n, 0], a[:n, 2] = camera.fx, -du
    a[n:, 1], a[n:, 2] = camera.fy, -dv
    b = np.concatenate([du * world[:, 2] - camera.fx * world[:, 0],
                        dv * world[:, 2] - camera.fy * world[:, 1]])
    t = np.linalg.lstsq(a, b, rcond=None)[0]
    if not np.all(np.isfinite(t)) or t[2] + world[:, 2].min() <= 0.0:
        return None
    return world + t


SEARCH_EVERY = 10  # frames between looks for more hands while fewer than max_hands are tracked


class HandDetector:
    """MediaPipe HandLandmarker in VIDEO mode, returning ``HandKeypoints`` with the true side.

    VIDEO mode tracks hands between frames and needs strictly increasing timestamps (ms). They
    come from the image stamps; a stamp that does not increase (a bag loop, a republished frame)
    restarts the landmarkers instead of failing, counted in ``restarts``.

    Cost. A landmarker runs its palm detector on every frame in which it tracks fewer hands than
    its ``num_hands``: with ``max_hands`` 2 and one hand in view that doubles the time per
    frame. So the detector keeps one landmarker per hand count, runs
    the one for the hands it tracks now, and looks for more with the ``max_hands`` one every
    ``SEARCH_EVERY`` frames (a new hand shows up within a third of a second at 30 fps). A look
    that finds no new hand is answered by the tracking landmarker, so tracked hands do not jump.
    """

    def __init__(self, max_hands: int = 2, min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 mirrored: bool = False, model_path: str = ''):
        self._task = load_task(model_path)
        self.labels_mirrored = labels_assume_mirrored(self._task)
        self.mirrored = bool(mirrored)
        self.max_hands = int(max_hands)
        self._options = dict(min_hand_detection_confidence=float(min_detection_confidence),
                             min_hand_presence_confidence=float(min_presence_confidence),
                             min_tracking_confidence=float(min_tracking_confidence))
        self._landmarkers = {}  # num_hands -> HandLandmarker
        self._tracked = 0  # hands found in the last frame
        self._since_search = SEARCH_EVERY  # frames since the max_hands landmarker ran: look now
        self._last_ms = None
        self.restarts = 0
        self._open()  # a bad model fails here, not at a frame

    def _open(self):
        """Make one landmarker per hand count, all at once (making one stalls a detection)."""
        for num_hands in range(self.max_hands, 0, -1):
            options = vision.HandLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=self._task),
                running_mode=vision.RunningMode.VIDEO, num_hands=num_hands, **self._options)
            try:
                self._landmarkers[num_hands] = vision.HandLandmarker.create_from_options(options)
            except RuntimeError as error:
                raise ValueError(f'MediaPipe could not load the hand model: {error}') from error

    def _hands_to_look_for(self) -> int:
        """How many hands this frame's landmarker tracks (see the class docstring)."""
        if self._tracked >= self.max_hands or self._since_search + 1 >= SEARCH_EVERY:
            return self.max_hands
        return max(self._tracked, 1)

    def close(self):
        """Release the MediaPipe graphs (the detector restarts them on the next frame)."""
        for landmarker in self._landmarkers.values():
            landmarker.close()
        self._landmarkers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def true_side(self, label: str) -> str:
        """Map a MediaPipe handedness label to the true hand side for this model and camera."""
        side = label.lower()
        if self.labels_mirrored != self.mirrored:
            side = 'left' if side == 'right' else 'right'
        return side

    def detect(self, rgb: np.ndarray, stamp_ns: int, camera: Intrinsics | None = None,
               guessed: bool = False) -> list:
        """Return the hands in one (H, W, 3) uint8 RGB frame stamped ``stamp_ns``.

        With ``camera`` the points are in the camera optical frame, with their rays (``guessed``:
        whether those intrinsics are a guess); without, hand-centred (MediaPipe's world
        landmarks). With ``mirrored`` the x axis is flipped back so the points have the real
        hand's shape.
        """
        stamp_ms = int(stamp_ns) // 1_000_000
        if self._last_ms is not None and stamp_ms <= self._last_ms:
            self.restarts += 1
            self.close()
            self._tracked, self._since_search = 0, SEARCH_EVERY
        self._last_ms = stamp_ms
        num_hands = self._hands_to_look_for()
        self._since_search = 0 if num_hands == self.max_hands else self._since_search + 1
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if not self._landmarkers:  # closed, or restarted above
            self._open()
        result = self._landmarkers[num_hands].detect_for_video(image, stamp_ms)
        if num_hands > self._tracked > 0 and len(result.hand_landmarks) <= self._tracked:
            # the look found no new hand: answer with the landmarker that tracks these hands,
            # or they would jump to another landmarker's estimate every SEARCH_EVERY frames
            result = self._landmarkers[self._tracked].detect_for_video(image, stamp_ms)
        self._tracked = len(result.hand_landmarks)
        hands = []
        for handedness, world, normalized in zip(result.handedness, result.hand_world_landmarks,
                                                 result.hand_landmarks, strict=True):
            xyz = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float64)
            uv = np.array([(p.x * width, p.y * height) for p in normalized], dtype=np.float64)
            world, rays = xyz.copy(), None
            if camera is not None:
                xyz = place_in_camera(xyz, uv, camera)
                if xyz is None:
                    continue
                rays = camera.rays(uv)
            if self.mirrored:
                xyz[:, 0] = -xyz[:, 0]
                if rays is not None:
                    rays[:, 0] = -rays[:, 0]
            top = handedness[0]
            hands.append(HandKeypoints(side=self.true_side(top.category_name), xyz=xyz, uv=uv,
                                       score=top.score, rays=rays,
                                       guessed=guessed or camera is None, world=world))
        return hands
