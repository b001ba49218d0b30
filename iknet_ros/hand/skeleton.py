"""The one hand skeleton: joint names and order, parents, rest pose, joint limits, subject model.

Everything else (kinematics, data generation, models, TF frame names, RViz markers, message joint
names) reads this module; nothing else lists the joints.

Conventions
-----------
* Joint order is MediaPipe's landmark order (0 wrist, 1-4 thumb, 5-8 index, ... 17-20 pinky).
* The skeleton is a right hand. Left hands are handled by mirroring (see ``MIRROR``).
* Hand frame (the wrist frame, and every joint frame in the rest pose): x distal (wrist towards
  the middle finger's MCP), y radial (towards the thumb side), z dorsal (out of the back of the
  hand). All rest-pose local rotations are the identity, so a bone's rest offset is expressed in
  this frame.
* Lengths are in metres in code; the table below is in millimetres for readability.
* Anatomical angles per joint are (flexion, abduction, twist) in degrees: flexion about the joint's
  flexion axis (positive bends towards the palm), abduction about its dorsal axis (positive
  towards the radial/thumb side), twist about the bone.
"""
from dataclasses import dataclass

import numpy as np

FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')
FINGER_JOINTS = {
    'thumb': ('cmc', 'mcp', 'ip', 'tip'),
    'index': ('mcp', 'pip', 'dip', 'tip'),
    'middle': ('mcp', 'pip', 'dip', 'tip'),
    'ring': ('mcp', 'pip', 'dip', 'tip'),
    'pinky': ('mcp', 'pip', 'dip', 'tip'),
}
JOINT_NAMES = ('wrist',) + tuple(f'{f}_{j}' for f in FINGERS for j in FINGER_JOINTS[f])
NUM_JOINTS = len(JOINT_NAMES)  # 21
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
# parent of each joint (-1 for the wrist): each finger is a chain hanging off the wrist
PARENTS = (-1,) + tuple(0 if k == 0 else 1 + 4 * f + k - 1 for f in range(5) for k in range(4))
# the same as an index array, the wrist its own parent: x[..., PARENT_INDEX, :] is each joint's
# parent, so x - x[..., PARENT_INDEX, :] are the bones (zero at the wrist)
PARENT_INDEX = np.array([max(p, 0) for p in PARENTS])
# finger index (0 thumb .. 4 pinky) of each joint; the wrist gets -1
FINGER_OF_JOINT = (-1,) + tuple(f for f in range(5) for _ in range(4))
# place of each joint in its finger's chain: 0 wrist, 1 mcp (thumb cmc), 2 pip, 3 dip, 4 tip
CHAIN_DEPTH = (0,) + tuple(k + 1 for _ in range(5) for k in range(4))
TIPS = tuple(JOINT_INDEX[f'{f}_tip'] for f in FINGERS)
# joints whose rotation moves a child: the wrist (root) and the 15 finger joints below the tips
ARTICULATED = tuple(i for i in range(NUM_JOINTS) if i not in TIPS)
ROOT = 0
# bones as (parent, child) pairs, one per non-root joint
BONES = tuple((PARENTS[i], i) for i in range(1, NUM_JOINTS))
# RGB colour per finger (thumb red, index yellow, middle green, ring blue, pinky magenta)
FINGER_COLORS = ((0.90, 0.20, 0.20), (0.95, 0.75, 0.10), (0.20, 0.75, 0.30),
                 (0.20, 0.50, 0.95), (0.75, 0.30, 0.85))
WRIST_COLOR = (0.6, 0.6, 0.6)


def joint_color(joint: int) -> tuple:
    """RGB (0-1) of a joint: its finger's colour, the wrist grey; a bone takes its child's."""
    finger = FINGER_OF_JOINT[joint]
    return WRIST_COLOR if finger < 0 else FINGER_COLORS[finger]

# Bone lengths (mm, parent joint centre -> joint centre; the tip is the fingertip pulp) of a
# reference adult hand. Phalanges follow Buryanov & Kotiuk (2010) segment proportions for a hand
# of ~185 mm length; metacarpal bones are measured from the wrist landmark (the MediaPipe wrist
# point on the distal wrist crease), i.e. carpals plus metacarpal, adjusted to joint centres.
REST_BONE_LENGTH_MM = {
    'thumb_cmc': 34.0, 'thumb_mcp': 40.0, 'thumb_ip': 31.0, 'thumb_tip': 27.0,
    'index_mcp': 90.0, 'index_pip': 40.0, 'index_dip': 23.0, 'index_tip': 21.0,
    'middle_mcp': 88.0, 'middle_pip': 45.0, 'middle_dip': 27.0, 'middle_tip': 22.0,
    'ring_mcp': 84.0, 'ring_pip': 41.0, 'ring_dip': 26.0, 'ring_tip': 22.0,
    'pinky_mcp': 78.0, 'pinky_pip': 32.0, 'pinky_dip': 19.0, 'pinky_tip': 20.0,
}


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _yaw(deg, pitch_deg=0.0):
    """Unit direction `deg` towards radial (+y) from distal (+x), tilted `pitch_deg` dorsal."""
    a, p = np.radians(deg), np.radians(pitch_deg)
    return np.array([np.cos(a) * np.cos(p), np.sin(a) * np.cos(p), np.sin(p)])


