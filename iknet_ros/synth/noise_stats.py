"""Noise statistics of keypoint sequences (``iknet-ros noise-report``).

The ``realistic`` observation level is calibrated by computing the same statistics on real
MediaPipe landmarks and on synthetic observations. The real file is wrist-centred and rotated into
a wrist frame estimated from joints 0/5/9 (dex-retargeting's convention), so synthetic sequences
are put into such a frame, estimated from their own noisy joints, before measuring: global motion
is removed the same way and the frame's own wobble counts on both sides.
"""
from pathlib import Path

import numpy as np

from iknet_ros.hand import skeleton as sk
from iknet_ros.paths import real_data_dir

REAL_FILE_NAME = 'right_hand_world_landmarks_wristframe.npy'
# what the README reports for the real file (used when it is absent, e.g. by tests)
REAL_REFERENCE = {'bone_rel_std_pct': 8.6, 'accel_mm': 3.1, 'resid_mm_mean': 2.0,
                  'resid_mm_p95': 7.5}
KEYS = ('bone_rel_std_pct', 'bone_std_mm_min', 'bone_std_mm_max', 'accel_mm', 'resid_mm_mean',
        'resid_mm_p95')


def to_wrist_frame(positions) -> np.ndarray:
    """(..., 21, 3) -> (..., 21, 3) wrist-centred, in a frame from the wrist, index and middle MCP.

    Axes: wrist -> middle MCP, the normal of the plane of the three joints, and their cross
    product; the same plane and axis as the real file's frame (its axis order does not matter to
    the statistics, which are rotation invariant per frame).
    """
    p = np.asarray(positions, dtype=np.float64)
    wrist = p[..., 0, :]
    a = p[..., sk.JOINT_INDEX['middle_mcp'], :] - wrist
    b = p[..., sk.JOINT_INDEX['index_mcp'], :] - wrist
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    n = np.cross(b, a)
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    frame = np.stack([a, n, np.cross(a, n)], axis=-1)                 # (..., 3, 3) columns
    return (p - wrist[..., None, :]) @ frame


def noise_stats(sequences) -> dict:
    """Statistics of (F, 21, 3) or (B, F, 21, 3) sequences in metres (all frames, all joints).

    bone_rel_std_pct: per bone, std / mean of its length along a sequence (%), averaged over
    sequences, then the mean over the 20 bones (bone_std_mm_min/max: the range of the per-bone
    std in mm). accel_mm: mean ||x[t+1] - 2 x[t] + x[t-1]|| (mm/frame^2). resid_mm_mean / p95:
    distance of each joint to its 7-frame centred moving average (mm).
    """
    x = np.asarray(sequences, dtype=np.float64) * 1000.0                # mm
    if x.ndim == 3:
        x = x[None]
    lengths = np.linalg.norm(x[:, :, 1:] - x[:, :, sk.PARENT_INDEX[1:]], axis=-1)  # (B, F, 20)
    bone_std = lengths.std(axis=1)                                      # (B, 20)
    rel = (bone_std / lengths.mean(axis=1)).mean(axis=0) * 100.0       # (20,)
    accel = np.linalg.norm(x[:, 2:] - 2.0 * x[:, 1:-1] + x[:, :-2], axis=-1)
    window = np.lib.stride_tricks.sliding_window_view(x, 7, axis=1)     # (B, F-6, 21, 3, 7)
    resid = np.linalg.norm(x[:, 3:-3] - window.mean(axis=-1), axis=-1)
    return {'bone_rel_std_pct': float(rel.mean()),
            'bone_std_mm_min': float(bone_std.mean(axis=0).min()),
            'bone_std_mm_max': float(bone_std.mean(axis=0).max()),
            'accel_mm': float(accel.mean()),
            'resid_mm_mean': float(resid.mean()),
            'resid_mm_p95': float(np.percentile(resid, 95))}


def real_stats(path=None):
    """Statistics of the real MediaPipe file (default: the shared one), or None when absent."""
    path = Path(path) if path else real_data_dir() / REAL_FILE_NAME
    if not path.exists():
        return None
    return noise_stats(np.load(path))


def synthetic_stats(sequences: int = 32, frames: int = 621, seed: int = 0,
                    level: str = 'realistic') -> dict:
    """Statistics of synthetic observations, measured like the real file (in a wrist frame)."""
    from iknet_ros.synth.motion import generate_motion
    from iknet_ros.synth.observation import observe

    rng = np.random.default_rng(seed)
    motion = generate_motion(sequences, frames, rng)
    observed = observe(motion.positions, level, seed=rng)
    return noise_stats(to_wrist_frame(observed.keypoints.numpy()))


def report(real, synthetic) -> str:
    """A text table real vs synthetic vs ratio."""
    lines = [f'{"statistic":<18}{"real":>10}{"synthetic":>12}{"ratio":>8}']
    for key in KEYS:
        syn = synthetic[key]
        if real is None:
            lines.append(f'{key:<18}{"-":>10}{syn:>12.2f}{"-":>8}')
        else:
            lines.append(f'{key:<18}{real[key]:>10.2f}{syn:>12.2f}{syn / real[key]:>8.2f}')
    return '\n'.join(lines)
