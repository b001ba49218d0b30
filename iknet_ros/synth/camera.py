"""Pinhole cameras for synthetic hands: random cameras, projection, the detector's placement.

Real input comes from webcams, phones and head-mounted cameras of many image sizes and fields of
view, and often without calibration: then keypoint_node places the hand with video_source's
pinhole guess (``detect.video.guess_intrinsics``), not the true intrinsics. A synthetic sequence
therefore carries both: the true camera that made the image and the one the detector used.
"""
from dataclasses import dataclass

import numpy as np
import torch

from iknet_ros.detect.video import guess_intrinsics

# (width, height) of the images real hands come in: webcams, a square crop, phones upright
IMAGE_SIZES = ((640, 480), (1280, 720), (720, 720), (720, 1280), (544, 960))
FOV_RANGE_DEG = (45.0, 90.0)          # horizontal field of view of the true camera
PRINCIPAL_POINT_SD = 0.02             # of the image size: principal points sit near the centre
GUESSED_FRACTION = 0.5                # sequences whose detector only has the pinhole guess

# the demo's and the benchmark's fixed virtual camera
SYNTHETIC_SIZE = (640, 480)
SYNTHETIC_FX = 600.0


@dataclass
class Cameras:
    """One pinhole camera per sequence."""

    K: torch.Tensor            # (B, 3, 3) float64, true intrinsics (px) of the image
    detector_K: torch.Tensor   # (B, 3, 3) float64, what the detector places with: K, or the guess
    image_size: torch.Tensor   # (B, 2) int64, (width, height) px
    guessed: torch.Tensor      # (B,) bool, detector_K is video_source's guess, not K


def intrinsics_matrix(fx, fy, cx, cy) -> np.ndarray:
    """(...) focal lengths and principal points -> (..., 3, 3) camera matrices."""
    fx, fy, cx, cy = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                           for v in (fx, fy, cx, cy)))
    k = np.zeros(fx.shape + (3, 3))
    k[..., 0, 0], k[..., 1, 1], k[..., 0, 2], k[..., 1, 2], k[..., 2, 2] = fx, fy, cx, cy, 1.0
    return k


def sample_cameras(rng: np.random.Generator, count: int,
                   guessed_fraction: float = GUESSED_FRACTION) -> Cameras:
    """`count` random cameras: an image size, a field of view, a principal point near the centre.

    Pixels are square (fx = fy); a "guessed" camera's detector gets ``guess_intrinsics`` of the
    image size (65 deg field of view, centred) whatever the true camera is.
    """
    size = np.array(IMAGE_SIZES)[rng.integers(0, len(IMAGE_SIZES), size=count)]   # (B, 2)
    fov = np.radians(rng.uniform(*FOV_RANGE_DEG, size=count))
    fx = size[:, 0] / 2.0 / np.tan(fov / 2.0)
    centre = size / 2.0 * (1.0 + rng.normal(0.0, 2 * PRINCIPAL_POINT_SD, size=(count, 2)))
    k = intrinsics_matrix(fx, fx, centre[:, 0], centre[:, 1])
    guessed = rng.random(count) < guessed_fraction
    guess = np.stack([guess_intrinsics(int(w), int(h)).matrix for w, h in size])
    detector_k = np.where(guessed[:, None, None], guess, k)
    return Cameras(torch.as_tensor(k), torch.as_tensor(detector_k), torch.as_tensor(size),
                   torch.as_tensor(guessed))


def project(points, k) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels; `k` (..., 3, 3) broadcasts with them."""
    points, k = np.asarray(points, dtype=float), np.asarray(k, dtype=float)
    focal = np.stack([k[..., 0, 0], k[..., 1, 1]], axis=-1)
    centre = np.stack([k[..., 0, 2], k[..., 1, 2]], axis=-1)
    return points[..., :2] / points[..., 2:] * focal + centre


def in_image(uv, image_size) -> np.ndarray:
    """(..., 2) pixels -> (...) bool: inside an image of (..., 2) (width, height) px."""
    uv, size = np.asarray(uv), np.asarray(image_size)
    return ((uv >= 0.0) & (uv < size)).all(axis=-1)


def place_in_camera(world, uv, k) -> tuple:
    """The detector's placement (``detect.detector.place_in_camera``), vectorised.

    world (..., 21, 3) hand-centred metric landmarks, uv (..., 21, 2) px, k (..., 3, 3).
    Returns (xyz (..., 21, 3) = world + t with t the least-squares translation that reprojects
    best onto uv, ok (...) bool: the detector's own test that t is finite and in front).
    Solved from the 3x3 normal equations of the detector's linear system.
    """
    world, uv, k = (np.asarray(a, dtype=np.float64) for a in (world, uv, k))
    fx, fy, cx, cy = (k[..., None, 0, 0], k[..., None, 1, 1], k[..., None, 0, 2],
                      k[..., None, 1, 2])                                   # (..., 1)
    du, dv = uv[..., 0] - cx, uv[..., 1] - cy                               # (..., 21)
    n = world.shape[-2]
    # rows (fx, 0, -du) t = du Z - fx X and (0, fy, -dv) t = dv Z - fy Y, one pair per joint
    bu = du * world[..., 2] - fx * world[..., 0]
    bv = dv * world[..., 2] - fy * world[..., 1]
    ata = np.zeros(du.shape[:-1] + (3, 3))
    ata[..., 0, 0] = n * fx[..., 0] ** 2
    ata[..., 1, 1] = n * fy[..., 0] ** 2
    ata[..., 0, 2] = ata[..., 2, 0] = -fx[..., 0] * du.sum(-1)
    ata[..., 1, 2] = ata[..., 2, 1] = -fy[..., 0] * dv.sum(-1)
    ata[..., 2, 2] = (du * du + dv * dv).sum(-1)
    atb = np.stack([fx[..., 0] * bu.sum(-1), fy[..., 0] * bv.sum(-1),
                    -(du * bu + dv * bv).sum(-1)], axis=-1)                # (..., 3)
    with np.errstate(all='ignore'):
        t = np.linalg.solve(ata, atb[..., None])[..., 0]
    ok = np.isfinite(t).all(-1) & (t[..., 2] + world[..., 2].min(-1) > 0.0)
    return world + t[..., None, :], ok


def synthetic_hands(frames: int, seed: int = 0):
    """Generated right-hand motion with `realistic` MediaPipe errors, seen by a fixed webcam.

    The hand is placed (by `generate_motion`) in front of the demo's 640x480 camera. Returns
    keypoints (F, 21, 3) metres as keypoint_node publishes them, their pixels (F, 21, 2), their
    rays (F, 21, 2: normalised image coordinates) and the camera's 3x3 matrix.
    """
    from iknet_ros.synth.mediapipe_model import observe_mediapipe
    from iknet_ros.synth.motion import generate_motion

    width, height = SYNTHETIC_SIZE
    k = intrinsics_matrix(SYNTHETIC_FX, SYNTHETIC_FX, width / 2.0, height / 2.0)
    camera = Cameras(torch.as_tensor(k[None]), torch.as_tensor(k[None]),
                     torch.tensor([[width, height]]), torch.tensor([False]))
    motion = generate_motion(1, frames, seed, camera=camera, left_fraction=0.0)
    seen = observe_mediapipe(motion, 'realistic', seed)
    uv = seen.uv[0].numpy()
    rays = (uv - k[[0, 1], [2, 2]]) / k[[0, 1], [0, 1]]
    return seen.xyz[0].numpy(), uv, rays.astype(np.float32), k
