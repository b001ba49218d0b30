"""iknet_node's output messages, built from the tracker's estimates (pure: no node, no DDS).

Every builder takes the header of the keypoint cloud (the image's stamp and frame, see DESIGN.md's
topic contract) so the outputs line up with the image they came from.
"""
import array

import numpy as np
from geometry_msgs.msg import Point, Quaternion, Transform, TransformStamped, Vector3
from sensor_msgs.msg import MultiDOFJointState
from std_msgs.msg import ColorRGBA, Float32MultiArray, Header, MultiArrayDimension
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from iknet_ros.hand import skeleton as sk

BONE_WIDTH = 0.004  # m, line width of the bones
JOINT_DIAMETER = 0.008  # m, sphere size of the joints


def _transform(quat_xyzw, offset) -> Transform:
    x, y, z, w = (float(v) for v in quat_xyzw)
    tx, ty, tz = (float(v) for v in offset)
    return Transform(translation=Vector3(x=tx, y=ty, z=tz),
                     rotation=Quaternion(x=x, y=y, z=z, w=w))


def joint_state(header: Header, estimates: list) -> MultiDOFJointState:
    """Local joint rotations and bone offsets of every hand, joints named ``<side>_<joint>``."""
    msg = MultiDOFJointState(header=header)
    for est in estimates:
        msg.joint_names.extend(sk.side_joint_names(est.side))
        msg.transforms.extend(_transform(q, t)
                              for q, t in zip(est.quat_xyzw, est.offsets, strict=True))
    return msg


def tf_message(header: Header, estimates: list) -> TFMessage:
    """Return the kinematic tree as TF frames, rooted at the header frame.

    Each joint's parent frame is its parent joint's, the wrist's is the header frame (the camera),
    so TF composes the same forward kinematics as the skeleton shows.
    """
    msg = TFMessage()
    for est in estimates:
        names = sk.side_joint_names(est.side)
        for j, (q, t) in enumerate(zip(est.quat_xyzw, est.offsets, strict=True)):
            parent = header.frame_id if sk.PARENTS[j] < 0 else names[sk.PARENTS[j]]
            msg.transforms.append(TransformStamped(
                header=Header(stamp=header.stamp, frame_id=parent), child_frame_id=names[j],
                transform=_transform(q, t)))
    return msg


def _color(rgb, alpha: float = 1.0) -> ColorRGBA:
    return ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=float(alpha))


def joint_color(joint: int) -> tuple:
    """RGB of a joint: its finger's colour, the wrist grey."""
    finger = sk.FINGER_OF_JOINT[joint]
    return sk.WRIST_COLOR if finger < 0 else sk.FINGER_COLORS[finger]


def _point(p) -> Point:
    return Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))


def skeleton_markers(header: Header, estimates: list) -> MarkerArray:
    """Return the RViz skeleton: DELETEALL, then bones and joints per hand.

    The DELETEALL comes first so lost hands vanish; each hand gets a LINE_LIST of bones and a
    SPHERE_LIST of joints in the header frame, coloured per finger, in namespace ``<side>_hand``.
    """
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    for est in estimates:
        positions = np.asarray(est.positions, dtype=np.float64)
        bones = Marker(header=header, ns=f'{est.side}_hand', id=0, type=Marker.LINE_LIST,
                       action=Marker.ADD)
        bones.pose.orientation.w = 1.0
        bones.scale.x = BONE_WIDTH
        bones.color = _color(sk.WRIST_COLOR)
        for parent, child in sk.BONES:
            color = _color(joint_color(child))  # a bone takes the colour of its finger
            bones.points.extend([_point(positions[parent]), _point(positions[child])])
            bones.colors.extend([color, color])
        joints = Marker(header=header, ns=f'{est.side}_hand', id=1, type=Marker.SPHERE_LIST,
                        action=Marker.ADD)
        joints.pose.orientation.w = 1.0
        joints.scale.x = joints.scale.y = joints.scale.z = JOINT_DIAMETER
        joints.color = _color(sk.WRIST_COLOR)
        joints.points = [_point(p) for p in positions]
        joints.colors = [_color(joint_color(j)) for j in range(sk.NUM_JOINTS)]
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
