"""Seeded, on-the-fly synthetic hand motion at 30 fps.

No licensed hand model or motion-capture set is available, so training data is made here: each
sequence moves through keyframe poses (named poses of the pose library, perturbed, and random poses
with finger coupling and synergies) with minimum-jerk transitions of varied durations and holds,
while the wrist turns and translates smoothly in front of a random pinhole camera (``camera``),
starting from one of the ways hands face cameras (``VIEWS``), left or right. Everything is in
anatomical angles (flexion, abduction, twist) clipped to ``skeleton.JOINT_LIMITS_DEG``, then
turned into local rotations with ``kinematics.angles_to_local``, so every rotation respects the
limits.

Generation is vectorised over sequences and frames; the only Python loops run over pose names
and the skeleton's depth.
"""
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.synth.camera import Cameras, sample_cameras

J = sk.JOINT_INDEX
_LONG = ('index', 'middle', 'ring', 'pinky')
_LIMITS = sk.JOINT_LIMITS_DEG  # (21, 3, 2)


# --- pose library ------------------------------------------------------------------------------

def _pose(curl=(0, 0, 0, 0), spread=(0, 0, 0, 0), thumb=(0, 0, 0, 0, 0), mcp=None, pip=None,
          dip=None):
    """Build a (21, 3) angle array from a few readable numbers.

    curl: per long finger (index..pinky) in [0, 1]; 1 is a full fist (MCP 85, PIP 100, DIP 2/3
    of PIP). mcp/pip/dip override the curl per finger. spread: abduction per long finger (deg,
    positive radial). thumb: (cmc flexion, cmc abduction, cmc twist, mcp flexion, ip flexion).
    """
    a = np.zeros((sk.NUM_JOINTS, 3))
    for k, finger in enumerate(_LONG):
        m = 85.0 * curl[k] if mcp is None else mcp[k]
        p = 100.0 * curl[k] if pip is None else pip[k]
        d = 2.0 / 3.0 * p if dip is None else dip[k]
        a[J[f'{finger}_mcp']] = (m, spread[k], 0.0)
        a[J[f'{finger}_pip'], 0] = p
        a[J[f'{finger}_dip'], 0] = d
    cmc_f, cmc_a, cmc_t, mcp_f, ip_f = thumb
    a[J['thumb_cmc']] = (cmc_f, cmc_a, cmc_t)
    a[J['thumb_mcp'], 0] = mcp_f
    a[J['thumb_ip'], 0] = ip_f
    return np.clip(a, _LIMITS[..., 0], _LIMITS[..., 1])


# thumb (cmc flexion, cmc abduction, cmc twist, mcp flexion, ip flexion); the tucked and folded
# thumbs and the pinches were solved (least squares on the reference hand, within the limits) to
# put the thumb tip on the curled fingers or the finger tip
_THUMB_FIST = (5.0, -25.0, -15.0, 36.0, 80.0)       # over the index and middle phalanges
_THUMB_OUT = (-10.0, 10.0, 0.0, 0.0, 0.0)           # spread far from the index
_SPREAD = (8.0, 0.0, -6.0, -12.0)
_FIST = (1.0, 1.0, 1.0, 1.0)
_PINCH_REST = dict(mcp=[10.0, 15.0, 20.0, 25.0], pip=[15.0, 20.0, 25.0, 30.0])


def _pinch(k, thumb, mcp, abduction, pip):
    """Thumb tip on finger k's tip (k = 0 index .. 3 pinky), other fingers slightly flexed."""
    mcps, pips, spread = list(_PINCH_REST['mcp']), list(_PINCH_REST['pip']), [0.0] * 4
    mcps[k], pips[k], spread[k] = mcp, pip, abduction
    return _pose(mcp=mcps, pip=pips, spread=spread, thumb=thumb)


