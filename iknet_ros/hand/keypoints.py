"""Keypoint types passed between the detector, the nodes and the tracker (no MediaPipe or rclpy)."""
from dataclasses import dataclass

import numpy as np

from iknet_ros.hand.skeleton import NUM_JOINTS

SIDES = ('left', 'right')


@dataclass
class HandKeypoints:
    """One detected hand: 21 joints in MediaPipe order (see ``hand.skeleton.JOINT_NAMES``).

    ``xyz`` is metric, in the camera optical frame (MediaPipe's hand placed with the intrinsics).
    ``uv`` are pixels of the image as received, ``rays`` the same landmarks in normalised image
    coordinates ((u - cx) / fx, (v - cy) / fy), and ``guessed`` says whether the intrinsics behind
    both are a guess (no calibration). Without ``rays`` the projection of ``xyz`` stands in,
    flagged as a guess. ``side`` is the true hand side, corrected for MediaPipe's labels.
    """

    side: str
    xyz: np.ndarray  # (21, 3) float32, metres
    uv: np.ndarray  # (21, 2) float32, pixels
    score: float
    rays: np.ndarray = None  # (21, 2) float32, normalised image coordinates
    guessed: bool = True
    world: np.ndarray = None  # (21, 3) MediaPipe's hand-centred world landmarks, as detected

    def __post_init__(self):
        if self.side not in SIDES:
            raise ValueError(f"hand side must be 'left' or 'right', got {self.side!r}")
        self.xyz = np.asarray(self.xyz, dtype=np.float32).reshape(NUM_JOINTS, 3)
        self.uv = np.asarray(self.uv, dtype=np.float32).reshape(NUM_JOINTS, 2)
        self.score = float(self.score)
        if self.rays is None:
            self.rays = self.xyz[:, :2] / np.maximum(self.xyz[:, 2:], 1e-3)
            self.guessed = True
        self.rays = np.asarray(self.rays, dtype=np.float32).reshape(NUM_JOINTS, 2)
        self.guessed = bool(self.guessed)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (distortion ignored: hands are near the image centre)."""

    fx: float
    fy: float
    cx: float
    cy: float

    @property
    def matrix(self) -> np.ndarray:
        """Return the 3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def rays(self, uv) -> np.ndarray:
        """(..., 2) pixels -> (..., 2) normalised image coordinates."""
        uv = np.asarray(uv, dtype=np.float64)
        return (uv - [self.cx, self.cy]) / [self.fx, self.fy]


def best_per_side(hands) -> dict:
    """{side: hand} keeping the most confident hand of each side (one track per side)."""
    best = {}
    for hand in hands:
        if hand.side not in best or hand.score > best[hand.side].score:
            best[hand.side] = hand
    return best
