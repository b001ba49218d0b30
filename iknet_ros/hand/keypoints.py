"""Keypoint types passed between the detector, the nodes and the tracker (no MediaPipe or rclpy)."""
from dataclasses import dataclass

import numpy as np

from iknet_ros.hand.skeleton import NUM_JOINTS

SIDES = ('left', 'right')


@dataclass
class HandKeypoints:
    """One detected hand: 21 joints in MediaPipe order (see ``hand.skeleton.JOINT_NAMES``).

    ``xyz`` is metric: in the camera optical frame when the detector had intrinsics, otherwise
    relative to the hand's centre (MediaPipe world landmarks). ``uv`` are pixels of the image as
    received. ``side`` is the true hand side, already corrected for MediaPipe's label convention.
    """

    side: str
    xyz: np.ndarray  # (21, 3) float32, metres
    uv: np.ndarray  # (21, 2) float32, pixels
    score: float

    def __post_init__(self):
        if self.side not in SIDES:
            raise ValueError(f"hand side must be 'left' or 'right', got {self.side!r}")
        self.xyz = np.asarray(self.xyz, dtype=np.float32).reshape(NUM_JOINTS, 3)
        self.uv = np.asarray(self.uv, dtype=np.float32).reshape(NUM_JOINTS, 2)
        self.score = float(self.score)


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


def best_per_side(hands) -> dict:
    """{side: hand} keeping the most confident hand of each side (one track per side)."""
    best = {}
    for hand in hands:
        if hand.side not in best or hand.score > best[hand.side].score:
            best[hand.side] = hand
    return best
