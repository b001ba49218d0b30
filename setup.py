"""ament_python package definition of iknet_ros (colcon build and pip install -e . both use it)."""
from glob import glob

from setuptools import find_namespace_packages, setup

package_name = 'iknet_ros'

setup(
    name=package_name,
    version='0.1.0',
    # namespace discovery: the data-only folders iknet_ros/weights/* are packages too (no warning)
    packages=find_namespace_packages(include=[package_name, package_name + '.*'],
                                     exclude=['*.__pycache__']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config',
         glob('config/*.yaml') + glob('config/*.rviz') + glob('config/*.xml')),
        ('share/' + package_name + '/urdf', glob('urdf/*.urdf')),
    ],
    package_data={package_name: ['weights/*/*.safetensors', 'weights/*/*.json', 'synth/*.json',
                                 'samples/*.mp4', 'samples/NOTICE.txt']},
    include_package_data=True,
    zip_safe=True,
    maintainer='iknet_ros developers',
    maintainer_email='iknet-ros@example.com',
    description='Live 3D hand tracking for ROS 2: MediaPipe keypoints to joint rotations '
                'with a sequence IKNet (Transformer over a temporal window).',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'iknet-ros = iknet_ros.cli:main',
            # the nodes start in node_main, which takes SIGINT/SIGTERM before their imports
            'iknet_node = iknet_ros.ros.node_main:iknet_node',
            'keypoint_node = iknet_ros.ros.node_main:keypoint_node',
            'video_source = iknet_ros.ros.node_main:video_source',
        ],
    },
)
