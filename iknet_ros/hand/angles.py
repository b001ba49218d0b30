"""Anatomical joint angles of a hand pose: what ``/hand/joint_states`` and the hand URDF share.

Robot retargeting and rehab charts want named angles, not quaternions. Every angle here is a
rotation about one of the skeleton's axes (``skeleton.JOINT_AXES``, ``skeleton.PALM_AXES``), in
radians, zero in the rest pose, so that the URDF of ``hand.urdf`` driven by these angles puts
every joint where the tracker's skeleton has it.

Degrees of freedom (DOF) per hand, in this order, named ``<side>_<dof>``:
* each palm bone (wrist -> thumb CMC, wrist -> finger MCP): ``palm_<finger>_flexion`` and
  ``palm_<finger>_abduction``, the bone's direction against the wrist frame (a tracked palm is not
  rigid; its twist is left to the joint at its end);
* each finger joint below the tip: ``<joint>_flexion``, ``<joint>_abduction``, ``<joint>_twist``,
  the joint's rotation relative to its parent bone (for the thumb CMC and the MCPs: relative to
  the palm bone, so MCP flexion is measured from the metacarpal, as clinicians do).
A joint's rotation is ``Ry(flexion) Rz(abduction) Rx(twist)`` in its axes frame (x along the bone,
y the flexion axis, z the abduction axis); a palm bone's is ``Ry(flexion) Rz(abduction)``.
Left hands are mirrored into the right-hand skeleton first, so mirrored poses get equal angles.
"""
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk

KINDS = ('flexion', 'abduction', 'twist')  # the order of JOINT_LIMITS_DEG's rows
_AXIS_COLUMN = {'twist': 0, 'flexion': 1, 'abduction': 2}  # columns of JOINT_AXES / PALM_AXES


@dataclass(frozen=True)
class Dof:
    """One revolute degree of freedom of the hand (right-hand convention)."""

    name: str            # without the side, e.g. 'index_mcp_flexion' or 'palm_index_flexion'
    joint: int           # skeleton joint at the far end of the bone it turns (palm) or whose
                         # rotation it is part of (finger joints)
    kind: str            # 'flexion', 'abduction' or 'twist'
    palm: bool           # a palm bone's DOF (rotates at the wrist) or a finger joint's
    axis: np.ndarray     # (3,) unit axis in the parent link's frame, right hand
    lower: float         # rad
    upper: float         # rad


def _dofs() -> tuple:
    dofs = []
    for j in sk.ARTICULATED[1:]:
        name = sk.JOINT_NAMES[j]
        if j in sk.PALM_JOINTS:
            p = sk.PALM_JOINTS.index(j)
            for k, kind in enumerate(KINDS[:2]):
                low, high = np.radians(sk.PALM_LIMITS_DEG[p, k])
                dofs.append(Dof(f'palm_{sk.FINGERS[sk.FINGER_OF_JOINT[j]]}_{kind}', j, kind,
                                True, sk.PALM_AXES[p][:, _AXIS_COLUMN[kind]], low, high))
        for k, kind in enumerate(KINDS):
            low, high = np.radians(sk.JOINT_LIMITS_DEG[j, k])
            dofs.append(Dof(f'{name}_{kind}', j, kind, False,
                            sk.JOINT_AXES[j][:, _AXIS_COLUMN[kind]], low, high))
    return tuple(dofs)


DOFS = _dofs()  # 55 per hand: 5 palm bones x 2, 15 joints x 3
NUM_DOFS = len(DOFS)
LOWER = np.array([d.lower for d in DOFS])  # (D,) rad
UPPER = np.array([d.upper for d in DOFS])  # (D,) rad
_NUM_PALM = len(sk.PALM_JOINTS)
# where each DOF sits in [palm (5, 2) angles, joint (21, 3) angles] flattened
_SOURCE = np.array([sk.PALM_JOINTS.index(d.joint) * 2 + KINDS.index(d.kind) if d.palm
                    else _NUM_PALM * 2 + d.joint * 3 + KINDS.index(d.kind) for d in DOFS])


def dof_names(side: str) -> list:
    """Names of one hand's DOF, e.g. ``right_index_mcp_flexion``, in ``DOFS`` order."""
    sk.side_joint_names(side)  # raises on anything but 'left' or 'right'
    return [f'{side}_{d.name}' for d in DOFS]


def _palm_swing(offsets: np.ndarray):
    """(..., 21, 3) offsets -> palm (flexion, abduction) (..., 5, 2) rad, rotations (..., 5, 3, 3).

    The rotation Ry(flexion) Rz(abduction) in the bone's axes frame turns the rest direction of
    each palm bone onto its direction in `offsets` (in the wrist frame).
    """
    bone = offsets[..., sk.PALM_JOINTS, :]
    bone = bone / np.linalg.norm(bone, axis=-1, keepdims=True)           # (..., 5, 3)
    local = np.einsum('pji,...pj->...pi', sk.PALM_AXES, bone)            # in the axes frames
    abduction = np.arcsin(np.clip(local[..., 1], -1.0, 1.0))
    flexion = np.arctan2(-local[..., 2], local[..., 0])
    angles = np.stack([flexion, abduction], axis=-1)                     # (..., 5, 2)
    rot = _rotations(sk.PALM_AXES, angles, ('flexion', 'abduction'))
    return angles, rot


