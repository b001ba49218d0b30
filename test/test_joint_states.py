"""iknet_node's /hand/joint_states over real DDS: stamps, names, URDF FK, limits, URDF-mode TF.

Also `iknet-ros urdf --bone-lengths` on a recorded MCAP bag of /hand/joint_rotations.
"""
import io
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yourdfpy
from conftest import header_at
from rclpy.node import Node
from rclpy.parameter import Parameter
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import JointState, MultiDOFJointState, PointCloud2
from tf2_msgs.msg import TFMessage

from iknet_ros import cli
from iknet_ros.hand import angles as ha
from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.hand.urdf import bone_lengths_of, hand_urdf
from iknet_ros.ros import messages
from iknet_ros.ros.conversions import keypoints_to_cloud
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.iknet_node import IKNetNode
from iknet_ros.ros.recording import BagRecorder
from iknet_ros.synth.motion import generate_motion
from iknet_ros.synth.observation import observe

pytestmark = pytest.mark.usefixtures('one_torch_thread')

FRAME = 'test_optical_frame'




@pytest.fixture(scope='module')
def keypoints():
    """(F, 21, 3) detector-like keypoints of a right hand in a camera frame."""
    motion = generate_motion(1, 12, seed=31)
    return observe(motion.positions, 'realistic', seed=32).keypoints[0].double().numpy()


def hand(side, xyz):
    return HandKeypoints(side=side, xyz=xyz, uv=np.zeros((sk.NUM_JOINTS, 2)), score=0.9)


def header(t, frame_id=FRAME):
    return header_at(t, frame_id)


class Listener:
    """Publishes keypoint clouds to iknet_node and keeps what comes back, by stamp."""

    def __init__(self, graph, iknet):
        self.node = graph.add(Node('test_joint_states', context=graph.context))
        self.iknet = iknet
        self.pub = self.node.create_publisher(PointCloud2, '/hand/keypoints', 10)
        self.got = {JointState: [], MultiDOFJointState: [], TFMessage: []}
        for msg_type, topic in ((JointState, '/hand/joint_states'),
                                (MultiDOFJointState, '/hand/joint_rotations'), (TFMessage, '/tf')):
            self.node.create_subscription(msg_type, topic, self.got[msg_type].append, 100)
        assert wait_for(lambda: self.pub.get_subscription_count() > 0
                        and iknet.angles_pub.get_subscription_count() > 0
                        and iknet.tf_pub.get_subscription_count() > 0, 10), \
            'iknet_node and the test node did not discover each other'

    def send(self, cloud) -> dict:
        """Publish a cloud; {message type: the answer with its stamp}."""
        self.pub.publish(cloud)
        stamp = cloud.header.stamp

        def stamp_of(msg):
            return msg.transforms[0].header.stamp if isinstance(msg, TFMessage) else \
                msg.header.stamp

        def answers():
            found = {t: next((m for m in box if stamp_of(m) == stamp), None)
                     for t, box in self.got.items()}
            return found if all(found.values()) else None

        found = wait_for(answers, 10.0)
        assert found, 'iknet_node did not answer the cloud on every topic'
        return found


def start(ros_graph, **params):
    iknet = ros_graph.add(IKNetNode(context=ros_graph.context, parameter_overrides=[
        Parameter('device', value='cpu')]
        + [Parameter(k, value=v) for k, v in params.items()]))
    return iknet, Listener(ros_graph, iknet)


def rotations_of(msg: MultiDOFJointState, side: str):
    """(21, 4) quaternions and (21, 3) offsets of one hand in a joint-rotations message."""
    by_name = dict(zip(msg.joint_names, msg.transforms, strict=True))
    ts = [by_name[n] for n in sk.side_joint_names(side)]
    return (np.array([[t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w] for t in ts]),
            np.array([[t.translation.x, t.translation.y, t.translation.z] for t in ts]))


