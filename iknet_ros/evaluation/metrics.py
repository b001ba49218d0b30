"""Measuring sticks for real hands (numpy): alignments, lag, triangulation, reprojection, limits.

Arrays of joints are (..., 21, 3) in metres unless said; a frame without a hand is NaN, and
every mean here is over the frames where all the arrays compared have a hand.
"""
import cv2
import numpy as np
import torch

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk

# joints whose angles have limits: the articulated ones except the wrist (a free rotation)
LIMITED_JOINTS = [j for j in sk.ARTICULATED if j != sk.ROOT]


def valid_frames(*arrays) -> np.ndarray:
    """(F,) True where every (F, ...) array is finite in the whole frame."""
    return np.logical_and.reduce([np.isfinite(a).reshape(len(a), -1).all(1) for a in arrays])


def wrist_aligned(joints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) -> the same relative to the wrist."""
    return joints - joints[..., sk.ROOT:sk.ROOT + 1, :]


def joint_errors_mm(joints: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(..., 21, 3) x2 -> (..., 21) distances in mm."""
    return np.linalg.norm(joints - truth, axis=-1) * 1000.0


def similarity_transform(source: np.ndarray, target: np.ndarray) -> tuple:
    """(scale, R (3, 3), t (3,)) minimising ||scale R source + t - target|| (Umeyama 1991).

    source, target: (N, 3) corresponding points.
    """
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t                                   # (N, 3)
    u, d, vt = np.linalg.svd(t.T @ s / len(s))
    flip = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ flip @ vt
    variance = (s ** 2).sum() / len(s)
    scale = float(np.trace(np.diag(d) @ flip) / variance) if variance > 0 else 1.0
    return scale, rotation, mu_t - scale * rotation @ mu_s


def sequence_similarity(joints: np.ndarray, reference: np.ndarray) -> tuple:
    """One (scale, R, t) taking a sequence's (F, 21, 3) joints onto its reference, every frame.

    The scale is the ratio of hand sizes (median over frames of the summed bone lengths) and R
    the best rotation of the wrist-aligned joints, t then matches the means. The least-squares
    similarity of the camera-frame joints would instead shrink a method whose depth wanders
    (monocular depth errors of 10 cm) towards its mean, and tilt it to absorb that wandering.
    """
    size = [np.median(sk.bone_lengths(x).sum(-1)) for x in (joints, reference)]
    scale = float(size[1] / size[0])
    _, rotation, _ = similarity_transform(wrist_aligned(joints).reshape(-1, 3),
                                          wrist_aligned(reference).reshape(-1, 3))
    shift = (reference - scale * joints @ rotation.T).reshape(-1, 3).mean(0)
    return scale, rotation, shift


def apply_similarity(transform: tuple, points: np.ndarray) -> np.ndarray:
    """(..., 3) points moved by a (scale, R, t) similarity."""
    scale, rotation, shift = transform
    return scale * points @ rotation.T + shift


