"""A human-hand URDF generated from the skeleton, driven by the DOF of ``hand.angles``.

Robot tools (robot_state_publisher, RViz's RobotModel, retargeting libraries) read URDF, so the
hand is written as one: the same joint names and limits as ``/hand/joint_states``, and link frames
that are iknet_node's TF frames. Tree, for one side ``s`` (root link ``s_wrist``):

    s_wrist -> [s_palm_<finger>_flexion, _abduction] -> link s_palm_<finger> (the palm bone)
            -> [s_<joint>_flexion, _abduction, _twist] -> link s_<joint> (its frame = iknet_node's
               TF frame s_<joint>) -> ... -> fixed joint s_<finger>_tip_joint -> link s_<finger>_tip

A joint's translation sits on its flexion joint (the bone offset in the parent link's frame); the
links between the DOF of one joint (``<dof name>_link``) are massless and have no geometry.
A left hand is the mirror image: mirrored offsets, axes ``-MIRROR @ axis`` (the same angle gives
the mirrored motion).
"""
import xml.etree.ElementTree as ET

import numpy as np

from iknet_ros.hand import angles as ha
from iknet_ros.hand import skeleton as sk

BONE_RADIUS = 0.008  # m, phalanges
PALM_RADIUS = 0.010  # m, palm bones
JOINT_RADIUS = 0.010  # m, spheres at the joints
EFFORT, VELOCITY = 1.0, 20.0  # nominal URDF limits (N m, rad/s): a hand is not actuated
BONE_NAMES = sk.JOINT_NAMES[1:]  # a bone is named after its child joint: its length's key


def rest_bone_lengths() -> dict:
    """{joint name: length of the bone ending at that joint (m)} of the reference hand."""
    return {name: float(np.linalg.norm(sk.REST_OFFSETS[j]))
            for j, name in enumerate(sk.JOINT_NAMES) if j != sk.ROOT}


def bone_lengths_of(offsets: np.ndarray) -> dict:
    """(21, 3) offsets in joint order -> {joint name: m}: a track's bone lengths, for `hand_urdf`.

    The offsets are ``HandEstimate.offsets`` or the translations of ``/hand/joint_rotations``.
    """
    lengths = np.linalg.norm(np.asarray(offsets, float), axis=-1)  # (21,)
    return {name: float(lengths[j]) for j, name in enumerate(sk.JOINT_NAMES) if j != sk.ROOT}


def check_bone_lengths(lengths: dict) -> np.ndarray:
    """{joint name: m} with every bone -> (21,) lengths (the wrist's 0); ValueError otherwise."""
    missing = [n for n in BONE_NAMES if n not in lengths]
    unknown = [n for n in lengths if n not in BONE_NAMES]
    if missing or unknown:
        raise ValueError(f'bone lengths need exactly the joints {", ".join(BONE_NAMES)}; '
                         f'missing {missing}, unknown {unknown}')
    out = np.array([0.0] + [float(lengths[n]) for n in BONE_NAMES])
    if not (np.isfinite(out[1:]).all() and (out[1:] > 0).all() and (out[1:] < 1.0).all()):
        raise ValueError('bone lengths must be finite, > 0 and < 1 m (metres, not millimetres)')
    return out


def _fmt(values) -> str:
    return ' '.join(f'{float(v):.9g}' for v in np.asarray(values).ravel())


def _aligned_rpy(direction: np.ndarray) -> np.ndarray:
    """URDF rpy (fixed-axis roll, pitch, yaw) of a frame whose z axis points along `direction`.

    Rz(yaw) Ry(pitch) turns z onto (sin p cos y, sin p sin y, cos p); no roll is needed.
    """
    x, y, z = direction / np.linalg.norm(direction)
    return np.array([0.0, np.arccos(np.clip(z, -1.0, 1.0)), np.arctan2(y, x)])