# name -> (21, 3) angles in degrees (flexion, abduction, twist)
POSES = {
    'open': _pose(spread=_SPREAD, thumb=(-5.0, 0.0, 0.0, 0.0, 0.0)),
    'flat': _pose(spread=(-4.0, 0.0, 4.0, 8.0), thumb=(0.0, -10.0, 0.0, 5.0, 5.0)),
    'relaxed': _pose(mcp=(20, 25, 30, 35), pip=(25, 30, 35, 40), thumb=(10, 0, 0, 10, 10)),
    'fist': _pose(curl=_FIST, thumb=_THUMB_FIST),
    'point': _pose(curl=(0.0, 1.0, 1.0, 1.0), thumb=(30.0, -25.0, -15.0, 27.0, 80.0)),
    'thumbs_up': _pose(curl=_FIST, thumb=(-10.0, -20.0, 0.0, 0.0, 0.0)),
    'count_1': _pose(curl=(0.0, 1.0, 1.0, 1.0), thumb=(30.0, -25.0, -15.0, 27.0, 80.0)),
    'count_2': _pose(curl=(0.0, 0.0, 1.0, 1.0), spread=(10.0, -8.0, 0.0, 0.0),
                     thumb=(42.0, -25.0, -15.0, 23.0, 80.0)),
    'count_3': _pose(curl=(0.0, 0.0, 0.0, 1.0), spread=(8.0, 0.0, -8.0, 0.0),
                     thumb=(50.0, -25.0, -15.0, 44.0, 61.0)),
    'count_4': _pose(spread=_SPREAD, thumb=(50.0, -25.0, -15.0, 45.0, 60.0)),
    'count_5': _pose(spread=(10.0, 0.0, -8.0, -15.0), thumb=_THUMB_OUT),
    'pinch_index': _pinch(0, (25.1, -24.6, 5.6, 11.7, 10.4), 43.9, 2.6, 56.6),
    'pinch_middle': _pinch(1, (34.0, -25.0, 1.2, 17.4, 14.0), 49.5, 6.4, 58.7),
    'pinch_ring': _pinch(2, (42.4, -25.0, -8.4, 26.1, 19.2), 53.1, 7.0, 56.0),
    'pinch_pinky': _pinch(3, (50.0, -25.0, -15.0, 38.3, 28.3), 57.3, 6.1, 49.6),
    'grasp_large': _pose(curl=(0.3, 0.3, 0.32, 0.35), thumb=(15.0, -5.0, 0.0, 10.0, 5.0)),
    'grasp_medium': _pose(curl=(0.5, 0.5, 0.52, 0.55), thumb=(25.0, -15.0, 0.0, 20.0, 15.0)),
    'grasp_small': _pose(curl=(0.7, 0.7, 0.72, 0.75), thumb=(35.0, -20.0, -5.0, 30.0, 25.0)),
}
_POSE_STACK = np.stack(list(POSES.values()))  # (P, 21, 3)


# --- random poses ------------------------------------------------------------------------------

