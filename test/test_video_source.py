"""video_source and its frame reader: frames and camera_info over DDS, capture stamps, errors."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import cv2
import numpy as np
import pytest
from conftest import REAL_VIDEO, require_real
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from iknet_ros.detect.video import VideoFrames, VideoSourceError
from iknet_ros.ros import node_main
from iknet_ros.ros.conversions import image_to_rgb
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.video_source import VideoSource, pinhole_camera_info


def start(graph, **parameters):
    overrides = [Parameter(name, value=value) for name, value in parameters.items()]
    node = graph.add(VideoSource(context=graph.context, parameter_overrides=overrides))
    listener = graph.add(Node('test_listener', context=graph.context))
    images, infos = [], []
    listener.create_subscription(Image, 'image', images.append, qos_profile_sensor_data)
    listener.create_subscription(CameraInfo, 'camera_info', infos.append,
                                 qos_profile_sensor_data)
    return node, images, infos


def test_video_frames_reads_the_whole_file(small_video):
    with VideoFrames(small_video) as video:
        assert video.size == (64, 48) and video.fps == pytest.approx(30.0)
        levels = [int(frame.mean()) for frame in video]
    assert len(levels) == 8 and all(abs(a - 20 * i) <= 2 for i, a in enumerate(levels))
    with VideoFrames(str(small_video), loop=True) as video:
        assert len([video.read() for _ in range(20)]) == 20 and video.read() is not None


def test_real_video_properties():
    with VideoFrames(require_real(REAL_VIDEO)) as video:
        assert video.size == (1280, 720) and video.frame_count == 621
        assert video.fps == pytest.approx(30.0, abs=0.1)


def test_missing_unreadable_or_absent_sources_fail_clearly(tmp_path):
    with pytest.raises(VideoSourceError, match='video file not found: .*missing.mp4'):
        VideoFrames(tmp_path / 'missing.mp4')
    junk = tmp_path / 'junk.mp4'
    junk.write_bytes(b'\0' * 1000)
    with pytest.raises(VideoSourceError, match='cannot (open|read a frame from) video file'):
        VideoFrames(junk)
    with pytest.raises(VideoSourceError, match='cannot open camera 63'):
        VideoFrames(63)


def test_publishes_every_frame_with_camera_info_and_capture_stamps(ros_graph, small_video):
    node, images, infos = start(ros_graph, video=str(small_video), wait_for_subscriber=True)
    assert wait_for(node.finished.is_set, 10), 'the video did not end'
    assert node.published == 8
    assert wait_for(lambda: len(images) == 8 and len(infos) == 8, 3), (len(images), len(infos))
    stamps = [m.header.stamp.sec * 1e9 + m.header.stamp.nanosec for m in images]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    spacing = np.diff(stamps) / 1e9
    assert 0.02 < np.median(spacing) < 0.05  # at the file's 30 fps
    assert [m.header for m in infos] == [m.header for m in images]
    first = images[0]
    assert first.header.frame_id == 'camera_optical_frame' and first.encoding == 'rgb8'
    assert image_to_rgb(first).shape == (48, 64, 3)
    assert [int(image_to_rgb(m).mean()) // 10 for m in images[:3]] == [0, 2, 4]
    info = infos[0]
    assert (info.width, info.height) == (64, 48) and info.k[2] == 32.0 and info.k[5] == 24.0
    assert info.k[0] == pytest.approx(32.0 / np.tan(np.radians(65.0 / 2)))


def test_loop_bgr8_and_frame_id(ros_graph, small_video):
    node, images, infos = start(ros_graph, video=str(small_video), loop=True, fps=120.0,
                                encoding='bgr8', frame_id='cam', fx=500.0)
    assert wait_for(lambda: len(images) > 12, 10), 'a looping video kept publishing'
    assert not node.finished.is_set()
    assert {m.encoding for m in images} == {'bgr8'} and images[0].header.frame_id == 'cam'
    assert infos and infos[0].k[0] == 500.0 and infos[0].p[0] == 500.0


def test_bad_parameters_fail_clearly(ros_graph, tmp_path):
    with pytest.raises(VideoSourceError, match='video file not found'):
        VideoSource(context=ros_graph.context,
                    parameter_overrides=[Parameter('video', value=str(tmp_path / 'x.mp4'))])
    with pytest.raises(ValueError, match='set the video parameter'):
        VideoSource(context=ros_graph.context)
    with pytest.raises(ValueError, match='fov_deg must be in'):
        pinhole_camera_info(64, 48, fov_deg=0.0)


def test_720p_frames_reach_another_process(ros_graph, tmp_path):
    """video_source as its own process (as launched) -> a subscriber here: every HD frame.

    Fast DDS's default transport lost 88 % of 1280x720 best-effort images between processes;
    the node starts with the shipped large-image profile.
    """
    path = tmp_path / 'hd.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (1280, 720))
    for i in range(30):
        writer.write(np.full((720, 1280, 3), 8 * i, np.uint8))
    writer.release()
    listener = ros_graph.add(Node('test_listener', context=ros_graph.context))
    images = []
    # best effort as sensor data, with room for every frame: a busy executor here loses none
    qos = QoSProfile(depth=30, reliability=ReliabilityPolicy.BEST_EFFORT)
    listener.create_subscription(Image, 'image', images.append, qos)
    env = {k: v for k, v in os.environ.items() if k not in node_main.PROFILE_VARIABLES}
    child = subprocess.run(
        [sys.executable, '-m', 'iknet_ros.ros.video_source', '--ros-args', '-p', f'video:={path}',
         '-p', 'wait_for_subscriber:=true'], env=env, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert 'after 30 frames' in child.stderr
    assert wait_for(lambda: len(images) == 30, 3), f'{len(images)} of 30 frames arrived'
    assert (images[-1].width, images[-1].height) == (1280, 720)


def test_the_large_image_profile_is_used_unless_one_is_set(monkeypatch, tmp_path):
    for name in node_main.PROFILE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    node_main.use_large_image_transport()
    profile = os.environ['FASTRTPS_DEFAULT_PROFILES_FILE']
    assert profile.endswith('fastdds_large_images.xml')
    sizes = [int(e.text) for e in ElementTree.parse(profile).iter()
             if e.tag.endswith('segment_size')]
    assert sizes and min(sizes) >= 4 * 1920 * 1080 * 3  # several 1080p RGB images
    mine = tmp_path / 'mine.xml'
    monkeypatch.setenv('FASTRTPS_DEFAULT_PROFILES_FILE', str(mine))
    node_main.use_large_image_transport()
    assert os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] == str(mine)