def test_joint_states_carry_the_cloud_stamp_and_drive_the_urdf(ros_graph, keypoints):
    iknet, listener = start(ros_graph)
    for f, xyz in enumerate(keypoints):
        cloud = keypoints_to_cloud(header(50.0 + f / 30.0),
                                   [hand('right', xyz), hand('left', xyz @ sk.MIRROR)])
        got = listener.send(cloud)
        states, rotations = got[JointState], got[MultiDOFJointState]
        assert states.header.stamp == cloud.header.stamp and states.header.frame_id == FRAME
        assert list(states.name) == ha.dof_names('right') + ha.dof_names('left')
        assert len(states.position) == 2 * ha.NUM_DOFS
        published = np.reshape(states.position, (2, ha.NUM_DOFS))
        np.testing.assert_allclose(published[0], published[1], atol=1e-6)  # mirrored hands
        for k, side in enumerate(('right', 'left')):
            quat, offsets = rotations_of(rotations, side)
            np.testing.assert_allclose(published[k], ha.hand_angles(quat, offsets, side),
                                       atol=1e-9)
            robot = yourdfpy.URDF.load(io.StringIO(hand_urdf(side, bone_lengths_of(offsets))),
                                       build_scene_graph=True, load_meshes=False)
            robot.update_cfg(dict(zip(states.name[k * ha.NUM_DOFS:(k + 1) * ha.NUM_DOFS],
                                      published[k], strict=True)))
            names = sk.side_joint_names(side)
            wrist = np.eye(4)
            wrist[:3, :3], wrist[:3, 3] = Rotation.from_quat(quat[0]).as_matrix(), offsets[0]
            urdf = np.array([(wrist @ robot.get_transform(n, names[0]))[:3, 3] for n in names])
            rot = torch.from_numpy(Rotation.from_quat(quat).as_matrix())
            skeleton = kin.forward_kinematics(rot, torch.from_numpy(offsets))[1].numpy()
            skeleton = skeleton - skeleton[0] + offsets[0]
            assert np.linalg.norm(urdf - skeleton, axis=-1).max() < 1e-3  # m
    assert iknet.hands_angled == 2 * len(keypoints)
    assert len(listener.got[TFMessage][-1].transforms) == 2 * sk.NUM_JOINTS  # every joint frame


def test_angles_outside_the_limits_are_counted_and_named(ros_graph):
    iknet, listener = start(ros_graph)
    angles = np.zeros(ha.NUM_DOFS)
    listener.send(keypoints_to_cloud(header(10.0), [hand('right', pose_keypoints(angles))]))
    assert iknet.hands_angled == 1 and iknet.hands_outside_limits == 0
    angles[ha.dof_names('right').index('right_index_pip_flexion')] = np.radians(-60.0)
    # stamps far apart: each cloud starts a new track; the model's pose is near the one sent
    listener.send(keypoints_to_cloud(header(20.0), [hand('right', pose_keypoints(angles))]))
    assert iknet.hands_angled == 2 and iknet.hands_outside_limits == 1
    # the worst first; the model pulls a pose no hand takes partly back towards the range
    (name, excess), *others = iknet.last_limit_report
    assert name == 'right_index_pip_flexion' and 30.0 < excess <= 65.0
    assert all(other < excess for _, other in others)


def pose_keypoints(angles):
    """(21, 3) joints 0.5 m in front of the camera of the rest hand at DOF `angles`."""
    quat, offsets = ha.angles_to_pose(angles)
    rot = torch.from_numpy(Rotation.from_quat(quat).as_matrix())
    return kin.forward_kinematics(rot, torch.from_numpy(offsets))[1].numpy() + [0.0, 0.0, 0.5]


def test_urdf_mode_publishes_only_the_camera_to_wrist_transforms(ros_graph, keypoints):
    iknet, listener = start(ros_graph, publish_joint_tf=False)
    got = listener.send(keypoints_to_cloud(header(5.0), [hand('right', keypoints[0]),
                                                        hand('left', keypoints[0] @ sk.MIRROR)]))
    tf = got[TFMessage]
    assert {(t.header.frame_id, t.child_frame_id) for t in tf.transforms} == \
        {(FRAME, 'right_wrist'), (FRAME, 'left_wrist')}  # the URDFs' root links
    assert len(got[JointState].name) == 2 * ha.NUM_DOFS


def test_urdf_command_reads_bone_lengths_from_a_bag(tmp_path):
    motion = generate_motion(1, 1, seed=3)
    offsets = motion.offsets[0].double().numpy() * 1.05                 # (21, 3)
    offsets[0] = [0.1, 0.0, 0.4]
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (sk.NUM_JOINTS, 1))

    estimate = SimpleNamespace(side='left', quat_xyzw=quat, offsets=offsets @ sk.MIRROR)
    bag = tmp_path / 'run'
    recorder = BagRecorder(bag)
    for t in range(3):
        recorder.write('/hand/joint_rotations', messages.joint_state(header(t), [estimate]), t)
    recorder.close()
    out = tmp_path / 'left.urdf'
    assert cli.main(['urdf', '--side', 'left', '--bone-lengths', str(bag),
                     '--out', str(out)]) == 0
    assert out.read_text() == hand_urdf('left', bone_lengths_of(offsets))
    assert cli.main(['urdf', '--side', 'right', '--bone-lengths', str(bag)]) == 2  # no right