def procrustes_aligned(joints: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(F, 21, 3) joints, each frame moved by its best similarity onto (F, 21, 3) truth."""
    return np.stack([apply_similarity(similarity_transform(j, t), j)
                     for j, t in zip(joints, truth, strict=True)]) if len(joints) else joints


def pa_mpjpe_mm(joints: np.ndarray, truth: np.ndarray) -> float:
    """Mean joint error (mm) after a per-frame similarity (PA-MPJPE); (F, 21, 3) x2."""
    ok = valid_frames(joints, truth)
    return mean_or_nan(joint_errors_mm(procrustes_aligned(joints[ok], truth[ok]), truth[ok]))


def mean_or_nan(values) -> float:
    """The mean of an array, NaN when it is empty (nothing to measure)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else float('nan')


def consecutive_runs(ok: np.ndarray) -> list:
    """Slices of the runs of consecutive True frames in a (F,) mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return [slice(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def accel_error_mm(joints: np.ndarray, truth: np.ndarray) -> float:
    """Mean ||second difference of joints - that of truth|| (mm/frame^2), wrist-aligned.

    (F, 21, 3) x2, over the runs of consecutive frames that both have (the evaluation
    contract's jitter measure, against a reference instead of a synthetic truth).
    """
    errors = []
    for run in consecutive_runs(valid_frames(joints, truth)):
        d = wrist_aligned(joints[run]) - wrist_aligned(truth[run])          # (n, 21, 3)
        if len(d) >= 3:
            errors.append(np.linalg.norm(d[2:] - 2 * d[1:-1] + d[:-2], axis=-1).ravel())
    return mean_or_nan(np.concatenate(errors) * 1000.0) if errors else float('nan')


def lag_frames(joints: np.ndarray, reference: np.ndarray, max_lag: float = 6.0,
               step: float = 0.05) -> float:
    """The time shift (frames) that best aligns joint trajectories with the reference's.

    (F, 21, 3) x2. Positive: the joints trail the reference (joints[t] ~ reference[t - lag]).
    The reference is linearly interpolated between its frames, so the shift is sub-frame; the
    mean squared distance is taken over the same frames for every shift tried.
    """
    ok_ref = valid_frames(reference)
    if ok_ref.sum() < 2:
        return float('nan')
    time = np.arange(len(joints), dtype=np.float64)
    known = time[ok_ref]
    flat_ref = reference[ok_ref].reshape(len(known), -1)                    # (n, 63)
    margin = int(np.ceil(max_lag))
    inside = (time >= known[0] + margin) & (time <= known[-1] - margin)
    used = valid_frames(joints) & inside
    if used.sum() < 2:
        return float('nan')
    flat = joints[used].reshape(used.sum(), -1)                             # (m, 63)
    shifts = np.arange(-max_lag, max_lag + step / 2, step)
    costs = []
    for shift in shifts:
        at = time[used] - shift
        shifted = np.stack([np.interp(at, known, flat_ref[:, c])
                            for c in range(flat_ref.shape[1])], axis=1)      # (m, 63)
        costs.append(np.mean((flat - shifted) ** 2))
    return round(float(shifts[int(np.argmin(costs))]), 6)  # the grid's value, not 0.1 + 1e-15


def triangulate(uv: list, cameras: list) -> np.ndarray:
    """3D points (N, 3), world frame, from (N, 2) pixels in each of two calibrated cameras.

    The pixels are undistorted to normalised coordinates (cv2.undistortPoints) and
    triangulated linearly (cv2.triangulatePoints) with the projections [R | T].
    """
    normalised = [cv2.undistortPoints(np.asarray(p, np.float64).reshape(-1, 1, 2), c.K, c.D)
                  .reshape(-1, 2) for p, c in zip(uv, cameras, strict=True)]
    projections = [np.hstack([c.R, c.T[:, None]]) for c in cameras]
    homogeneous = cv2.triangulatePoints(projections[0], projections[1],
                                        normalised[0].T, normalised[1].T)   # (4, N)
    return (homogeneous[:3] / homogeneous[3]).T


def project(points: np.ndarray, K: np.ndarray, D: np.ndarray = None) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels (with distortion D when given)."""
    flat = np.asarray(points, np.float64).reshape(-1, 3)
    if D is None:
        uv = flat[:, :2] / flat[:, 2:3] * np.diag(K)[:2] + K[:2, 2]
    else:
        uv = cv2.projectPoints(flat, np.zeros(3), np.zeros(3), K, D)[0].reshape(-1, 2)
    return uv.reshape(points.shape[:-1] + (2,))


def limit_violations(local_rot: np.ndarray) -> np.ndarray:
    """(..., 21, 3, 3) right-hand local rotations -> (..., 15) bool: joint outside its limits.

    Angles from ``kinematics.local_to_angles`` against ``skeleton.JOINT_LIMITS_DEG``, for
    every joint with limits (`LIMITED_JOINTS`: the wrist and the tips excluded). One function
    so that a joint-angle module can replace it.
    """
    angles = kin.local_to_angles(torch.as_tensor(local_rot, dtype=torch.float64)).numpy()
    angles = angles[..., LIMITED_JOINTS, :]                                 # (..., 15, 3)
    limits = sk.JOINT_LIMITS_DEG[LIMITED_JOINTS]                            # (15, 3, 2)
    outside = (angles < limits[..., 0]) | (angles > limits[..., 1])
    return outside.any(axis=-1)


def swing_rotations(joints: np.ndarray) -> np.ndarray:
    """(..., 21, 3) right-hand joints -> (..., 21, 3, 3) closed-form (swing) local rotations."""
    return kin.swing_ik(torch.as_tensor(joints, dtype=torch.float64)).numpy()
