"""Batched, differentiable hand kinematics in torch.

Every function works over any leading dimensions ``...``; the only Python loops run over the
skeleton's depth (4 levels), never over the batch.

Rotation representations (named everywhere; quaternions, at the ROS interface only, come from
scipy's Rotation in (x, y, z, w) order):
* rotation matrix (..., 3, 3).
* ``rot6d``: the continuous 6D representation of Zhou et al. (CVPR 2019), the first two columns
  of the matrix, concatenated column-wise (..., 6).
"""
import torch

from iknet_ros.hand import skeleton as sk


def _depth_slice(depth: int) -> slice:
    """Joints at one depth of all five fingers (0 = the palm's, 3 = the tips), thumb first.

    In MediaPipe order finger f's joints are 1 + 4 f .. 4 + 4 f, each the parent of the next, so
    a strided slice picks one depth of every finger and FK runs one depth at a time.
    """
    return slice(1 + depth, sk.NUM_JOINTS, _FINGER_JOINTS)


_FINGER_JOINTS = 4
assert all(sk.PARENTS[j] == (sk.ROOT if (j - 1) % _FINGER_JOINTS == 0 else j - 1)
           for j in range(1, sk.NUM_JOINTS)), 'kinematics expects MediaPipe joint order'


def _in_joint_order(wrist: torch.Tensor, by_depth: list, item_dims: int) -> torch.Tensor:
    """Gather per-depth results into MediaPipe order.

    wrist: (..., *item) the wrist's; by_depth: four (..., 5, *item), one per depth, fingers in
    order; item_dims: len(item) (2 for rotations, 1 for positions). Returns (..., 21, *item).
    """
    fingers = torch.stack(by_depth, dim=-item_dims - 1)          # (..., 5, 4, *item)
    fingers = fingers.flatten(-item_dims - 2, -item_dims - 1)     # (..., 20, *item)
    return torch.cat([wrist.unsqueeze(-item_dims - 1), fingers], dim=-item_dims - 1)


_PARENTS = torch.from_numpy(sk.PARENT_INDEX)


# --- representations --------------------------------------------------------------------------

def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): first two columns, column after column."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; any 6 numbers give a valid rotation."""
    a, b = rot6d[..., :3], rot6d[..., 3:]
    x = torch.nn.functional.normalize(a, dim=-1)
    y = torch.nn.functional.normalize(b - (x * b).sum(-1, keepdim=True) * x, dim=-1)
    z = torch.cross(x, y, dim=-1)
    return torch.stack([x, y, z], dim=-1)


