"""MediaPipe run once per input, as keypoint_node runs it, and cached on disk per input.

keypoint_node's path: ``HandDetector`` (VIDEO mode, its default settings) with the camera's
intrinsics, so the keypoints are in the camera frame. Every method of the real-data evaluation
starts from these same detections. A cache file (npz, no pickle) is keyed by the input files'
content hash, the detector settings, the MediaPipe version and model, the intrinsics and the
frame limit, so a second run re-runs only the methods.
"""
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import SIDES, HandKeypoints, Intrinsics

# keypoint_node's defaults (config/hand.yaml)
DETECTOR_SETTINGS = {'max_hands': 2, 'min_detection_confidence': 0.5,
                     'min_presence_confidence': 0.5, 'min_tracking_confidence': 0.5,
                     'mirrored': False, 'model_path': ''}
CACHE_FORMAT = 'iknet_ros/detections/3'
NO_HAND = -1  # side code of an empty hand slot; otherwise the index in keypoints.SIDES


@dataclass
class Detections:
    """Every hand MediaPipe found in each frame of one input (M slots per frame)."""

    stamps: np.ndarray      # (F,) seconds
    xyz: np.ndarray         # (F, M, 21, 3) metres, camera frame; NaN in empty slots
    world: np.ndarray       # (F, M, 21, 3) metres, MediaPipe's hand-centred world landmarks
    uv: np.ndarray          # (F, M, 21, 2) pixels; NaN in empty slots
    side: np.ndarray        # (F, M) int: index in SIDES, NO_HAND in empty slots
    score: np.ndarray       # (F, M) handedness score
    intrinsics: np.ndarray  # (F, 4) fx fy cx cy used to place the hands
    guessed: np.ndarray     # (F,) bool: those intrinsics are a guess (no calibration)

    @property
    def frames(self) -> int:
        """Frames in the input (with or without a hand)."""
        return len(self.stamps)

    def hands(self, frame: int) -> list:
        """The hands of one frame as keypoint_node publishes them (with their rays)."""
        camera = self.camera(frame)
        return [HandKeypoints(SIDES[s], self.xyz[frame, m], self.uv[frame, m],
                              self.score[frame, m], rays=camera.rays(self.uv[frame, m]),
                              guessed=bool(self.guessed[frame]))
                for m, s in enumerate(self.side[frame]) if s != NO_HAND]

    def camera(self, frame: int) -> Intrinsics:
        """The intrinsics of one frame."""
        return Intrinsics(*self.intrinsics[frame])

    def arrays(self) -> dict:
        """The fields as a dict of arrays (for np.savez)."""
        return {name: getattr(self, name) for name in
                ('stamps', 'xyz', 'world', 'uv', 'side', 'score', 'intrinsics', 'guessed')}


def detect_frames(frames, independent: bool, settings: dict = None, guessed: bool = False,
                  progress=None) -> Detections:
    """Run HandDetector over `frames`: (rgb (H, W, 3) uint8, stamp s, Intrinsics) tuples.

    `guessed`: the intrinsics are a guess (a video without calibration).

    `independent`: the frames are unrelated images, so each one is detected as the first frame
    of a video (the landmarkers restart), not tracked from the one before.
    """
    from iknet_ros.detect.detector import HandDetector  # MediaPipe: only when detecting

    settings = {**DETECTOR_SETTINGS, **(settings or {})}
    slots = settings['max_hands']
    stamps, xyz, world, uv, side, score, intrinsics = [], [], [], [], [], [], []
    with HandDetector(**settings) as detector:
        for rgb, stamp, camera in frames:
            if independent:
                detector.close()
            hands = detector.detect(rgb, int(round(stamp * 1e9)), camera)[:slots]
            xyz.append(np.full((slots, sk.NUM_JOINTS, 3), np.nan))
            world.append(np.full((slots, sk.NUM_JOINTS, 3), np.nan))
            uv.append(np.full((slots, sk.NUM_JOINTS, 2), np.nan))
            side.append(np.full(slots, NO_HAND))
            score.append(np.zeros(slots))
            for m, hand in enumerate(hands):
                xyz[-1][m], world[-1][m], uv[-1][m] = hand.xyz, hand.world, hand.uv
                side[-1][m], score[-1][m] = SIDES.index(hand.side), hand.score
            stamps.append(stamp)
            intrinsics.append((camera.fx, camera.fy, camera.cx, camera.cy))
            if progress is not None:
                progress.update()
    return Detections(np.asarray(stamps, dtype=np.float64), np.stack(xyz), np.stack(world),
                      np.stack(uv), np.stack(side), np.stack(score),
                      np.asarray(intrinsics, dtype=np.float64), np.full(len(stamps), guessed))