def _rotations(axes: np.ndarray, angles: np.ndarray, kinds) -> np.ndarray:
    """(N, 3, 3) axes, (..., N, K) rad -> (..., N, 3, 3): rotations about each axis of `kinds`."""
    rot = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3))
    for k, kind in enumerate(kinds):
        rotvec = axes[:, :, _AXIS_COLUMN[kind]] * angles[..., k, None]    # (..., N, 3)
        step = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix()
        rot = rot @ step.reshape(rot.shape)
    return rot


def hand_angles(quat_xyzw: np.ndarray, offsets: np.ndarray, side: str = 'right') -> np.ndarray:
    """One hand's pose -> its DOF angles (..., D) rad, in ``DOFS`` order.

    quat_xyzw: (..., 21, 4) local rotations and offsets: (..., 21, 3) bone offsets, as in
    ``/hand/joint_rotations`` (rows 0, the wrist's pose, are not used: it goes on TF).
    """
    m = sk.mirror(side)
    rot = Rotation.from_quat(np.asarray(quat_xyzw, float).reshape(-1, 4)).as_matrix()
    rot = m @ rot.reshape(np.shape(quat_xyzw)[:-1] + (3, 3)) @ m           # (..., 21, 3, 3)
    offsets = np.asarray(offsets, float) @ m                               # (..., 21, 3)
    palm, swing = _palm_swing(offsets)
    rot = rot.copy()
    rot[..., sk.PALM_JOINTS, :, :] = np.swapaxes(swing, -1, -2) @ rot[..., sk.PALM_JOINTS, :, :]
    joint = np.radians(kin.local_to_angles(torch.from_numpy(rot)).numpy())  # (..., 21, 3)
    lead = joint.shape[:-2]
    flat = np.concatenate([palm.reshape(lead + (-1,)), joint.reshape(lead + (-1,))], axis=-1)
    return flat[..., _SOURCE]                                              # (..., D)


def angles_to_pose(angles: np.ndarray, bone_lengths=None, side: str = 'right'):
    """The inverse of `hand_angles`: DOF angles (..., D) rad -> (quat_xyzw, offsets) (..., 21, *).

    bone_lengths: (21,) m (the wrist's unused), default the rest lengths. The wrist row gets the
    identity rotation and a zero offset; the tips the identity.
    """
    angles = np.asarray(angles, float)
    lengths = (np.linalg.norm(sk.REST_OFFSETS, axis=-1) if bone_lengths is None
               else np.asarray(bone_lengths, float))
    lead = angles.shape[:-1]
    flat = np.zeros(lead + (_NUM_PALM * 2 + sk.NUM_JOINTS * 3,))
    flat[..., _SOURCE] = angles
    palm = flat[..., :_NUM_PALM * 2].reshape(lead + (_NUM_PALM, 2))
    joint = flat[..., _NUM_PALM * 2:].reshape(lead + (sk.NUM_JOINTS, 3))
    rot = kin.angles_to_local(torch.from_numpy(np.degrees(joint))).numpy()  # (..., 21, 3, 3)
    swing = _rotations(sk.PALM_AXES, palm, ('flexion', 'abduction'))        # (..., 5, 3, 3)
    rot[..., sk.PALM_JOINTS, :, :] = swing @ rot[..., sk.PALM_JOINTS, :, :]
    rot[..., sk.ROOT, :, :] = np.eye(3)
    rest_dir = sk.REST_OFFSETS / np.maximum(
        np.linalg.norm(sk.REST_OFFSETS, axis=-1, keepdims=True), 1e-12)
    offsets = np.broadcast_to(rest_dir * lengths[:, None], lead + (sk.NUM_JOINTS, 3)).copy()
    offsets[..., sk.PALM_JOINTS, :] = (swing @ offsets[..., sk.PALM_JOINTS, :, None])[..., 0]
    m = sk.mirror(side)
    rot, offsets = m @ rot @ m, offsets @ m
    quat = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat().reshape(lead + (sk.NUM_JOINTS, 4))
    return quat, offsets


def limit_excess(angles: np.ndarray) -> np.ndarray:
    """(..., D) rad -> (..., D) how far each angle is outside its limits (0 inside; rad, >= 0)."""
    angles = np.asarray(angles, float)
    return np.maximum(LOWER - angles, 0.0) + np.maximum(angles - UPPER, 0.0)


def outside_limits(angles: np.ndarray, tolerance: float = np.radians(0.5)) -> np.ndarray:
    """(..., D) rad -> (...,) whether any DOF is more than `tolerance` rad outside its limits.

    The fraction of frames with a joint outside the limits is ``outside_limits(a).mean()``.
    """
    return (limit_excess(angles) > tolerance).any(axis=-1)


def limit_report(angles: np.ndarray, side: str = 'right', tolerance: float = np.radians(0.5)):
    """(D,) rad of one hand -> [(name, excess deg)] of the DOF outside limits, worst first."""
    excess = np.degrees(limit_excess(angles))
    names = dof_names(side)
    out = [(names[i], float(excess[i])) for i in np.flatnonzero(excess > np.degrees(tolerance))]
    return sorted(out, key=lambda item: -item[1])
