"""iknet_node's message builders: names, frames, the TF tree, markers and the attention layout."""
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from iknet_ros.hand import skeleton as sk
from iknet_ros.ros import messages, names
from iknet_ros.synth.motion import generate_motion


@dataclass
class Estimate:
    """The fields of tracking.tracker.HandEstimate that the builders read."""

    side: str
    quat_xyzw: np.ndarray
    offsets: np.ndarray
    positions: np.ndarray
    attention: np.ndarray
    window_fill: int = 1


def synthetic_estimate(side='right', seed=0, layers=2, window=16):
    """A true synthetic hand pose: local rotations, offsets (row 0 = wrist) and its FK."""
    motion = generate_motion(1, 1, seed)
    rot = motion.local_rot[0, 0].double()
    offsets = motion.offsets[0].double().clone()
    offsets[0] = motion.root_position[0, 0].double()
    positions = motion.positions[0, 0].double().numpy()
    attention = np.random.default_rng(seed).random((layers, window)).astype(np.float32)
    return Estimate(side, Rotation.from_matrix(rot.numpy()).as_quat(), offsets.numpy(), positions,
                    attention / attention.sum(1, keepdims=True))


HEADER = Header(frame_id='camera_optical_frame')
HEADER.stamp.sec, HEADER.stamp.nanosec = 1234, 5678


def quat_matrix(q):
    return Rotation.from_quat(q).as_matrix()


def test_joint_state_names_rotations_and_offsets():
    hands = [synthetic_estimate('right', 0), synthetic_estimate('left', 1)]
    msg = messages.joint_state(HEADER, hands)
    assert msg.header.stamp.sec == 1234 and msg.header.stamp.nanosec == 5678
    assert msg.header.frame_id == 'camera_optical_frame'
    assert list(msg.joint_names) == sk.side_joint_names('right') + sk.side_joint_names('left')
    assert len(msg.transforms) == 2 * sk.NUM_JOINTS
    assert 'right_index_pip' in msg.joint_names
    for k, hand in enumerate(hands):
        for j in range(sk.NUM_JOINTS):
            t = msg.transforms[k * sk.NUM_JOINTS + j]
            got_q = [t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w]
            np.testing.assert_allclose(got_q, hand.quat_xyzw[j])
            np.testing.assert_allclose([t.translation.x, t.translation.y, t.translation.z],
                                       hand.offsets[j])
    assert messages.joint_state(HEADER, []).joint_names == []


def test_tf_tree_is_the_kinematic_tree_rooted_at_the_header_frame():
    hand = synthetic_estimate('right', 2)
    msg = messages.tf_message(HEADER, [hand])
    assert len(msg.transforms) == sk.NUM_JOINTS
    frames = {}
    for tf in msg.transforms:
        assert tf.header.stamp == HEADER.stamp
        frames[tf.child_frame_id] = tf
    names = sk.side_joint_names('right')
    assert set(frames) == set(names)
    assert frames['right_wrist'].header.frame_id == 'camera_optical_frame'
    for j in range(1, sk.NUM_JOINTS):
        assert frames[names[j]].header.frame_id == names[sk.PARENTS[j]]

    # composing the TF chain from the camera frame gives the published joint positions
    def pose(name):
        tf = frames[name]
        t = tf.transform
        rot = quat_matrix([t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w])
        offset = np.array([t.translation.x, t.translation.y, t.translation.z])
        if tf.header.frame_id == 'camera_optical_frame':
            return rot, offset
        parent_rot, parent_pos = pose(tf.header.frame_id)
        return parent_rot @ rot, parent_pos + parent_rot @ offset

    positions = np.stack([pose(name)[1] for name in names])
    np.testing.assert_allclose(positions, hand.positions, atol=1e-6)


