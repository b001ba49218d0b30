"""A 3D reference for a calibrated camera pair, from MediaPipe's 2D landmarks of both views.

The reference is built offline, looking at the whole sequence (non-causal), so it is a
measuring stick and not a method. The 2D landmarks of the two cameras are undistorted and
triangulated; then one skeleton with bone lengths constant over the sequence is fitted to the
landmarks of both cameras (robust reprojection error) with a penalty on each joint's
acceleration (temporal smoothing). Its depth does not come from MediaPipe's monocular guess,
but its joints follow MediaPipe's 2D landmark convention and errors, and its residuals say how
far to trust it.
"""
from dataclasses import dataclass

import numpy as np
import torch

from iknet_ros.evaluation.metrics import project, triangulate, valid_frames
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import SIDES

SMOOTHING = 1.0      # weight of the acceleration penalty (px^2 per (px/frame^2)^2)
ROBUST_PX = 5.0      # reprojection errors beyond this count linearly (Huber), not squared
FIT_STEPS = 300      # L-BFGS iterations of the fit


@dataclass
class StereoReference:
    """Reference joints of one hand over a stereo sequence, in the calibration's world frame."""

    world: np.ndarray      # (F, 21, 3) calibration units; NaN where a camera saw no hand
    metres_per_unit: float
    sides: dict            # camera -> (F,) index in SIDES of the hand each camera saw (-1: none)
    residual: dict         # how well the reference fits the 2D landmarks (see `build_reference`)

    def in_camera(self, camera) -> np.ndarray:
        """(F, 21, 3) the reference in a StereoCamera's frame, in metres."""
        return camera.to_camera(self.world) * self.metres_per_unit


def most_confident_hand(detections) -> tuple:
    """Per frame the most confident hand of any side: (xyz, uv, side index (F,), -1 if none)."""
    best = np.argmax(np.where(detections.side >= 0, detections.score, -1.0), axis=1)  # (F,)
    frames = np.arange(detections.frames)
    side = detections.side[frames, best]
    return detections.xyz[frames, best], detections.uv[frames, best], side


def _project_torch(points: torch.Tensor, camera) -> torch.Tensor:
    """(..., 3) world points -> (..., 2) pixels of a StereoCamera, OpenCV's distortion model."""
    R, T, K = (torch.as_tensor(a, dtype=points.dtype) for a in (camera.R, camera.T, camera.K))
    d = np.zeros(5)
    d[:min(5, len(camera.D))] = camera.D[:5]
    k1, k2, p1, p2, k3 = d
    c = points @ R.T + T
    x, y = c[..., 0] / c[..., 2], c[..., 1] / c[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return torch.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], dim=-1)


def _chain(wrist: torch.Tensor, directions: torch.Tensor, lengths: torch.Tensor):
    """(n, 3) wrists, (n, 20, 3) bone directions, (20,) lengths -> (n, 21, 3) joints."""
    bones = torch.nn.functional.normalize(directions, dim=-1) * lengths[:, None]
    joints = [wrist]
    for j in range(1, sk.NUM_JOINTS):  # MediaPipe order: a parent always comes first
        joints.append(joints[sk.PARENTS[j]] + bones[:, j - 1])
    return torch.stack(joints, dim=1)