def content_hash(paths) -> str:
    """sha256 of the named files' bytes, in order (renaming a file keeps its hash)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as file:
            for block in iter(lambda: file.read(1 << 20), b''):
                digest.update(block)
    return digest.hexdigest()


def _model_digest(model_path: str) -> str:
    from iknet_ros.detect.detector import load_task

    return hashlib.sha256(load_task(model_path)).hexdigest()


def cache_key(paths, settings: dict, **details) -> str:
    """The cache key of detections of the files `paths` with `settings` and `details`."""
    import mediapipe

    identity = {'format': CACHE_FORMAT, 'content': content_hash(paths), 'settings': settings,
                'mediapipe': mediapipe.__version__,
                'model': _model_digest(settings['model_path']), **details}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def cached(cache_dir, name: str, key: str, compute) -> tuple:
    """(Detections, whether they came from the cache): `compute()` only on a cache miss.

    The file is written under a temporary name and renamed, so a run stopped half-way leaves
    no truncated cache behind.
    """
    path = None
    if cache_dir is not None:
        safe = ''.join(c if c.isalnum() or c in '-_' else '_' for c in name)
        path = Path(cache_dir).expanduser() / f'{safe}-{key[:24]}.npz'
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as npz:
                    return Detections(**{k: npz[k] for k in npz.files}), True
            except (OSError, ValueError, TypeError):
                pass  # unreadable or of another layout: detect again and overwrite
    detections = compute()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f'.{os.getpid()}.partial.npz')
        np.savez_compressed(partial, **detections.arrays())
        partial.replace(path)
    return detections, False


def detect_images(paths, K: np.ndarray, cache_dir=None, name: str = 'images',
                  extra_files=(), show_progress: bool = True) -> tuple:
    """(Detections, cached?) of independent images with (N, 3, 3) intrinsics `K`.

    `extra_files` (e.g. the ground-truth file holding K) join the content hash.
    """
    settings = dict(DETECTOR_SETTINGS)
    key = cache_key(list(extra_files) + list(paths), settings, frames=len(paths),
                    K=np.round(K, 6).tolist())

    def compute():
        cameras = [Intrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2]) for k in K]
        frames = ((cv2.cvtColor(_read_image(p), cv2.COLOR_BGR2RGB), float(i), camera)
                  for i, (p, camera) in enumerate(zip(paths, cameras, strict=True)))
        with tqdm(total=len(paths), desc=f'MediaPipe {name}', unit='frame',
                  disable=not show_progress, leave=False) as bar:
            return detect_frames(frames, independent=True, settings=settings, progress=bar)

    return cached(cache_dir, name, key, compute)


def _read_image(path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise OSError(f'cannot read image {path}')
    return image


def detect_video(path, camera: Intrinsics = None, limit: int = None, cache_dir=None,
                 name: str = None, show_progress: bool = True) -> tuple:
    """(Detections, cached?) of a video's first `limit` frames (all: None), stamped i / fps.

    Without `camera` the intrinsics are video_source's pinhole guess (`guess_intrinsics`),
    flagged as a guess.
    """
    from iknet_ros.detect.video import VideoFrames, guess_intrinsics

    settings = dict(DETECTOR_SETTINGS)
    name = name or Path(path).stem
    with VideoFrames(path) as video:
        fps, (width, height) = video.fps, video.size
        total = video.frame_count
    guessed = camera is None
    camera = camera or guess_intrinsics(width, height)
    key = cache_key([path], settings, limit=limit, fps=fps,
                    camera=[camera.fx, camera.fy, camera.cx, camera.cy])

    def compute():
        count = min(filter(None, (total, limit)), default=None)
        with VideoFrames(path) as video, tqdm(total=count, desc=f'MediaPipe {name}',
                                              unit='frame', disable=not show_progress,
                                              leave=False) as bar:
            frames = ((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / fps, camera)
                      for i, bgr in itertools.islice(enumerate(video), limit))
            return detect_frames(frames, independent=False, settings=settings,
                                 guessed=guessed, progress=bar)

    return cached(cache_dir, name, key, compute)