def _random_poses(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """(*shape, 21, 3) random poses: neighbouring fingers flex together, DIP ~ 2/3 PIP."""
    n = int(np.prod(shape))
    overall = rng.uniform(0.0, 1.0, size=(n, 1))                        # hand-wide synergy
    own = rng.normal(0.0, 0.35, size=(n, 4))
    own = 0.6 * own + 0.2 * (np.roll(own, 1, axis=1) + np.roll(own, -1, axis=1))  # neighbours
    curl = np.clip(overall + own, 0.0, 1.0)                              # (n, 4)
    mcp = curl * rng.uniform(60.0, 95.0, size=(n, 1)) + rng.normal(0, 6, size=(n, 4))
    pip = curl * rng.uniform(80.0, 110.0, size=(n, 1)) + rng.normal(0, 6, size=(n, 4))
    dip = 2.0 / 3.0 * pip + rng.normal(0.0, 5.0, size=(n, 4))
    spread = (1.0 - 0.7 * curl) * rng.uniform(-0.3, 1.0, size=(n, 1)) * np.array(_SPREAD) \
        + rng.normal(0.0, 3.0, size=(n, 4))
    a = np.zeros((n, sk.NUM_JOINTS, 3))
    for k, finger in enumerate(_LONG):
        a[:, J[f'{finger}_mcp'], 0] = mcp[:, k]
        a[:, J[f'{finger}_mcp'], 1] = spread[:, k]
        a[:, J[f'{finger}_pip'], 0] = pip[:, k]
        a[:, J[f'{finger}_dip'], 0] = dip[:, k]
    thumb = [J['thumb_cmc'], J['thumb_mcp'], J['thumb_ip']]
    low, high = _LIMITS[thumb, :, 0], _LIMITS[thumb, :, 1]                # (3, 3)
    a[:, thumb] = rng.uniform(low, high, size=(n, 3, 3))
    a[:, J['thumb_ip'], 0] = 0.6 * a[:, J['thumb_mcp'], 0] + rng.normal(0, 10, size=n)
    small = rng.normal(0.0, 1.0, size=(n, sk.NUM_JOINTS, 3)) * np.array([0.0, 1.0, 1.0])
    a = a + small                                                      # a little abd/twist play
    return a.reshape(shape + (sk.NUM_JOINTS, 3))


def _keyframe_poses(rng: np.random.Generator, count: int, keys: int,
                    named_fraction: float = 0.6) -> np.ndarray:
    """(count, keys, 21, 3) keyframe angles: perturbed named poses or random poses, clipped."""
    named = _POSE_STACK[rng.integers(0, len(_POSE_STACK), size=(count, keys))]
    named = named + rng.normal(0.0, 4.0, size=named.shape)
    random = _random_poses(rng, (count, keys))
    use_named = rng.random((count, keys, 1, 1)) < named_fraction
    poses = np.where(use_named, named, random)
    return np.clip(poses, _LIMITS[..., 0], _LIMITS[..., 1])


# --- schedules ---------------------------------------------------------------------------------

def _min_jerk(u):
    """Minimum-jerk profile 10u^3 - 15u^4 + 6u^5 for u in [0, 1]."""
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def _schedule(rng, count, num_frames, fps, move_range, hold_prob, hold_range, fast_prob,
              fast_range):
    """Frame-wise keyframe indices and blend weights for `count` sequences.

    Keyframe 0 holds from the start; keyframe k (>= 1) is reached by a transition of duration
    d_k (log-uniform in move_range, or fast_range with probability fast_prob), then held for h_k
    (zero with probability 1 - hold_prob). Returns (prev, next, weight, keys): (count, F) int
    arrays of the keyframes blended at each frame, the (count, F) minimum-jerk weight of `next`,
    and the number of keyframes needed.
    """
    duration = num_frames / fps
    keys = int(np.ceil(duration / min(move_range[0], fast_range[0]))) + 2
    move = np.exp(rng.uniform(np.log(move_range[0]), np.log(move_range[1]), size=(count, keys)))
    fast = rng.uniform(*fast_range, size=(count, keys))
    move = np.where(rng.random((count, keys)) < fast_prob, fast, move)
    hold = np.where(rng.random((count, keys)) < hold_prob,
                    rng.uniform(*hold_range, size=(count, keys)), 0.0)
    hold[:, 0] = rng.uniform(0.0, hold_range[1], size=count)  # start anywhere in a motion
    move[:, 0] = 0.0
    # transition k >= 1 starts at hold_0 + sum_{1 <= j < k} (move_j + hold_j); keyframe 0 is
    # "reached" at -inf so it holds from the first frame
    segment = move[:, 1:] + hold[:, 1:]
    start = np.concatenate([np.full((count, 1), -np.inf),
                            hold[:, :1] + np.cumsum(segment, axis=1) - segment], axis=1)
    t = np.arange(num_frames) / fps                                    # (F,)
    # index of the transition in progress (or last finished) at each frame
    nxt = (start[:, None, :] <= t[None, :, None]).sum(-1) - 1          # (count, F), >= 0
    nxt = np.maximum(nxt, 0)
    s = np.take_along_axis(start, nxt, axis=1)
    d = np.take_along_axis(move, nxt, axis=1)
    u = np.where(nxt == 0, 1.0, np.clip((t[None] - s) / np.maximum(d, 1e-6), 0.0, 1.0))
    prev = np.maximum(nxt - 1, 0)
    return prev, nxt, _min_jerk(u), keys


def _blend(values, prev, nxt, weight):
    """Blend keyframe values (count, K, ...) at frames -> (count, F, ...)."""
    a = np.take_along_axis(values, prev.reshape(prev.shape + (1,) * (values.ndim - 2)), axis=1)
    b = np.take_along_axis(values, nxt.reshape(nxt.shape + (1,) * (values.ndim - 2)), axis=1)
    w = weight.reshape(weight.shape + (1,) * (values.ndim - 2))
    return a + w * (b - a)


# --- wrist: how the hand faces the camera, and where it is ---------------------------------------

# hand frame -> camera optical frame with the palm towards the camera and the fingers pointing up
# (x distal -> -y_cam, y radial -> +x_cam, z dorsal -> +z_cam)
_PALM_TO_CAMERA = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
# the fingers pointing at the lens, palm down (x distal -> -z_cam, z dorsal -> -y_cam)
_FINGERS_TO_CAMERA = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
_EGO_TILT = np.radians(30.0)
# a head-mounted camera behind the hand: the back of the hand seen from above, the fingers
# pointing away and up in the image (x distal -> (0, -sin, cos), y radial -> -x_cam)
_EGOCENTRIC = np.array([[0.0, -1.0, 0.0],
                        [-np.sin(_EGO_TILT), 0.0, -np.cos(_EGO_TILT)],
                        [np.cos(_EGO_TILT), 0.0, -np.sin(_EGO_TILT)]])

# the ways hands face cameras, with how often a sequence starts from each ('any': uniform)
VIEWS = {'palm': 0.30, 'back': 0.20, 'edge': 0.14, 'pointing': 0.08, 'fist_front': 0.08,
         'egocentric': 0.15, 'any': 0.05}
VIEW_NAMES = tuple(VIEWS)
_FIST_POSES = np.stack([POSES[name] for name in ('fist', 'thumbs_up', 'grasp_small')])
HAND_DEPTH_RANGE = (0.2, 1.2)   # metres, hand centre from the camera (log-uniform per sequence)
MIN_JOINT_DEPTH = 0.08          # metres: every joint stays at least this far in front
OFF_CENTRE_PROB = 0.15          # sequences whose hand may sit at (or past) an image edge


def _rot(axis, angle):
    """(...,) angles in radians -> (..., 3, 3) rotations about a coordinate axis 0/1/2."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1.0
    m[..., i, i], m[..., j, j] = c, c
    m[..., i, j], m[..., j, i] = -s, s
    return m


def _view_rotations(rng, count):
    """(count,) view index and (count, 3, 3) base rotation (hand frame -> camera) of each."""
    view = rng.choice(len(VIEWS), size=count, p=np.array(list(VIEWS.values())))
    name = np.array(VIEW_NAMES)[view]
    edge = _PALM_TO_CAMERA @ _rot(0, np.where(rng.random(count) < 0.5, 0.5, -0.5) * np.pi)
    base = np.where((name == 'edge')[:, None, None], edge,
                    np.tile(_PALM_TO_CAMERA, (count, 1, 1)))
    base[name == 'back'] = _PALM_TO_CAMERA @ _rot(0, np.array(np.pi))
    base[(name == 'pointing') | (name == 'fist_front')] = _FINGERS_TO_CAMERA
    base[name == 'egocentric'] = _EGOCENTRIC
    uniform = Rotation.random(count, random_state=rng).as_matrix()
    base[name == 'any'] = uniform[name == 'any']
    return view, base


def _wrist_keys(rng, count, keys):
    """(count, keys, 4) wrist angles (rad) and (count, keys, 3) placement keys.

    Angles: roll in the image plane, then turns about the hand's own axes away from the view's
    base orientation: pronation (about the distal axis), flexion/extension, radial/ulnar
    deviation. Placement: the hand centre's image position (fractions of width and height,
    mostly central, sometimes at an edge) and its depth (m).
    """
    roll = rng.normal(0.0, np.radians(30.0), size=(count, 1)) \
        + rng.normal(0.0, np.radians(20.0), size=(count, keys))
    pron = rng.normal(0.0, np.radians(25.0), size=(count, keys))
    flex = rng.normal(0.0, np.radians(20.0), size=(count, keys))
    dev = rng.normal(0.0, np.radians(10.0), size=(count, keys))
    angles = np.stack([roll, pron, flex, dev], axis=-1)
    off_centre = rng.random((count, 1, 1)) < OFF_CENTRE_PROB
    centre = np.where(off_centre, rng.uniform(-0.05, 1.05, size=(count, 1, 2)),
                      rng.uniform(0.25, 0.75, size=(count, 1, 2)))
    image = centre + rng.normal(0.0, 0.06, size=(count, keys, 2))
    low, high = np.log(HAND_DEPTH_RANGE)
    depth = np.exp(rng.uniform(low, high, size=(count, 1))
                   + rng.normal(0.0, 0.08, size=(count, keys)))
    depth = np.clip(depth, *HAND_DEPTH_RANGE)
    return angles, np.concatenate([image, depth[..., None]], axis=-1)


def _wrist_rotation(base, angles):
    """(B, 3, 3) view bases and (B, F, 4) wrist angles -> (B, F, 3, 3) hand frame in the camera."""
    roll, pron, flex, dev = np.moveaxis(angles, -1, 0)
    # roll about the camera's optical axis, then the hand's own axes (x distal, y radial, z dorsal)
    return _rot(2, roll) @ base[:, None] @ _rot(0, pron) @ _rot(1, flex) @ _rot(2, dev)


def _hand_centres(placement, camera, left):
    """(B, F, 3) placement keys -> (B, F, 3) hand centres in the right-hand (mirrored) frame.

    The centre lies on the ray through its image position in the true camera; a left hand's
    right-hand geometry is the mirror image (camera x flipped), so its x changes sign.
    """
    k = camera.K.numpy()[:, None]                                       # (B, 1, 3, 3)
    size = camera.image_size.numpy()[:, None].astype(np.float64)        # (B, 1, 2)
    pixel = placement[..., :2] * size                                   # (B, F, 2)
    x = (pixel[..., 0] - k[..., 0, 2]) / k[..., 0, 0]
    y = (pixel[..., 1] - k[..., 1, 2]) / k[..., 1, 1]
    x = np.where(left[:, None], -x, x)
    return np.stack([x, y, np.ones_like(x)], axis=-1) * placement[..., 2:]


# --- generator ---------------------------------------------------------------------------------

@dataclass
class HandMotion:
    """A batch of synthetic hand sequences (true, noise-free) in front of their cameras.

    Everything kinematic is the right-hand skeleton's (``hand.skeleton``): a left hand is its
    mirror image, so for a left hand `local_rot`, `root_position` and `positions` are in the
    mirrored camera frame (camera x flipped), as the tracker mirrors left hands for the model.
    `camera_positions()` gives every hand in the true camera frame.
    """

    local_rot: torch.Tensor      # (B, F, 21, 3, 3) float32; row 0 = wrist rotation in the camera
    offsets: torch.Tensor        # (B, 21, 3) float32 metres, per-subject bone offsets
    root_position: torch.Tensor  # (B, F, 3) float32 metres, wrist position in the camera frame
    positions: torch.Tensor      # (B, F, 21, 3) float32 metres, FK of the above
    camera: Cameras              # one pinhole camera per sequence
    left: torch.Tensor           # (B,) bool, a left hand (mirrored right-hand skeleton)
    view: torch.Tensor           # (B,) int64, index into VIEW_NAMES of the starting view

    def camera_positions(self) -> torch.Tensor:
        """(B, F, 21, 3) true joint positions in the true camera frame (left hands mirrored)."""
        sign = torch.where(self.left, -1.0, 1.0).to(self.positions.dtype)
        return self.positions * torch.stack([sign, torch.ones_like(sign), torch.ones_like(sign)],
                                            dim=-1)[:, None, None]


def generate_angles(num_sequences: int, num_frames: int, rng: np.random.Generator,
                    fps: float = 30.0) -> tuple:
    """Angles, view and placement of `num_sequences` sequences.

    Returns finger angles (B, F, 21, 3) deg, wrist angles (B, F, 4) rad, view (B,) and its base
    rotation (B, 3, 3), placement (B, F, 3) (image position as fractions, hand depth m).
    """
    prev, nxt, w, keys = _schedule(rng, num_sequences, num_frames, fps,
                                   move_range=(0.35, 1.2), hold_prob=0.6, hold_range=(0.1, 1.0),
                                   fast_prob=0.25, fast_range=(0.2, 0.3))
    poses = _keyframe_poses(rng, num_sequences, keys)                  # (B, K, 21, 3)
    view, base = _view_rotations(rng, num_sequences)
    fists = _FIST_POSES[rng.integers(0, len(_FIST_POSES), size=(num_sequences, keys))]
    fists = fists + rng.normal(0.0, 4.0, size=fists.shape)
    fist_view = (np.array(VIEW_NAMES)[view] == 'fist_front')[:, None, None, None]
    poses = np.clip(np.where(fist_view, fists, poses), _LIMITS[..., 0], _LIMITS[..., 1])
    angles = _blend(poses, prev, nxt, w)                               # (B, F, 21, 3)
    wprev, wnxt, ww, wkeys = _schedule(rng, num_sequences, num_frames, fps,
                                       move_range=(0.5, 2.0), hold_prob=0.4,
                                       hold_range=(0.2, 1.5), fast_prob=0.1,
                                       fast_range=(0.3, 0.5))
    wrist, placement = _wrist_keys(rng, num_sequences, wkeys)
    wrist = _blend(wrist, wprev, wnxt, ww)                             # (B, F, 4)
    placement = _blend(placement, wprev, wnxt, ww)                     # (B, F, 3)
    angles = np.clip(angles, _LIMITS[..., 0], _LIMITS[..., 1])
    return angles, wrist, view, base, placement


def generate_motion(num_sequences: int, num_frames: int, seed, fps: float = 30.0,
                    camera: Cameras = None, left_fraction: float = 0.5) -> HandMotion:
    """Generate `num_sequences` sequences of `num_frames` frames; `seed` is an int or Generator.

    Each sequence gets a random camera (`sample_cameras`) unless `camera` (one per sequence, or
    one for all) is given, and is a left hand with probability `left_fraction`.
    """
    rng = np.random.default_rng(seed)
    angles, wrist, view, base, placement = generate_angles(num_sequences, num_frames, rng, fps)
    if camera is None:
        camera = sample_cameras(rng, num_sequences)
    elif len(camera.K) != num_sequences:
        camera = Cameras(*(t.expand(num_sequences, *t.shape[1:]) for t in vars(camera).values()))
    left = rng.random(num_sequences) < left_fraction
    offsets = torch.as_tensor(sk.SubjectModel().sample_offsets(rng, num_sequences),
                              dtype=torch.float32)                     # (B, 21, 3)
    local_rot = kin.angles_to_local(torch.as_tensor(angles, dtype=torch.float32))
    local_rot[:, :, 0] = torch.as_tensor(_wrist_rotation(base, wrist), dtype=torch.float32)
    _, hand = kin.forward_kinematics(local_rot, offsets[:, None])       # wrist at the origin
    root_position = torch.as_tensor(_hand_centres(placement, camera, left),
                                    dtype=torch.float32) - hand.mean(-2)  # (B, F, 3)
    # keep every joint in front of the camera: push a sequence back as a whole (stays smooth)
    depth = (root_position[:, :, None, 2] + hand[..., 2]).flatten(1)    # (B, F * 21)
    root_position[..., 2] += (MIN_JOINT_DEPTH - depth.min(1).values).clamp_min(0)[:, None]
    positions = hand + root_position[:, :, None]
    return HandMotion(local_rot, offsets, root_position, positions, camera,
                      torch.as_tensor(left), torch.as_tensor(view))


def pose_positions(name: str, offsets=None) -> torch.Tensor:
    """(21, 3) joint positions in the hand frame of the named pose (reference hand by default)."""
    angles = torch.as_tensor(POSES[name], dtype=torch.float32)
    local_rot = kin.angles_to_local(angles)
    local_rot[0] = torch.eye(3)
    offsets = kin.rest_offsets() if offsets is None else offsets
    return kin.forward_kinematics(local_rot, offsets)[1]


def generation_rate(num_frames: int = 60_000, threads: int = 1, sequence_frames: int = 60,
                    level: str = 'realistic') -> float:
    """Frames per second of motion + camera + MediaPipe observation on `threads` CPU threads."""
    from iknet_ros.synth.mediapipe_model import observe_mediapipe

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        sequences = max(1, num_frames // sequence_frames)
        generate_motion(4, sequence_frames, 0)  # warm-up
        start = time.perf_counter()
        motion = generate_motion(sequences, sequence_frames, 1)
        observe_mediapipe(motion, level, seed=1)
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)
    return sequences * sequence_frames / elapsed