def fit_skeleton(start: np.ndarray, uv: list, cameras: list, px_per_unit: float,
                 frame_index: np.ndarray) -> np.ndarray:
    """(n, 21, 3) joints of constant bone lengths fitted to both cameras' (n, 21, 2) landmarks.

    start: the raw triangulation of the n frames both cameras saw, frame_index (n,) their
    frame numbers: the acceleration penalty acts on three consecutive frames only.
    px_per_unit turns world units into pixels so that both terms are in pixels.
    """
    x = torch.from_numpy(start)
    bones0 = x[:, 1:] - x[:, sk.PARENT_INDEX[1:]]                           # (n, 20, 3)
    wrist = x[:, 0].contiguous().requires_grad_(True)
    directions = bones0.contiguous().requires_grad_(True)
    log_lengths = bones0.norm(dim=-1).median(dim=0).values.log().requires_grad_(True)
    targets = [torch.from_numpy(p) for p in uv]
    optimiser = torch.optim.LBFGS([wrist, directions, log_lengths], max_iter=FIT_STEPS,
                                  line_search_fn='strong_wolfe')

    def loss():
        optimiser.zero_grad()
        joints = _chain(wrist, directions, log_lengths.exp())
        data = sum(torch.nn.functional.huber_loss(_project_torch(joints, c), t,
                                                  reduction='sum', delta=ROBUST_PX)
                   for c, t in zip(cameras, targets, strict=True))
        accel = joints[2:] - 2 * joints[1:-1] + joints[:-2]
        total = data + SMOOTHING * (accel * px_per_unit).square().sum(-1)[steady].sum()
        total.backward()
        return total

    steady = torch.from_numpy(frame_index[2:] - frame_index[:-2] == 2)  # (n - 2,)
    optimiser.step(loss)
    with torch.no_grad():
        return _chain(wrist, directions, log_lengths.exp()).numpy()


def build_reference(pair, detections: dict) -> StereoReference:
    """The reference of a StereoPair from each camera's Detections (the first two cameras).

    residual: mean reprojection error (px) onto both cameras' landmarks of the raw
    triangulation and of the reference; the raw triangulation's bone-length std over time
    (relative to the bone, and in mm); frames triangulated. The metres per calibration unit
    come from MediaPipe's metric bone lengths against the reference's.
    """
    names = list(pair.cameras)[:2]
    cameras = [pair.cameras[n] for n in names]
    hands = {n: most_confident_hand(detections[n]) for n in names}
    frames = min(detections[n].frames for n in names)
    uv = [hands[n][1][:frames] for n in names]                              # (F, 21, 2) each
    both = valid_frames(*uv)
    if both.sum() < 3:
        raise ValueError(f'stereo/{pair.name}: both cameras saw a hand in {both.sum()} frames; '
                         'a reference needs at least 3')
    raw = triangulate([p[both].reshape(-1, 2) for p in uv],
                      cameras).reshape(-1, sk.NUM_JOINTS, 3)                 # (n, 21, 3)
    depth = np.median(cameras[0].to_camera(raw)[..., 2])
    px_per_unit = cameras[0].K[0, 0] / depth
    fitted = fit_skeleton(raw, [p[both] for p in uv], cameras, px_per_unit,
                          np.flatnonzero(both))
    world = np.full((frames, sk.NUM_JOINTS, 3), np.nan)
    world[both] = fitted
    raw_bones = sk.bone_lengths(raw)                                           # (n, 20) units
    lengths = sk.bone_lengths(fitted[:1])[0]                                   # (20,)
    metric = np.concatenate([sk.bone_lengths(hands[n][0][:frames][both]) for n in names])
    metres_per_unit = float(np.median(metric.sum(-1)) / lengths.sum())

    def reprojection_px(points):
        errors = [np.linalg.norm(project(c.to_camera(points), c.K, c.D) - p[both], axis=-1)
                  for c, p in zip(cameras, uv, strict=True)]
        return float(np.mean(errors))

    raw_std = raw_bones.std(axis=0)                                         # (20,)
    residual = {
        'frames_triangulated': int(both.sum()),
        'reprojection_px_raw': reprojection_px(raw),
        'reprojection_px': reprojection_px(fitted),
        'raw_bone_std_rel': float(np.mean(raw_std / np.median(raw_bones, axis=0))),
        'raw_bone_std_mm': float(np.mean(raw_std) * metres_per_unit * 1000.0),
        'metres_per_unit': metres_per_unit,
    }
    sides = {n: np.where(both, hands[n][2][:frames], -1) for n in names}
    return StereoReference(world, metres_per_unit, sides, residual)


def reference_side_joints(output, sides: np.ndarray) -> np.ndarray:
    """(F, 21, 3) a method's joints of the hand the reference follows in each frame."""
    joints = np.full((len(sides), sk.NUM_JOINTS, 3), np.nan)
    for index, side in enumerate(SIDES):
        here = sides == index
        joints[here] = output.positions[side][:len(sides)][here]
    return joints
