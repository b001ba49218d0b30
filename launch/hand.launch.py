"""Live hand tracking: keypoint_node + iknet_node (+ optional video_source) and RViz 2.

ros2 launch iknet_ros hand.launch.py image:=/camera/image_raw
ros2 launch iknet_ros hand.launch.py video:=/path/to/hand.mp4 use_rviz:=false
ros2 launch iknet_ros hand.launch.py video:=/path/to/hand.mp4 hand_model:=urdf

Works on Humble, Jazzy and Kilted: the optional parts are decided in OpaqueFunctions, not with
`LaunchConfigurationEquals`/`NotEquals` (deprecated, with a warning, on Jazzy) or their
replacements (not in Humble).
"""
import os

from ament_index_python.packages import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def hand_state_publishers(context, share):
    """With hand_model:=urdf, a robot_state_publisher per hand's URDF fed by /hand/joint_states.

    Each in its own namespace, so the two hands' robot_description topics do not meet. Without
    a robot_state_publisher install the launch stops here, before any node has started.
    """
    if LaunchConfiguration('hand_model').perform(context) != 'urdf':
        return []
    try:
        get_package_prefix('robot_state_publisher')
    except PackageNotFoundError:
        raise RuntimeError('hand_model:=urdf needs robot_state_publisher, which is not '
                           'installed (ros-<distro>-robot-state-publisher)') from None
    nodes = []
    for side in ('right', 'left'):
        with open(os.path.join(share, 'urdf', f'hand_{side}.urdf')) as f:
            description = f.read()
        nodes.append(Node(
            package='robot_state_publisher', executable='robot_state_publisher',
            name='hand_state_publisher', namespace=f'hand/{side}',
            parameters=[{'robot_description': ParameterValue(description, value_type=str)}],
            remappings=[('joint_states', '/hand/joint_states')]))
    return nodes


def video_source(context, params_file, remap_camera):
    """video_source on the `video` file, or nothing when no file is given.

    No frame of the file is lost: the first waits until keypoint_node and iknet_node have
    subscribed (wait_for_graph), each next one until keypoint_node has answered the one before
    (pace_topic), so a busy machine slows the video down rather than drop frames.
    """
    video = LaunchConfiguration('video').perform(context)
    if not video:
        return []
    return [Node(package='iknet_ros', executable='video_source', name='video_source',
                 parameters=[params_file, {'video': video, 'wait_for_graph': True,
                                           'pace_topic': '/hand/keypoints'}],
                 remappings=remap_camera, output='screen')]


def rviz(context):
    """RViz 2 when `use_rviz` is true; without an rviz2 install, say so and go on without it."""
    if not IfCondition(LaunchConfiguration('use_rviz')).evaluate(context):
        return []
    try:
        get_package_prefix('rviz2')
    except PackageNotFoundError:
        get_logger('hand.launch.py').warning(
            'rviz2 is not installed: starting without RViz (use_rviz:=false: without the warning)')
        return []
    return [Node(package='rviz2', executable='rviz2', name='rviz2',
                 arguments=['-d', LaunchConfiguration('rviz_config')])]


def generate_launch_description():
    share = get_package_share_directory('iknet_ros')
    image = LaunchConfiguration('image')
    camera_info = LaunchConfiguration('camera_info')
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
        DeclareLaunchArgument('use_rviz', default_value='true',
                              description='start RViz 2 (skipped, with a message, when rviz2 '
                                          'is not installed)'),
        DeclareLaunchArgument('hand_model', default_value='markers', choices=['markers', 'urdf'],
                              description='markers: iknet_node publishes every joint frame on '
                              'TF; urdf: robot_state_publisher publishes them from '
                              'urdf/hand_<side>.urdf fed by /hand/joint_states'),
        DeclareLaunchArgument('rviz_config',
                              default_value=os.path.join(share, 'config', 'hand.rviz'),
                              description='RViz 2 configuration file'),
    ]
    remap_camera = [('image', image), ('camera_info', camera_info)]
    # video_source's camera_info is a pinhole guess: keypoint_node tells iknet_node so
    intrinsics_guessed = ParameterValue(PythonExpression(
        ["'", LaunchConfiguration('video'), "' != ''"]), value_type=bool)
    nodes = [
        OpaqueFunction(function=hand_state_publishers, args=[share]),
        OpaqueFunction(function=video_source, args=[params_file, remap_camera]),
        Node(package='iknet_ros', executable='keypoint_node', name='keypoint_node',
             parameters=[params_file, {'intrinsics_guessed': intrinsics_guessed}],
             remappings=remap_camera, output='screen'),
        Node(package='iknet_ros', executable='iknet_node', name='iknet_node',
             parameters=[params_file, {'device': LaunchConfiguration('device'),
                                       'publish_joint_tf': ParameterValue(PythonExpression(
                                           ["'", LaunchConfiguration('hand_model'),
                                            "' != 'urdf'"]), value_type=bool)}],
             output='screen'),
        OpaqueFunction(function=rviz),
    ]
    return LaunchDescription(arguments + nodes)
