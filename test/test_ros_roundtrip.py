"""A real rclpy round trip over DDS of the message types the contract publishes."""
from geometry_msgs.msg import Quaternion, Transform, TransformStamped, Vector3
from rclpy.node import Node
from sensor_msgs.msg import MultiDOFJointState
from tf2_msgs.msg import TFMessage

from iknet_ros.ros.graph import wait_for


def test_tf_and_joint_state_cross_dds(ros_graph):
    talker = ros_graph.add(Node('roundtrip_talker', context=ros_graph.context))
    listener = ros_graph.add(Node('roundtrip_listener', context=ros_graph.context))
    got_tf, got_joints = [], []
    listener.create_subscription(TFMessage, '/tf', got_tf.append, 10)
    listener.create_subscription(MultiDOFJointState, '/hand/joint_rotations', got_joints.append, 10)
    tf_pub = talker.create_publisher(TFMessage, '/tf', 10)
    joint_pub = talker.create_publisher(MultiDOFJointState, '/hand/joint_rotations', 10)

    rotation = Quaternion(x=0.0, y=0.0, z=0.6, w=0.8)
    transform = Transform(translation=Vector3(x=0.01, y=0.02, z=0.5), rotation=rotation)
    tf = TransformStamped(transform=transform)
    tf.header.frame_id = 'camera_optical_frame'
    tf.header.stamp.sec = 42
    tf.child_frame_id = 'right_wrist'
    joints = MultiDOFJointState(joint_names=['right_wrist', 'right_index_pip'],
                                transforms=[transform, Transform()])
    joints.header = tf.header

    def delivered():
        tf_pub.publish(TFMessage(transforms=[tf]))
        joint_pub.publish(joints)
        return got_tf and got_joints

    assert wait_for(delivered, timeout=15, interval=0.1), 'messages did not arrive over DDS'
    received_tf = got_tf[0].transforms[0]
    assert received_tf.child_frame_id == 'right_wrist'
    assert received_tf.header.frame_id == 'camera_optical_frame'
    assert received_tf.header.stamp.sec == 42
    assert received_tf.transform.rotation.z == 0.6 and received_tf.transform.rotation.w == 0.8
    assert received_tf.transform.translation.z == 0.5
    received = got_joints[0]
    assert list(received.joint_names) == ['right_wrist', 'right_index_pip']
    assert received.transforms[0].translation.y == 0.02
    assert received.transforms[1].rotation.w == 1.0
    assert received.header.stamp.sec == 42
