"""Live hand tracking: keypoint_node + iknet_node (+ optional video_source) and RViz 2.

ros2 launch iknet_ros hand.launch.py image:=/camera/image_raw
ros2 launch iknet_ros hand.launch.py video:=/path/to/hand.mp4 use_rviz:=false
ros2 launch iknet_ros hand.launch.py video:=/path/to/hand.mp4 hand_model:=urdf
ros2 launch iknet_ros hand.launch.py namespace:=cam1 image:=/cam1/image_raw   # one per camera

Under `namespace` every node, topic and parameter of the graph is inside it (hand.yaml is keyed
`/**/<node>`, /tf and /diagnostics stay global) and the joint frames on /tf are prefixed with it.

Works on Humble, Jazzy and Kilted: the optional parts are decided in OpaqueFunctions, not with
`LaunchConfigurationEquals`/`NotEquals` (deprecated, with a warning, on Jazzy) or their
replacements (not in Humble).
"""
import os
import tempfile

from ament_index_python.packages import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction
from launch.conditions import IfCondition
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue


def namespace_of(context) -> str:
    """The graph's namespace without slashes: 'cam1', or '' at the root."""
    return LaunchConfiguration('namespace').perform(context).strip('/')


def tf_prefix(context) -> str:
    """The joint frames' prefix, as iknet_node derives it: tf_prefix, else '<namespace>/'."""
    prefix = LaunchConfiguration('tf_prefix').perform(context).strip('/') or namespace_of(context)
    return f'{prefix}/' if prefix else ''


def hand_state_publishers(context, share):
    """With hand_model:=urdf, a robot_state_publisher per hand's URDF fed by hand/joint_states.

    Each in its own namespace (hand/<side> inside the graph's), so the two hands'
    robot_description topics do not meet; its frames get iknet_node's TF prefix. Without a
    robot_state_publisher install the launch stops here, before any node has started.
    """
    if LaunchConfiguration('hand_model').perform(context) != 'urdf':
        return []
    try:
        get_package_prefix('robot_state_publisher')
    except PackageNotFoundError:
        raise RuntimeError('hand_model:=urdf needs robot_state_publisher, which is not '
                           'installed (ros-<distro>-robot-state-publisher)') from None
    namespace = namespace_of(context)
    joint_states = f'/{namespace}/hand/joint_states' if namespace else '/hand/joint_states'
    nodes = []
    for side in ('right', 'left'):
        with open(os.path.join(share, 'urdf', f'hand_{side}.urdf')) as f:
            description = f.read()
        nodes.append(Node(
            package='robot_state_publisher', executable='robot_state_publisher',
            name='hand_state_publisher', namespace=f'hand/{side}',
            parameters=[{'robot_description': ParameterValue(description, value_type=str),
                         'frame_prefix': tf_prefix(context)}],
            remappings=[('joint_states', joint_states)]))
    return nodes


def video_source(context, params_file, remap_camera):
    """video_source on the `video` file, or nothing when no file is given.

    No frame of the file is lost: the first waits until keypoint_node and iknet_node have
    subscribed (wait_for_graph) and goes again until iknet_node answers it (DDS may connect them
    seconds later), each next one until iknet_node has answered the one before (pace_topic), so
    a busy machine slows the video down rather than drop frames.
    """
    video = LaunchConfiguration('video').perform(context)
    if not video:
        return []
    return [Node(package='iknet_ros', executable='video_source', name='video_source',
                 parameters=[params_file, {'video': video, 'wait_for_graph': True,
                                           'pace_topic': 'hand/joint_rotations'}],
                 remappings=remap_camera, output='screen')]


def namespaced_rviz_config(path: str, namespace: str) -> str:
    """A copy of an RViz config whose topics and camera frame are the namespace's.

    RViz configs name absolute topics (/hand/skeleton) and a fixed frame; under a namespace
    they are /cam1/hand/skeleton and video_source's cam1/camera_optical_frame.
    """
    with open(path) as f:
        text = f.read()
    text = text.replace('Value: /hand/', f'Value: /{namespace}/hand/').replace(
        'Fixed Frame: camera_optical_frame', f'Fixed Frame: {namespace}/camera_optical_frame')
    out = tempfile.NamedTemporaryFile('w', prefix=f'hand_{namespace}_', suffix='.rviz',
                                      delete=False)
    with out:
        out.write(text)
    return out.name


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
    config = LaunchConfiguration('rviz_config').perform(context)
    if namespace_of(context):
        config = namespaced_rviz_config(config, namespace_of(context))
    return [Node(package='rviz2', executable='rviz2', name='rviz2', arguments=['-d', config])]


def generate_launch_description():
    share = get_package_share_directory('iknet_ros')
    image = LaunchConfiguration('image')
    camera_info = LaunchConfiguration('camera_info')
    params_file = LaunchConfiguration('params_file')
    arguments = [
        DeclareLaunchArgument('namespace', default_value='',
                              description='run the graph in this namespace (one per camera): '
                                          'its topics and parameters inside it, its TF frames '
                                          'prefixed with it'),
        DeclareLaunchArgument('tf_prefix', default_value='',
                              description="prefix of the joint frames on /tf; '' = the "
                                          "namespace's (cam1/right_wrist)"),
        DeclareLaunchArgument('image', default_value='camera/image_raw',
                              description='sensor_msgs/Image topic to track hands in (relative '
                                          'names are inside the namespace)'),
        DeclareLaunchArgument('camera_info', default_value='camera/camera_info',
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
                                       'tf_prefix': LaunchConfiguration('tf_prefix'),
                                       'publish_joint_tf': ParameterValue(PythonExpression(
                                           ["'", LaunchConfiguration('hand_model'),
                                            "' != 'urdf'"]), value_type=bool)}],
             output='screen'),
        OpaqueFunction(function=rviz),
    ]
    graph = GroupAction([PushRosNamespace(LaunchConfiguration('namespace')), *nodes])
    return LaunchDescription(arguments + [graph])