class _Writer:
    """Builds the XML tree of one hand: links with simple geometry, joints per DOF."""

    def __init__(self, side: str, lengths: np.ndarray):
        self.side, self.m = side, sk.MIRROR if side == 'left' else np.eye(3)
        rest_dir = sk.REST_OFFSETS / np.maximum(
            np.linalg.norm(sk.REST_OFFSETS, axis=-1, keepdims=True), 1e-12)
        self.offsets = (rest_dir * lengths[:, None]) @ self.m          # (21, 3) this side's
        self.robot = ET.Element('robot', name=f'{side}_hand')
        for f, finger in enumerate(sk.FINGERS):
            self._material(finger, sk.FINGER_COLORS[f])
        self._material('wrist', sk.WRIST_COLOR)

    def _material(self, name, rgb):
        material = ET.SubElement(self.robot, 'material', name=f'{self.side}_{name}')
        ET.SubElement(material, 'color', rgba=_fmt(tuple(rgb) + (1.0,)))

    def link(self, name, color=None, sphere=False, bone=None, radius=BONE_RADIUS):
        """A link; with `sphere` a ball at its origin, with `bone` (3,) a cylinder along it."""
        link = ET.SubElement(self.robot, 'link', name=name)
        if sphere:
            self._visual(link, color, 'sphere', {'radius': _fmt([JOINT_RADIUS])}, np.zeros(3),
                         np.zeros(3))
        if bone is not None and np.linalg.norm(bone) > 0:
            length = np.linalg.norm(bone)
            self._visual(link, color, 'cylinder', {'radius': _fmt([radius]),
                                                   'length': _fmt([length])},
                         bone / 2.0, _aligned_rpy(bone / length))

    def _visual(self, link, color, shape, size, xyz, rpy):
        visual = ET.SubElement(link, 'visual')
        ET.SubElement(visual, 'origin', xyz=_fmt(xyz), rpy=_fmt(rpy))
        geometry = ET.SubElement(visual, 'geometry')
        ET.SubElement(geometry, shape, **size)
        ET.SubElement(visual, 'material', name=f'{self.side}_{color}')

    def joint(self, name, kind, parent, child, xyz=None, dof=None):
        xyz = np.zeros(3) if xyz is None else xyz
        joint = ET.SubElement(self.robot, 'joint', name=name, type=kind)
        ET.SubElement(joint, 'parent', link=parent)
        ET.SubElement(joint, 'child', link=child)
        ET.SubElement(joint, 'origin', xyz=_fmt(xyz), rpy='0 0 0')
        if dof is not None:
            axis = dof.axis if self.side == 'right' else -self.m @ dof.axis
            ET.SubElement(joint, 'axis', xyz=_fmt(axis))
            ET.SubElement(joint, 'limit', lower=_fmt([dof.lower]), upper=_fmt([dof.upper]),
                          effort=_fmt([EFFORT]), velocity=_fmt([VELOCITY]))

    def dof_chain(self, dofs, parent, last_link, xyz, color, **link_kwargs):
        """Revolute joints for `dofs` from `parent`; the last one ends in `last_link`."""
        for k, dof in enumerate(dofs):
            name = f'{self.side}_{dof.name}'
            child = last_link if k == len(dofs) - 1 else f'{name}_link'
            self.joint(name, 'revolute', parent, child, xyz if k == 0 else np.zeros(3), dof)
            if child != last_link:
                self.link(child)
            parent = child
        self.link(last_link, color, **link_kwargs)


def hand_urdf(side: str = 'right', bone_lengths: dict = None) -> str:
    """The URDF (XML text) of one hand; bone lengths {joint name: m}, default the rest hand's."""
    lengths = check_bone_lengths(bone_lengths if bone_lengths is not None
                                 else rest_bone_lengths())
    names = sk.side_joint_names(side)
    w = _Writer(side, lengths)
    w.robot.insert(0, ET.Comment(
        f' {side} human hand generated by `iknet-ros urdf` from iknet_ros.hand.skeleton; joint '
        'names and limits as on /hand/joint_states (rad); root link = iknet_node TF frame '
        f'{names[sk.ROOT]} '))
    w.link(names[sk.ROOT], 'wrist', sphere=True)
    by_joint = {}
    for dof in ha.DOFS:
        by_joint.setdefault((dof.joint, dof.palm), []).append(dof)
    for j in range(1, sk.NUM_JOINTS):
        finger = sk.FINGERS[sk.FINGER_OF_JOINT[j]]
        parent = names[sk.PARENTS[j]]
        if j in sk.PALM_JOINTS:  # the palm bone to this joint turns at the wrist
            palm_link = f'{side}_palm_{finger}'
            w.dof_chain(by_joint[(j, True)], parent, palm_link, np.zeros(3), 'wrist',
                        bone=w.offsets[j], radius=PALM_RADIUS)
            parent = palm_link
        if j in sk.TIPS:
            w.joint(f'{names[j]}_joint', 'fixed', parent, names[j], w.offsets[j])
            w.link(names[j], finger, sphere=True)
        else:
            w.dof_chain(by_joint[(j, False)], parent, names[j], w.offsets[j], finger,
                        sphere=True, bone=w.offsets[j + 1])
    ET.indent(w.robot)
    return '<?xml version="1.0"?>\n' + ET.tostring(w.robot, encoding='unicode') + '\n'