# Rest (open, flat hand) direction of each bone in the hand frame, keyed by the child joint.
# The metacarpal row fans out from the wrist; fingers splay slightly; the thumb points
# radially-distally and a little palmar, its nail turned towards the radial side.
_THUMB_DIR = _unit([0.62, 0.72, -0.30])
REST_BONE_DIRECTION = {
    'thumb_cmc': _unit([0.70, 0.62, -0.35]),
    'thumb_mcp': _THUMB_DIR, 'thumb_ip': _THUMB_DIR, 'thumb_tip': _THUMB_DIR,
    'index_mcp': _yaw(15.0, 2.0), 'index_pip': _yaw(6.0), 'index_dip': _yaw(6.0),
    'index_tip': _yaw(6.0),
    'middle_mcp': _yaw(0.0, 2.0), 'middle_pip': _yaw(0.0), 'middle_dip': _yaw(0.0),
    'middle_tip': _yaw(0.0),
    'ring_mcp': _yaw(-14.0, 1.0), 'ring_pip': _yaw(-6.0), 'ring_dip': _yaw(-6.0),
    'ring_tip': _yaw(-6.0),
    'pinky_mcp': _yaw(-28.0), 'pinky_pip': _yaw(-14.0), 'pinky_dip': _yaw(-14.0),
    'pinky_tip': _yaw(-14.0),
}

# Direction in which flexion moves a finger (the palm side); the thumb flexes across the palm.
_PALMAR = {'thumb': _unit([0.0, -0.55, -0.85]), 'index': np.array([0.0, 0.0, -1.0]),
           'middle': np.array([0.0, 0.0, -1.0]), 'ring': np.array([0.0, 0.0, -1.0]),
           'pinky': np.array([0.0, 0.0, -1.0])}

# Limits in degrees, (min, max) for (flexion, abduction, twist), from clinical range-of-motion
# norms (AAOS / Hume et al. 1990): MCP flexion 0-90 with some hyperextension, PIP 0-110,
# DIP 0-90, MCP abduction about +-20, thumb CMC / MCP / IP ranges. Twist is the small passive
# axial play of each joint. The wrist (root) is a free rotation and has no limits.
_FINGER_LIMITS = {'mcp': ((-20.0, 90.0), (-20.0, 20.0), (-5.0, 5.0)),
                  'pip': ((0.0, 110.0), (-3.0, 3.0), (-3.0, 3.0)),
                  'dip': ((-5.0, 90.0), (-3.0, 3.0), (-3.0, 3.0))}
_THUMB_LIMITS = {'cmc': ((-20.0, 65.0), (-35.0, 40.0), (-15.0, 25.0)),
                 'mcp': ((-10.0, 60.0), (-8.0, 8.0), (-5.0, 5.0)),
                 'ip': ((-15.0, 80.0), (-3.0, 3.0), (-3.0, 3.0))}


def _limits_table():
    limits = np.zeros((NUM_JOINTS, 3, 2))
    for i, name in enumerate(JOINT_NAMES):
        finger, _, joint = name.partition('_')
        if joint in ('', 'tip'):
            continue
        table = _THUMB_LIMITS if finger == 'thumb' else _FINGER_LIMITS
        limits[i] = np.array(table[joint])
    return limits


# (21, 3, 2) degrees: [joint, (flexion, abduction, twist), (min, max)]; zero rows for the
# wrist (free) and the tips (no child, rotation unused)
JOINT_LIMITS_DEG = _limits_table()


def _rest_offsets():
    offsets = np.zeros((NUM_JOINTS, 3))
    for i, name in enumerate(JOINT_NAMES[1:], start=1):
        offsets[i] = REST_BONE_DIRECTION[name] * REST_BONE_LENGTH_MM[name] / 1000.0
    return offsets


# (21, 3) metres: offset of each joint from its parent in the parent's rest frame (wrist row 0)
REST_OFFSETS = _rest_offsets()


def _rest_positions():
    positions = np.zeros((NUM_JOINTS, 3))
    for i in range(1, NUM_JOINTS):
        positions[i] = positions[PARENTS[i]] + REST_OFFSETS[i]
    return positions


