"""Statistics of a tracking run: how steady, smooth and faithful the published skeleton was.

Fed, frame by frame, the keypoints that went into the tracker and the rotations that came out
(matched by stamp and hand side); no rclpy, so it is tested without a ROS graph and reused by
``iknet-ros run --record``. All lengths are wrist-aligned (the wrist subtracted per frame):

* ``skeleton_bone_std_mm``: std over time of each published bone length (over every frame a
  hand side was published), mean over bones.
* ``accel_ratio``: mean ||x[t+1] - 2 x[t] + x[t-1]|| of the published joint positions divided by
  that of the keypoints fed in, over runs of consecutive frames where the hand was tracked (a
  frame missing from the keypoints, e.g. dropped by a busy detector, ends a run).
* ``fidelity_mm``: mean distance between published joints and the keypoints of the same frame;
  smoothing that lags behind the hand shows up here.
"""
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk


def joint_positions(quat_xyzw, offsets) -> np.ndarray:
    """(21, 3) camera-frame positions from local rotations and offsets (row 0 = the wrist)."""
    rot = torch.from_numpy(Rotation.from_quat(np.asarray(quat_xyzw)).as_matrix())  # (21, 3, 3)
    offsets = torch.as_tensor(np.asarray(offsets), dtype=torch.float64)
    return kin.forward_kinematics(rot, offsets, offsets[sk.ROOT])[1].numpy()


def accel_sums_mm(runs) -> tuple:
    """(sum, count) of ||second difference|| in mm over (F, 21, 3) runs of consecutive frames."""
    total, count = 0.0, 0
    for x in runs:
        if len(x) >= 3:
            accel = np.linalg.norm(x[2:] - 2.0 * x[1:-1] + x[:-2], axis=-1) * 1000.0
            total, count = total + accel.sum(), count + accel.size
    return total, count


def bone_std_mm(sequences) -> float:
    """Mean over bones (and hand sides) of the std over time of (F, 20) bone lengths, in mm."""
    stds = [np.std(lengths, axis=0) for lengths in sequences if len(lengths) >= 2]
    return float(np.mean(np.concatenate(stds)) * 1000.0) if stds else float('nan')


class RunSummary:
    """Collects what went into and came out of the tracker, frame by frame."""

    def __init__(self):
        self.inputs = {}   # stamp (ns) -> {side: (21, 3) keypoints}
        self.outputs = {}  # stamp (ns) -> {side: (quat (21, 4), offsets (21, 3))}
        self.latencies = []  # seconds from image stamp to rotations received

    def add_keypoints(self, stamp_ns: int, hands: dict):
        """Record the keypoints of one cloud: ``{side: (21, 3) metres}``, empty = no hand."""
        self.inputs[stamp_ns] = {side: np.asarray(xyz, dtype=np.float64)
                                 for side, xyz in hands.items()}

    def add_rotations(self, stamp_ns: int, hands: dict, latency: float = None):
        """Record one joint-rotations message: ``{side: (quat_xyzw (21, 4), offsets (21, 3))}``."""
        self.outputs[stamp_ns] = {side: (np.asarray(q, dtype=np.float64),
                                         np.asarray(t, dtype=np.float64))
                                  for side, (q, t) in hands.items()}
        if latency is not None:
            self.latencies.append(latency)

    def _tracks(self):
        """Per side, runs of consecutive frames with both keypoints and a published hand.

        Each run is (keypoints (F, 21, 3), published positions (F, 21, 3)).
        """
        runs = {}
        current = {}
        stamps = sorted(self.inputs)
        # a frame dropped before the tracker (keypoint_node busy) is a gap in time: end runs there
        period = np.median(np.diff(stamps)) if len(stamps) > 1 else 0
        previous = None
        for stamp in stamps:
            if previous is not None and stamp - previous > 1.5 * period:
                for side in list(current):
                    runs.setdefault(side, []).append(current.pop(side))
            previous = stamp
            seen = self.inputs[stamp]
            published = self.outputs.get(stamp, {})
            for side in ('left', 'right'):
                if side in seen and side in published:
                    current.setdefault(side, []).append(
                        (seen[side], joint_positions(*published[side])))
                elif side in current:
                    runs.setdefault(side, []).append(current.pop(side))
        for side, run in current.items():
            runs.setdefault(side, []).append(run)
        return [tuple(np.stack(column) for column in zip(*run, strict=True))
                for side_runs in runs.values() for run in side_runs]

    def _bones(self) -> tuple:
        """Per hand side, (F, 20) bone lengths over every frame: (published, fed in)."""
        published, fed = {}, {}
        for stamp in sorted(self.outputs):
            for side, (_, offsets) in self.outputs[stamp].items():
                published.setdefault(side, []).append(np.linalg.norm(offsets[1:], axis=-1))
        for stamp in sorted(self.inputs):
            for side, xyz in self.inputs[stamp].items():
                fed.setdefault(side, []).append(
                    np.linalg.norm(xyz[1:] - xyz[sk.PARENT_INDEX[1:]], axis=-1))
        return ([np.stack(v) for v in published.values()], [np.stack(v) for v in fed.values()])

    def result(self, frames_in: int, seconds: float, **extra) -> dict:
        """The run's statistics as a JSON-ready dict (NaN where there was nothing to measure)."""
        runs = self._tracks()
        keypoints = [kp - kp[:, :1] for kp, _ in runs]      # wrist-aligned
        published = [pub - pub[:, :1] for _, pub in runs]
        accel_in, n_in = accel_sums_mm(keypoints)
        accel_out, n_out = accel_sums_mm(published)
        distances = [np.linalg.norm(p - k, axis=-1) for p, k in
                     zip(published, keypoints, strict=True)]
        published_bones, input_bones = self._bones()
        frames_out = sum(1 for hands in self.outputs.values() if hands)
        nan = float('nan')
        summary = {
            'frames_in': int(frames_in),
            'frames_with_keypoints': sum(1 for hands in self.inputs.values() if hands),
            'frames_with_rotations': frames_out,
            'rotation_coverage': frames_out / frames_in if frames_in else nan,
            'fps': len(self.outputs) / seconds if seconds > 0 else nan,
            'skeleton_bone_std_mm': bone_std_mm(published_bones),
            'keypoint_bone_std_mm': bone_std_mm(input_bones),
            'accel_ratio': (accel_out / n_out) / (accel_in / n_in) if n_in and n_out and accel_in
            else nan,
            'accel_mm': accel_out / n_out if n_out else nan,
            'keypoint_accel_mm': accel_in / n_in if n_in else nan,
            'fidelity_mm': float(np.mean(np.concatenate([d.ravel() for d in distances])) * 1000.0)
            if distances else nan,
            'latency_ms_p50': float(np.percentile(self.latencies, 50) * 1000.0)
            if self.latencies else nan,
            'latency_ms_p95': float(np.percentile(self.latencies, 95) * 1000.0)
            if self.latencies else nan,
        }
        summary.update(extra)
        return summary
