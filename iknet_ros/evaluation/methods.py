"""The methods compared on real hands, all run from the same detections.

* ``mediapipe``: the keypoints as keypoint_node publishes them.
* ``one_euro``: those keypoints through a One Euro filter at the setting ``tune_one_euro``
  picks on synthetic training seeds (not on the real data).
* ``mediapipe_offsets``: the keypoints plus a constant per-joint offset in MediaPipe's own hand
  frame, scaled by its palm length, fitted on real ground truth: the closed-form calibration a
  learned model has to beat.
* ``ik``: the tracker (iknet_node's code path) with the network replaced by its zero
  correction, i.e. closed-form swing IK of MediaPipe's keypoints on the track's bones, placed
  on the 2D landmarks.
* ``baseline``, ``sequence``: the tracker with each shipped IKNet, as iknet_node publishes it.
* ``sequence_raw``: the sequence IKNet's own skeleton of each frame (its bones of that frame,
  not the track's average), placed the same way.

Each method gives, per hand side, camera-frame joints per frame; the tracker methods also their
local rotations (the others get closed-form swing IK of their joints where angles are needed).
"""
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from iknet_ros.evaluation import REAL_METHODS
from iknet_ros.evaluation.metrics import swing_rotations
from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import SIDES, best_per_side
from iknet_ros.tracking.one_euro import OneEuroFilter

METHODS = REAL_METHODS
TRACKER_METHODS = ('ik', 'baseline', 'sequence', 'sequence_raw')
_MIDDLE_MCP = sk.JOINT_INDEX['middle_mcp']


def mirror(side: str) -> np.ndarray:
    """The reflection into the right-hand convention (and back) for a hand side."""
    return sk.MIRROR if side == 'left' else np.eye(3)


@dataclass
class MethodOutput:
    """One method over one input: per hand side, joints (and rotations) of every frame."""

    positions: dict                                # side -> (F, 21, 3) m, camera frame; NaN
    local_rot: dict = field(default_factory=dict)  # side -> (F, 21, 3, 3), right-hand
                                                   # convention; absent: position-only

    def rotations(self, side: str) -> np.ndarray:
        """(F, 21, 3, 3) right-hand local rotations: the method's, or swing IK of its joints."""
        if side in self.local_rot:
            return self.local_rot[side]
        return swing_rotations(self.positions[side] @ mirror(side).T)

    def take(self, frames: np.ndarray) -> 'MethodOutput':
        """The output at the given frame indices only."""
        return MethodOutput({s: p[frames] for s, p in self.positions.items()},
                            {s: r[frames] for s, r in self.local_rot.items()})


def _empty(frames: int, *shape) -> np.ndarray:
    return np.full((frames,) + shape, np.nan)


def detected_by_side(detections) -> dict:
    """side -> (xyz (F, 21, 3), uv (F, 21, 2)): the most confident hand of that side per frame."""
    out = {side: (_empty(detections.frames, sk.NUM_JOINTS, 3),
                  _empty(detections.frames, sk.NUM_JOINTS, 2)) for side in SIDES}
    for f in range(detections.frames):
        for side, hand in best_per_side(detections.hands(f)).items():
            out[side][0][f], out[side][1][f] = hand.xyz, hand.uv
    return out


def mediapipe(detections) -> MethodOutput:
    """The detected keypoints themselves."""
    return MethodOutput({side: xyz for side, (xyz, _) in detected_by_side(detections).items()})


def one_euro(detections, min_cutoff: float, beta: float, reset_after: float = 0.5,
             fps: float = 30.0) -> MethodOutput:
    """The keypoints through a One Euro filter per hand side, restarted after a gap.

    A side missing longer than `reset_after` seconds (the tracker's default) starts a new
    filter, as a new track would.
    """
    positions = {}
    for side, (xyz, _) in detected_by_side(detections).items():
        out, filt, last = _empty(detections.frames, sk.NUM_JOINTS, 3), None, None
        for f in np.flatnonzero(np.isfinite(xyz).all(axis=(1, 2))):
            stamp = detections.stamps[f]
            if filt is None or not 0 < stamp - last <= reset_after:
                filt, dt = OneEuroFilter(fps, min_cutoff, beta), None
            else:
                dt = stamp - last
            out[f], last = filt(xyz[f], dt), stamp
        positions[side] = out
    return MethodOutput(positions)


def hand_frame(joints: np.ndarray) -> tuple:
    """(..., 21, 3) right-hand joints -> (frame (..., 3, 3), palm length (...)).

    The frame is ``kinematics.wrist_frame`` (x wrist -> middle MCP, y pinky MCP -> index MCP
    made orthogonal, z = x cross y, up to a constant rotation); the palm length is the
    wrist -> middle MCP distance.
    """
    frame = kin.wrist_frame(torch.as_tensor(joints, dtype=torch.float64)).numpy()
    palm = np.linalg.norm(joints[..., _MIDDLE_MCP, :] - joints[..., sk.ROOT, :], axis=-1)
    return frame, palm


