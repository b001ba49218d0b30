"""iknet_node's output messages, built from the tracker's estimates, and read back (no DDS).

Every builder takes the header of the keypoint cloud (the image's stamp and frame, the README's
topic table) so the outputs line up with the image they came from. The readers take any object
with the message's fields (an rclpy message, or one read back from a bag with rosbags).
"""
import array

import numpy as np
from geometry_msgs.msg import Point, Transform, TransformStamped
from sensor_msgs.msg import JointState, MultiDOFJointState
from std_msgs.msg import ColorRGBA, Float32MultiArray, Header, MultiArrayDimension
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from iknet_ros.hand import angles as ha
from iknet_ros.hand import skeleton as sk

BONE_WIDTH = 0.004  # m, line width of the bones
JOINT_DIAMETER = 0.008  # m, sphere size of the joints


def _fill_transforms(transforms: list, est):
    """Write an estimate's local rotations and offsets into one Transform per joint.

    Filled in place: a message constructor given nested messages builds a default of each
    first and throws it away, which doubled the cost of the node's most frequent objects.
    """
    for transform, (x, y, z, w), (tx, ty, tz) in zip(
            transforms, np.asarray(est.quat_xyzw, float).tolist(),
            np.asarray(est.offsets, float).tolist(), strict=True):
        t, r = transform.translation, transform.rotation
        t.x, t.y, t.z = tx, ty, tz
        r.x, r.y, r.z, r.w = x, y, z, w


def joint_state(header: Header, estimates: list) -> MultiDOFJointState:
    """Local joint rotations and bone offsets of every hand, joints named ``<side>_<joint>``."""
    msg = MultiDOFJointState(header=header)
    for est in estimates:
        transforms = [Transform() for _ in range(sk.NUM_JOINTS)]
        _fill_transforms(transforms, est)
        msg.joint_names.extend(sk.side_joint_names(est.side))
        msg.transforms.extend(transforms)
    return msg


def stamp_ns(header) -> int:
    """A header's stamp in nanoseconds.

    Not `rclpy.time.Time.from_msg`, which refuses the stamps of messages read back from a bag.
    """
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def rotations_by_side(msg) -> dict:
    """{side: (quat_xyzw (21, 4), offsets (21, 3))} of a joint-rotations message."""
    sides = {}
    for name, t in zip(msg.joint_names, msg.transforms, strict=True):
        quats, offsets = sides.setdefault(name.split('_', 1)[0], ([], []))
        quats.append((t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w))
        offsets.append((t.translation.x, t.translation.y, t.translation.z))
    return {side: (np.array(q), np.array(o)) for side, (q, o) in sides.items()}


def joint_angles(header: Header, estimates: list) -> JointState:
    """The anatomical angles (rad) of every hand, named ``<side>_<dof>`` as the hand URDF's joints.

    The DOF of ``hand.angles.DOFS`` per hand, in that order; the wrist's pose stays on TF.
    """
    msg = JointState(header=header)
    for est in estimates:
        msg.name.extend(ha.dof_names(est.side))
        msg.position.extend(ha.hand_angles(est.quat_xyzw, est.offsets, est.side).tolist())
    return msg


def tf_message(header: Header, estimates: list, wrist_only: bool = False,
               prefix: str = '') -> TFMessage:
    """Return the kinematic tree as TF frames, rooted at the header frame.

    Each joint's parent frame is its parent joint's, the wrist's is the header frame (the camera),
    so TF composes the same forward kinematics as the skeleton shows. `wrist_only`: just the
    camera -> wrist transforms (robot_state_publisher adds the rest from the URDF). `prefix`
    goes before every joint frame (``cam1/right_wrist``), not before the camera's.
    """
    msg = TFMessage()
    for est in estimates:
        names = [prefix + name for name in sk.side_joint_names(est.side)]
        stamped = [TransformStamped(child_frame_id=name) for name in names]
        for j, ts in enumerate(stamped):
            ts.header.stamp = header.stamp
            ts.header.frame_id = header.frame_id if sk.PARENTS[j] < 0 else names[sk.PARENTS[j]]
        _fill_transforms([ts.transform for ts in stamped], est)
        msg.transforms.extend(stamped[:1] if wrist_only else stamped)
    return msg


def _color(rgb, alpha: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=float(alpha))


_JOINT_COLORS = [_color(sk.joint_color(j)) for j in range(sk.NUM_JOINTS)]  # bones: their child's


def _points(positions) -> list:
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(positions, float).tolist()]


def skeleton_markers(header: Header, estimates: list) -> MarkerArray:
    """Return the RViz skeleton: DELETEALL, then bones and joints per hand.

    The DELETEALL comes first so lost hands vanish; each hand gets a LINE_LIST of bones and a
    SPHERE_LIST of joints in the header frame, coloured per finger, in namespace ``<side>_hand``.
    """
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for est in estimates:
        points = _points(est.positions)
        bones = Marker(header=header, ns=f'{est.side}_hand', id=0, type=Marker.LINE_LIST,
                       action=Marker.ADD)
        bones.pose.orientation.w = 1.0
        bones.scale.x = BONE_WIDTH
        bones.color = _color(sk.WRIST_COLOR)
        bones.points = [points[j] for bone in sk.BONES for j in bone]
        bones.colors = [_JOINT_COLORS[child] for _, child in sk.BONES for _ in range(2)]
        joints = Marker(header=header, ns=f'{est.side}_hand', id=1, type=Marker.SPHERE_LIST,
                        action=Marker.ADD)
        joints.pose.orientation.w = 1.0
        joints.scale.x = joints.scale.y = joints.scale.z = JOINT_DIAMETER
        joints.color = _color(sk.WRIST_COLOR)
        joints.points = points
        joints.colors = list(_JOINT_COLORS)
        markers.extend([bones, joints])
    return MarkerArray(markers=markers)


def attention_message(estimates: list) -> Float32MultiArray:
    """Attention of each hand's newest frame over its window, shape (hand, layer, frame).

    dim[0] is labelled ``hand:<side>,...`` so a reader knows which row is which hand; along
    ``frame`` index T-1 is the newest frame.
    """
    sides = ','.join(est.side for est in estimates)
    if estimates:
        data = np.stack([np.asarray(est.attention, dtype=np.float32) for est in estimates])
    else:
        data = np.zeros((0, 0, 0), dtype=np.float32)
    hands, layers, frames = data.shape
    msg = Float32MultiArray()
    msg.layout.dim = [
        MultiArrayDimension(label=f'hand:{sides}', size=hands, stride=hands * layers * frames),
        MultiArrayDimension(label='layer', size=layers, stride=layers * frames),
        MultiArrayDimension(label='frame', size=frames, stride=frames),
    ]
    msg.layout.data_offset = 0
    msg.data = array.array('f', np.ascontiguousarray(data).tobytes())
    return msg


def attention_by_side(msg) -> dict:
    """{side: (layers, T) attention} of an attention message."""
    dims = msg.layout.dim
    if len(dims) != 3 or not dims[0].size:
        return {}
    sides = dims[0].label.split(':', 1)[1].split(',')
    data = np.asarray(msg.data, np.float32).reshape(dims[0].size, dims[1].size, dims[2].size)
    return dict(zip(sides, data, strict=True))