def test_tf_parent_of_each_side_is_its_own_chain():
    msg = messages.tf_message(HEADER, [synthetic_estimate('left', 3),
                                       synthetic_estimate('right', 4)])
    for tf in msg.transforms:
        side = tf.child_frame_id.split('_')[0]
        parent = tf.header.frame_id
        assert parent == 'camera_optical_frame' or parent.startswith(side + '_')


def test_a_tf_prefix_names_every_joint_frame_but_not_the_camera():
    msg = messages.tf_message(HEADER, [synthetic_estimate('right', 5)], prefix='cam1/')
    parents = {tf.child_frame_id: tf.header.frame_id for tf in msg.transforms}
    assert set(parents) == {f'cam1/{name}' for name in sk.side_joint_names('right')}
    assert parents['cam1/right_wrist'] == 'camera_optical_frame'
    assert parents['cam1/right_index_pip'] == 'cam1/right_index_mcp'
    assert names.namespace_prefix('/cam1') == 'cam1/' and names.namespace_prefix('/') == ''
    assert names.camera_frame('/a/b') == 'a/b/camera_optical_frame'


def test_skeleton_markers_deleteall_then_bones_and_joints_per_hand():
    hands = [synthetic_estimate('right', 5), synthetic_estimate('left', 6)]
    markers = messages.skeleton_markers(HEADER, hands).markers
    assert markers[0].action == Marker.DELETEALL
    assert len(markers) == 1 + 2 * len(hands)
    for k, hand in enumerate(hands):
        bones, joints = markers[1 + 2 * k], markers[2 + 2 * k]
        assert bones.ns == joints.ns == f'{hand.side}_hand'
        assert bones.id != joints.id
        assert bones.type == Marker.LINE_LIST and joints.type == Marker.SPHERE_LIST
        assert bones.action == joints.action == Marker.ADD
        assert bones.header.frame_id == 'camera_optical_frame' and bones.header.stamp.sec == 1234
        assert 0.002 <= bones.scale.x <= 0.006
        assert 0.005 <= joints.scale.x <= 0.012
        assert len(bones.points) == len(bones.colors) == 2 * len(sk.BONES)
        assert len(joints.points) == len(joints.colors) == sk.NUM_JOINTS
        for j, p in enumerate(joints.points):
            np.testing.assert_allclose([p.x, p.y, p.z], hand.positions[j], atol=1e-9)
        tip = sk.JOINT_INDEX['index_tip']
        c = joints.colors[tip]
        np.testing.assert_allclose([c.r, c.g, c.b], sk.FINGER_COLORS[1], atol=1e-6)
        c = joints.colors[0]
        np.testing.assert_allclose([c.r, c.g, c.b], sk.WRIST_COLOR, atol=1e-6)
        assert all(c.a == 1.0 for c in bones.colors)
        assert bones.pose.orientation.w == 1.0
    # no hands: only the DELETEALL, so every hand disappears
    only = messages.skeleton_markers(HEADER, []).markers
    assert len(only) == 1 and only[0].action == Marker.DELETEALL


def test_attention_layout_names_hands_layers_and_frames():
    hands = [synthetic_estimate('right', 7, layers=2, window=16),
             synthetic_estimate('left', 8, layers=2, window=16)]
    msg = messages.attention_message(hands)
    dims = msg.layout.dim
    assert [d.label for d in dims] == ['hand:right,left', 'layer', 'frame']
    assert [d.size for d in dims] == [2, 2, 16]
    assert [d.stride for d in dims] == [64, 32, 16]
    assert msg.layout.data_offset == 0
    data = np.asarray(msg.data, dtype=np.float32).reshape(2, 2, 16)
    np.testing.assert_allclose(data[1], hands[1].attention)
    # element [hand, layer, frame] sits at hand * stride[1] + layer * stride[2] + frame
    assert msg.data[1 * 32 + 1 * 16 + 15] == pytest.approx(float(hands[1].attention[1, 15]))
    empty = messages.attention_message([])
    assert empty.layout.dim[0].size == 0 and len(empty.data) == 0
