"""A virtual pinhole camera for synthetic hands: pixels of generated motion.

The demo's synthetic source and the benchmark publish these as keypoint_node would.
"""
import numpy as np

SYNTHETIC_SIZE = (640, 480)   # pixels of the virtual camera
SYNTHETIC_FX = 600.0


def project(points, k) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels with the 3x3 intrinsics `k`."""
    points, k = np.asarray(points, dtype=float), np.asarray(k, dtype=float)
    return points[..., :2] / points[..., 2:] * k[[0, 1], [0, 1]] + k[[0, 1], [2, 2]]


def synthetic_hands(frames: int, seed: int = 0):
    """Generated right-hand motion with `realistic` detector noise, seen by a camera aimed at it.

    Returns keypoints (F, 21, 3) metres, their pixels (F, 21, 2), their rays (F, 21, 2:
    normalised image coordinates) and the camera's 3x3 matrix.
    """
    from iknet_ros.synth.motion import generate_motion
    from iknet_ros.synth.observation import observe

    motion = generate_motion(1, frames, seed)
    xyz = observe(motion.positions, 'realistic', seed).keypoints[0].numpy()   # (F, 21, 3)
    width, height = SYNTHETIC_SIZE
    centre = np.array([width / 2, height / 2]) - SYNTHETIC_FX * np.mean(
        xyz[..., :2] / xyz[..., 2:], axis=(0, 1))                              # principal point
    k = np.array([[SYNTHETIC_FX, 0, centre[0]], [0, SYNTHETIC_FX, centre[1]], [0, 0, 1]])
    uv = project(xyz, k)
    rays = (uv - k[[0, 1], [2, 2]]) / k[[0, 1], [0, 1]]
    return xyz.astype(np.float32), uv.astype(np.float32), rays.astype(np.float32), k