def fit_offsets(keypoints: np.ndarray, sides, truth: np.ndarray) -> np.ndarray:
    """(21, 3) the mean offset truth - keypoints in the keypoints' hand frame, per palm length.

    keypoints, truth: (N, 21, 3) camera frame; sides: (N,) the detected side of each (left
    hands are mirrored into the right-hand convention). The mean is the least-squares constant.
    """
    m = np.stack([mirror(s) for s in sides])                               # (N, 3, 3)
    right_kp, right_truth = keypoints @ m, truth @ m                       # (N, 21, 3)
    frame, palm = hand_frame(right_kp)
    local = (right_truth - right_kp) @ frame / palm[:, None, None]         # (N, 21, 3)
    return local.mean(axis=0)


def apply_offsets(keypoints: np.ndarray, side: str, offsets: np.ndarray) -> np.ndarray:
    """(F, 21, 3) keypoints of one side moved by (21, 3) or (F, 21, 3) fitted offsets."""
    m = mirror(side)
    right = keypoints @ m
    frame, palm = hand_frame(right)
    moved = right + palm[:, None, None] * (offsets @ np.swapaxes(frame, -1, -2))
    return moved @ m


def mediapipe_offsets(keypoints: MethodOutput, offsets: np.ndarray) -> MethodOutput:
    """MediaPipe's keypoints (`keypoints`, the mediapipe output) moved by the fitted offsets."""
    return MethodOutput({side: apply_offsets(xyz, side, offsets)
                         for side, xyz in keypoints.positions.items()})


def make_tracker(kind: str, checkpoints: dict, device: str = 'cpu'):
    """The HandTracker (iknet_node's defaults) of a tracker kind: ik, baseline or sequence.

    checkpoints: model kind -> checkpoint folder (None: the shipped weights). ``ik`` gets a
    freshly built sequence IKNet, whose zero-initialised head makes its output closed-form
    swing IK.
    """
    from iknet_ros.model.checkpoint import default_checkpoint
    from iknet_ros.model.networks import build_model
    from iknet_ros.tracking.tracker import HandTracker

    if kind == 'ik':
        return HandTracker(model=build_model('sequence'), device=device)
    return HandTracker(checkpoints.get(kind) or default_checkpoint(kind), device=device)


def make_trackers(methods, checkpoints: dict, device: str = 'cpu') -> dict:
    """{kind: HandTracker} for the tracker methods among `methods` (sequence_raw: sequence)."""
    kinds = [k for k in ('ik', 'baseline', 'sequence')
             if any(m.removesuffix('_raw') == k for m in methods)]
    return {kind: make_tracker(kind, checkpoints, device) for kind in kinds}


def run_tracker(detections, tracker, progress=None) -> tuple:
    """(published, raw) MethodOutputs of a HandTracker fed every frame's detections.

    The tracker starts afresh. published: ``HandEstimate.positions`` and rotations, what
    iknet_node publishes; raw: the model's own skeleton of each frame (``raw_positions``, the
    same rotations).
    """
    tracker.reset()
    frames = detections.frames
    outputs = [{s: _empty(frames, sk.NUM_JOINTS, 3) for s in SIDES} for _ in range(2)]
    rotations = {s: _empty(frames, sk.NUM_JOINTS, 3, 3) for s in SIDES}
    for f in range(frames):
        try:
            estimates = tracker.update(float(detections.stamps[f]), detections.hands(f)).estimates
        except ValueError:  # keypoints no hand can have: iknet_node skips such a cloud too
            estimates = []
        for estimate in estimates:
            m = mirror(estimate.side)
            outputs[0][estimate.side][f] = estimate.positions
            outputs[1][estimate.side][f] = estimate.raw_positions
            rotations[estimate.side][f] = m @ Rotation.from_quat(estimate.quat_xyzw).as_matrix() @ m
        if progress is not None:
            progress.update()
    return tuple(MethodOutput(positions, rotations) for positions in outputs)


def run_methods(detections, methods, one_euro_setting: dict = None, offsets=None,
                trackers: dict = None, progress=None) -> dict:
    """{method: MethodOutput} of the named methods over one input's detections.

    ``mediapipe_offsets`` needs `offsets` (21, 3) and is left out without them; the tracker
    methods need their tracker in `trackers` (`make_trackers`); ``sequence`` and
    ``sequence_raw`` come from one tracker run.
    """
    results = {'mediapipe': mediapipe(detections)}
    if 'one_euro' in methods:
        results['one_euro'] = one_euro(detections, **one_euro_setting)
    if 'mediapipe_offsets' in methods and offsets is not None:
        results['mediapipe_offsets'] = mediapipe_offsets(results['mediapipe'], offsets)
    for kind, tracker in (trackers or {}).items():
        wanted = [m for m in methods if m.removesuffix('_raw') == kind]
        if wanted:
            published, raw = run_tracker(detections, tracker, progress)
            results.update({m: raw if m.endswith('_raw') else published for m in wanted})
    return {m: results[m] for m in methods if m in results}
