"""Live hand tracking: keypoint_node + iknet_node (+ optional video_source) and RViz 2.

ros2 launch iknet_ros hand.launch.py image:=/camera/image_raw
ros2 launch iknet_ros hand.launch.py video:=/path/to/hand.mp4
ros2 launch iknet_ros hand.launch.py video:=/path/to/hand.mp4 hand_model:=urdf
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, LaunchConfigurationEquals, LaunchConfigurationNotEquals
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def hand_state_publisher(side, urdf):
    """robot_state_publisher of one hand's URDF, fed by /hand/joint_states (hand_model:=urdf).

    In its own namespace, so the two hands' robot_description topics do not meet.
    """
    with open(urdf) as f:
        description = f.read()
    return Node(package='robot_state_publisher', executable='robot_state_publisher',
                name='hand_state_publisher', namespace=f'hand/{side}',
                parameters=[{'robot_description': ParameterValue(description, value_type=str)}],
                remappings=[('joint_states', '/hand/joint_states')],
                condition=LaunchConfigurationEquals('hand_model', 'urdf'))


def generate_launch_description():
    share = get_package_share_directory('iknet_ros')
    image = LaunchConfiguration('image')
    camera_info = LaunchConfiguration('camera_info')
    video = LaunchConfiguration('video')
    params_file = LaunchConfiguration('params_file')
    arguments = [
        DeclareLaunchArgument('image', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic to track hands in'),
        DeclareLaunchArgument('camera_info', default_value='/camera/camera_info',
                              description='sensor_msgs/CameraInfo topic (optional)'),
        DeclareLaunchArgument('video', default_value='',
                              description='play this video file instead of a camera topic'),
        DeclareLaunchArgument('device', default_value='auto',
                              description='iknet_node inference device: auto, cpu or cuda'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'hand.yaml'),
                              description='YAML parameters of the nodes'),
        DeclareLaunchArgument('use_rviz', default_value='true', description='start RViz 2'),
        DeclareLaunchArgument('hand_model', default_value='markers', choices=['markers', 'urdf'],
                              description='markers: iknet_node publishes every joint frame on '
                              'TF; urdf: robot_state_publisher publishes them from '
                              'urdf/hand_<side>.urdf fed by /hand/joint_states'),
        DeclareLaunchArgument('rviz_config',
                              default_value=os.path.join(share, 'config', 'hand.rviz'),
                              description='RViz 2 configuration file'),
    ]
    remap_camera = [('image', image), ('camera_info', camera_info)]
    nodes = [
        Node(package='iknet_ros', executable='video_source', name='video_source',
             parameters=[params_file, {'video': video}],
             remappings=remap_camera,
             condition=LaunchConfigurationNotEquals('video', '')),
        Node(package='iknet_ros', executable='keypoint_node', name='keypoint_node',
             parameters=[params_file], remappings=remap_camera, output='screen'),
        Node(package='iknet_ros', executable='iknet_node', name='iknet_node',
             parameters=[params_file, {'device': LaunchConfiguration('device'),
                                       'publish_joint_tf': ParameterValue(PythonExpression(
                                           ["'", LaunchConfiguration('hand_model'),
                                            "' != 'urdf'"]), value_type=bool)}],
             output='screen'),
        Node(package='rviz2', executable='rviz2', name='rviz2',
             arguments=['-d', LaunchConfiguration('rviz_config')],
             condition=IfCondition(LaunchConfiguration('use_rviz'))),
        hand_state_publisher('right', os.path.join(share, 'urdf', 'hand_right.urdf')),
        hand_state_publisher('left', os.path.join(share, 'urdf', 'hand_left.urdf')),
    ]
    return LaunchDescription(arguments + nodes)