def geodesic_angle(r_a: torch.Tensor, r_b: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) x2 -> (...) angle in radians of the rotation between them."""
    trace = (r_a.transpose(-1, -2) @ r_b).diagonal(dim1=-2, dim2=-1).sum(-1)
    return torch.acos(((trace - 1) / 2).clamp(-1 + 1e-7, 1 - 1e-7))


# --- skeleton ---------------------------------------------------------------------------------

def rest_offsets(dtype=torch.float32, device=None) -> torch.Tensor:
    """(21, 3) rest bone offsets of the reference hand in metres."""
    return torch.as_tensor(sk.REST_OFFSETS, dtype=dtype, device=device)


def forward_kinematics(local_rot: torch.Tensor, offsets: torch.Tensor,
                       root_position: torch.Tensor = None):
    """Local joint rotations -> global rotations and joint positions.

    local_rot: (..., 21, 3, 3), row 0 is the wrist's rotation in the parent (camera) frame.
    offsets:   (..., 21, 3) offset of each joint from its parent in the parent's rest frame
               (broadcast against local_rot's leading dims).
    root_position: (..., 3) wrist position, default the origin.
    Returns (global_rot (..., 21, 3, 3), positions (..., 21, 3)).
    """
    lead = local_rot.shape[:-3]
    wrist_rot = local_rot[..., 0, :, :]
    wrist_pos = (torch.zeros(lead + (3,), dtype=local_rot.dtype, device=local_rot.device)
                 if root_position is None else root_position.expand(lead + (3,)))
    rot, pos = wrist_rot[..., None, :, :], wrist_pos[..., None, :]  # parents of the palm joints
    rots, positions = [], []
    for depth in range(_FINGER_JOINTS):  # one depth of all five fingers at a time
        joints = _depth_slice(depth)
        pos = pos + (rot @ offsets[..., joints, :, None])[..., 0]   # (..., 5, 3)
        rot = rot @ local_rot[..., joints, :, :]                     # (..., 5, 3, 3)
        rots.append(rot)
        positions.append(pos)
    return (_in_joint_order(wrist_rot, rots, 2), _in_joint_order(wrist_pos, positions, 1))


def global_to_local(global_rot: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3, 3) global rotations -> local (relative to the parent; the wrist unchanged)."""
    parent = global_rot[..., _PARENTS.to(global_rot.device), :, :]
    local = parent.transpose(-1, -2) @ global_rot
    return torch.cat([global_rot[..., :1, :, :], local[..., 1:, :, :]], dim=-3)


def local_to_global(local_rot: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3, 3) local rotations -> global rotations (no positions needed)."""
    zeros = torch.zeros(local_rot.shape[:-3] + (sk.NUM_JOINTS, 3),
                        dtype=local_rot.dtype, device=local_rot.device)
    return forward_kinematics(local_rot, zeros)[0]


def bone_lengths(positions: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3) -> (..., 21) distance of each joint from its parent (0 for the wrist)."""
    return (positions - positions[..., _PARENTS.to(positions.device), :]).norm(dim=-1)


def wrist_frame(positions: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3) joint positions -> (..., 3, 3) canonical hand frame (columns x, y, z).

    x: wrist -> middle MCP (distal); y: pinky MCP -> index MCP (radial), made orthogonal to x;
    z = x cross y (dorsal for a right hand). The frame of the rest pose is the identity.
    """
    wrist = positions[..., sk.JOINT_INDEX['wrist'], :]
    x = positions[..., sk.JOINT_INDEX['middle_mcp'], :] - wrist
    y = (positions[..., sk.JOINT_INDEX['index_mcp'], :]
         - positions[..., sk.JOINT_INDEX['pinky_mcp'], :])
    x = torch.nn.functional.normalize(x, dim=-1)
    y = torch.nn.functional.normalize(y - (x * y).sum(-1, keepdim=True) * x, dim=-1)
    z = torch.cross(x, y, dim=-1)
    frame = torch.stack([x, y, z], dim=-1)
    # the rest pose's wrist->middle MCP and pinky->index MCP directions are not exactly the hand
    # frame's axes; correct by the rest pose's own frame so that the rest pose maps to identity
    return frame @ _REST_FRAME.to(frame).transpose(-1, -2)


def _raw_rest_frame():
    p = torch.as_tensor(sk.REST_POSITIONS, dtype=torch.float64)
    x = torch.nn.functional.normalize(p[sk.JOINT_INDEX['middle_mcp']], dim=-1)
    y = p[sk.JOINT_INDEX['index_mcp']] - p[sk.JOINT_INDEX['pinky_mcp']]
    y = torch.nn.functional.normalize(y - (x * y).sum() * x, dim=-1)
    return torch.stack([x, y, torch.cross(x, y, dim=-1)], dim=-1)


_REST_FRAME = _raw_rest_frame()


# --- anatomical angles ------------------------------------------------------------------------

def _axes(dtype, device):
    return torch.as_tensor(sk.JOINT_AXES, dtype=dtype, device=device)


def angles_to_local(angles_deg: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3) (flexion, abduction, twist) degrees -> (..., 21, 3, 3) local rotations.

    In each joint's axes frame the rotation is Ry(flexion) @ Rz(abduction) @ Rx(twist); flexion
    comes first so that flexions beyond 90 degrees (PIP) stay unambiguous.
    """
    f, a, t = torch.deg2rad(angles_deg).unbind(-1)
    one, zero = torch.ones_like(f), torch.zeros_like(f)
    ry = torch.stack([f.cos(), zero, f.sin(), zero, one, zero, -f.sin(), zero, f.cos()], -1)
    rz = torch.stack([a.cos(), -a.sin(), zero, a.sin(), a.cos(), zero, zero, zero, one], -1)
    rx = torch.stack([one, zero, zero, zero, t.cos(), -t.sin(), zero, t.sin(), t.cos()], -1)
    shape = f.shape + (3, 3)
    m = ry.reshape(shape) @ rz.reshape(shape) @ rx.reshape(shape)
    axes = _axes(m.dtype, m.device)
    return axes @ m @ axes.transpose(-1, -2)


def local_to_angles(local_rot: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3, 3) local rotations -> (..., 21, 3) (flexion, abduction, twist) in degrees.

    The inverse of `angles_to_local` (abduction within +-90 degrees). The wrist row is the
    wrist's rotation decomposed in the hand frame; tips carry no meaning.
    """
    axes = _axes(local_rot.dtype, local_rot.device)
    m = axes.transpose(-1, -2) @ local_rot @ axes
    abduction = torch.asin(m[..., 1, 0].clamp(-1, 1))
    flexion = torch.atan2(-m[..., 2, 0], m[..., 0, 0])
    twist = torch.atan2(-m[..., 1, 2], m[..., 1, 1])
    return torch.rad2deg(torch.stack([flexion, abduction, twist], dim=-1))


# --- analytic inverse kinematics ----------------------------------------------------------------

def swing_rotation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., 3) unit vectors a, b -> (..., 3, 3) the smallest rotation taking a onto b."""
    v = torch.cross(a, b, dim=-1)
    c = (a * b).sum(-1)[..., None, None]
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(v.shape + (3,))
    eye = torch.eye(3, dtype=a.dtype, device=a.device)
    return eye + k + (k @ k) / (1 + c).clamp_min(1e-6)


def aim_bones(local_rot: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Turn each joint of a pose so that its bone points at the given positions.

    local_rot: (..., 21, 3, 3) a pose (the wrist row in the parent frame, kept as it is);
    positions: (..., 21, 3) where the joints should be. Every articulated joint gets the smallest
    extra rotation that points its bone at its child's position, so each joint keeps its twist;
    FK of the result on bones of the positions' lengths reproduces every finger bone's direction.
    """
    rest_dir = torch.nn.functional.normalize(rest_offsets(positions.dtype, positions.device),
                                             dim=-1)                          # (21, 3)
    parent = local_rot[..., :1, :, :]  # global rotation of the palm joints' parent, the wrist
    aimed = []
    for depth in range(_FINGER_JOINTS - 1):  # the tips have no bone to aim
        joints, children = _depth_slice(depth), _depth_slice(depth + 1)
        bone = torch.nn.functional.normalize(positions[..., children, :]
                                             - positions[..., joints, :], dim=-1)  # (..., 5, 3)
        wanted = (parent.transpose(-1, -2) @ bone[..., None])[..., 0]      # in parent frames
        local = local_rot[..., joints, :, :]                                 # (..., 5, 3, 3)
        current = (local @ rest_dir[children, :, None])[..., 0]
        local = swing_rotation(current, wanted) @ local
        aimed.append(local)
        parent = parent @ local
    aimed.append(local_rot[..., _depth_slice(_FINGER_JOINTS - 1), :, :])
    return _in_joint_order(local_rot[..., 0, :, :], aimed, 2)


def swing_ik(positions: torch.Tensor) -> torch.Tensor:
    """(..., 21, 3) joint positions -> (..., 21, 3, 3) local rotations without twist.

    The closed-form inverse of `forward_kinematics` up to twist: the wrist gets the canonical hand
    frame, every other articulated joint the smallest rotation that points its bone at the
    observed child. FK of the result on the observed bone lengths reproduces every finger bone's
    direction exactly; the learned models refine it.
    """
    eye = torch.eye(3, dtype=positions.dtype, device=positions.device)
    rest = eye.expand(positions.shape[:-2] + (sk.NUM_JOINTS, 3, 3))
    rest = torch.cat([wrist_frame(positions)[..., None, :, :], rest[..., 1:, :, :]], dim=-3)
    return aim_bones(rest, positions)


# --- the skeleton of a pose, and where it is in the camera --------------------------------------

_PALM_CHILDREN = torch.tensor([j for j in range(1, sk.NUM_JOINTS) if sk.PARENTS[j] == sk.ROOT])


def skeleton_offsets(lengths: torch.Tensor, palm: torch.Tensor) -> torch.Tensor:
    """Bone offsets for `forward_kinematics` of a pose from swing IK.

    lengths: (..., 21) bone lengths; palm: (..., 21, 3) each joint relative to the wrist in the
    wrist's frame (only the palm bones', wrist -> CMC/MCP, are used). Finger bones lie along their
    rest directions (swing IK aims those), the palm keeps its own layout: the palm is not rigid
    and no rotation of the rest palm reproduces it. Returns (..., 21, 3), the wrist row zero.
    """
    offsets = torch.nn.functional.normalize(rest_offsets(lengths.dtype, lengths.device), dim=-1)
    offsets = offsets * lengths[..., None]                                  # (..., 21, 3)
    children = _PALM_CHILDREN.to(lengths.device)
    palm = torch.nn.functional.normalize(palm[..., children, :], dim=-1) \
        * lengths[..., children, None]                                      # (..., 5, 3)
    offsets = offsets.index_copy(-2, children, palm)
    return torch.cat([torch.zeros_like(offsets[..., :1, :]), offsets[..., 1:, :]], dim=-2)


def place_on_rays(points: torch.Tensor, rays: torch.Tensor) -> torch.Tensor:
    """The translation that puts `points` on the camera rays `rays`, in least squares.

    points: (..., N, 3) a rigid shape in camera axes; rays: (..., N, 2) normalised image
    coordinates (x/z, y/z) where its points are seen. Minimises, over t, the sum over points of
    ((X + tx) - a (Z + tz))^2 + ((Y + ty) - b (Z + tz))^2: linear in t, solved by its 3x3 normal
    equations (differentiable). Returns t (..., 3).
    """
    a, b = rays[..., 0], rays[..., 1]                                      # (..., N)
    x, y, z = points.unbind(-1)
    r1, r2 = a * z - x, b * z - y
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    normal = torch.stack([one, zero, -a, zero, one, -b, -a, -b, a * a + b * b], dim=-1)
    normal = normal.sum(-2).reshape(a.shape[:-1] + (3, 3))                  # (..., 3, 3)
    rhs = torch.stack([r1, r2, -a * r1 - b * r2], dim=-1).sum(-2)           # (..., 3)
    return torch.linalg.solve(normal, rhs[..., None])[..., 0]