# (21, 3) metres: joint positions of the rest pose in the hand frame
REST_POSITIONS = _rest_positions()


def _joint_axes():
    """(21, 3, 3) rotation whose columns are each joint's (twist, flexion, abduction) axes.

    The twist axis is the joint's outgoing bone, the flexion axis turns that bone towards the
    finger's palmar direction, the abduction axis completes a right-handed frame (dorsal-ish).
    """
    axes = np.tile(np.eye(3), (NUM_JOINTS, 1, 1))
    for i in ARTICULATED[1:]:
        child = i + 1  # within a finger chain the child is the next joint
        bone = _unit(REST_OFFSETS[child])
        flexion = _unit(np.cross(bone, _PALMAR[FINGERS[FINGER_OF_JOINT[i]]]))
        axes[i] = np.stack([bone, flexion, np.cross(bone, flexion)], axis=1)
    return axes


JOINT_AXES = _joint_axes()

# The palm bones (wrist -> thumb CMC and each finger's MCP): the reference hand holds them rigid,
# a tracked one (and a real palm, arching at the ring and pinky metacarpals) moves them a little.
# Keyed by the bone's child joint; axes built as for the joints (twist along the bone).
PALM_JOINTS = tuple(j for j in range(1, NUM_JOINTS) if PARENTS[j] == ROOT)


def _palm_axes():
    """(5, 3, 3) rotation whose columns are each palm bone's (twist, flexion, abduction) axes."""
    axes = []
    for j in PALM_JOINTS:
        bone = _unit(REST_OFFSETS[j])
        flexion = _unit(np.cross(bone, _PALMAR[FINGERS[FINGER_OF_JOINT[j]]]))
        axes.append(np.stack([bone, flexion, np.cross(bone, flexion)], axis=1))
    return np.stack(axes)


PALM_AXES = _palm_axes()
# (5, 2, 2) degrees: [palm bone, (flexion, abduction), (min, max)] of each palm bone against the
# wrist frame: little at the thumb's carpals and the index/middle metacarpals, more flexion
# (palm cupping) at the ring and pinky metacarpals
PALM_LIMITS_DEG = np.array([((-10.0, 10.0), (-10.0, 10.0)),   # thumb (carpals)
                            ((-5.0, 5.0), (-5.0, 5.0)),       # index
                            ((-5.0, 5.0), (-5.0, 5.0)),       # middle
                            ((-5.0, 15.0), (-5.0, 5.0)),      # ring
                            ((-5.0, 25.0), (-10.0, 10.0))])   # pinky

# Reflection that turns a left hand into a right hand (and back) in any frame whose x axis we
# flip: mirrored keypoints p' = MIRROR @ p; mirrored rotations R' = MIRROR @ R @ MIRROR.
MIRROR = np.diag([-1.0, 1.0, 1.0])


def mirror(side: str) -> np.ndarray:
    """MIRROR for a left hand, the identity for a right one (3, 3)."""
    return MIRROR if side == 'left' else np.eye(3)


def bone_lengths(points) -> np.ndarray:
    """(..., 21, 3) joints -> (..., 20) the length of every bone, wrist out (numpy)."""
    points = np.asarray(points)
    return np.linalg.norm(points[..., 1:, :] - points[..., PARENT_INDEX[1:], :], axis=-1)


@dataclass(frozen=True)
class SubjectModel:
    """How much hands differ: overall scale and each bone.

    The truth is on joint centres with anthropometric proportions; MediaPipe's own landmark
    convention (its proportions) is the observation model's business (``synth.mediapipe_model``).
    """

    # overall size against the reference hand: adult hand lengths spread by about 6 % of their
    # mean within a sex and the sexes differ by about 9 %, so a normal with sd 7 % covers adults;
    # clipped to 0.8-1.2 (the reference hand is 185 mm long: 148-222 mm)
    scale_sd: float = 0.07
    scale_range: tuple = (0.8, 1.2)
    bone_jitter: float = 0.10  # each bone length varies by up to +-10 %

    def sample_offsets(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Return (count, 21, 3) bone offsets of `count` random subjects, in metres."""
        scale = np.clip(rng.normal(1.0, self.scale_sd, size=(count, 1, 1)), *self.scale_range)
        per_bone = 1.0 + rng.uniform(-self.bone_jitter, self.bone_jitter,
                                     size=(count, NUM_JOINTS, 1))
        return REST_OFFSETS[None] * scale * per_bone


def side_joint_names(side: str) -> list:
    """Return the message/TF names of the joints of one hand side, e.g. ``right_index_pip``."""
    if side not in ('left', 'right'):
        raise ValueError(f"hand side must be 'left' or 'right', got {side!r}")
    return [f'{side}_{name}' for name in JOINT_NAMES]
