"""keypoint_node over real DDS on frames of the real right-hand video."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REAL_VIDEO, require_real
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from iknet_ros.detect.video import VideoFrames
from iknet_ros.hand.skeleton import JOINT_INDEX
from iknet_ros.ros.conversions import cloud_to_keypoints, image_to_rgb, rgb_to_image
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.keypoint_node import PARAMETERS, KeypointNode

CONFIG = Path(__file__).resolve().parents[1] / 'config' / 'hand.yaml'
WRIST, MIDDLE_MCP = JOINT_INDEX['wrist'], JOINT_INDEX['middle_mcp']


@pytest.fixture(scope='module')
def frames():
    """12 RGB frames spread over the real video (every 50th)."""
    with VideoFrames(require_real(REAL_VIDEO)) as video:
        return [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for i, f in enumerate(video) if i % 50 == 0]


def header(sec, nanosec=0, frame_id='test_camera'):
    h = Header(frame_id=frame_id)
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


class Camera:
    """A test node publishing images and collecting what keypoint_node publishes."""

    def __init__(self, graph, keypoint_node):
        self.node = graph.add(Node('test_camera', context=graph.context))
        self.image_pub = self.node.create_publisher(Image, 'image', 10)
        self.info_pub = self.node.create_publisher(CameraInfo, 'camera_info', 10)
        self.clouds, self.debug = [], []
        self.node.create_subscription(PointCloud2, '/hand/keypoints', self.clouds.append, 50)
        self.debug_sub = self.node.create_subscription(Image, '/hand/debug_image',
                                                       self.debug.append, qos_profile_sensor_data)
        self.keypoint_node = keypoint_node
        assert wait_for(lambda: self.image_pub.get_subscription_count() > 0
                        and keypoint_node.keypoints_pub.get_subscription_count() > 0, 10), \
            'keypoint_node and the test node did not discover each other'

    def send(self, msg, timeout=5.0):
        """Publish one image and return the cloud published for it (matched by stamp)."""
        def answer():
            return next((c for c in self.clouds if c.header.stamp == msg.header.stamp), None)
        self.image_pub.publish(msg)
        return wait_for(answer, timeout)


def test_real_frames_give_a_right_hand_per_frame(ros_graph, frames):
    node = ros_graph.add(KeypointNode(context=ros_graph.context))
    camera = Camera(ros_graph, node)
    for i, rgb in enumerate(frames):
        stamp = header(100 + i, 250_000_000)
        cloud = camera.send(rgb_to_image(rgb, stamp, 'bgr8'))
        assert cloud is not None, f'no keypoints for frame {i}'
        assert cloud.header == stamp  # stamp and frame_id carried through unchanged
        (hand,) = cloud_to_keypoints(cloud)
        assert cloud.width == 21 and hand.side == 'right'
        assert 0.06 < np.linalg.norm(hand.xyz[MIDDLE_MCP] - hand.xyz[WRIST]) < 0.12
        assert np.all((hand.uv >= 0) & (hand.uv < (1280, 720)))
    assert wait_for(lambda: len(camera.debug) >= len(frames) - 2, 3)
    debug = camera.debug[-1]
    assert debug.header.frame_id == 'test_camera' and debug.encoding == 'rgb8'
    assert image_to_rgb(debug).shape == (720, 1280, 3)
    assert node.rejected == 0 and node.processed == len(frames)


def test_the_debug_image_is_drawn_only_while_someone_subscribes(ros_graph, frames):
    node = ros_graph.add(KeypointNode(context=ros_graph.context))
    camera = Camera(ros_graph, node)
    assert camera.send(rgb_to_image(frames[0], header(1))) is not None
    assert wait_for(lambda: camera.debug, 3) and node.debug_images_drawn == 1
    camera.node.destroy_subscription(camera.debug_sub)
    assert wait_for(lambda: node.debug_pub.get_subscription_count() == 0, 5)
    for i in (2, 3):
        assert camera.send(rgb_to_image(frames[i], header(i))) is not None
    assert node.debug_images_drawn == 1 and node.processed == 3


class Observer:
    """What a node publishes on the topics it watches (see node_main.publish)."""

    def __init__(self, *topics):
        self.topics = frozenset(topics)
        self.seen = []

    def __call__(self, topic, msg):
        self.seen.append((topic, msg))


def test_an_observer_sees_what_is_published_and_gets_debug_images_unsubscribed(ros_graph,
                                                                                frames):
    observer = Observer('/hand/keypoints', '/hand/debug_image')
    node = ros_graph.add(KeypointNode(context=ros_graph.context, observer=observer))
    camera = Camera(ros_graph, node)
    camera.node.destroy_subscription(camera.debug_sub)  # nobody subscribes to the debug image
    cloud = camera.send(rgb_to_image(frames[0], header(1)))
    assert cloud is not None
    assert wait_for(lambda: len(observer.seen) == 2, 3)
    seen = dict(observer.seen)
    assert seen['/hand/keypoints'].header.stamp == cloud.header.stamp
    assert image_to_rgb(seen['/hand/debug_image']).shape == frames[0].shape


def test_camera_info_places_the_hand_in_the_camera_frame(ros_graph, frames):
    node = ros_graph.add(KeypointNode(context=ros_graph.context, parameter_overrides=[
        Parameter('publish_debug_image', value=False)]))
    camera = Camera(ros_graph, node)
    info = CameraInfo(width=1280, height=720, k=[1000.0, 0, 640, 0, 1000.0, 360, 0, 0, 1])
    assert wait_for(lambda: (camera.info_pub.publish(info), node._camera_info)[1], 5)
    for i, rgb in enumerate(frames[:4]):
        (hand,) = cloud_to_keypoints(camera.send(rgb_to_image(rgb, header(10 + i))))
        assert 0.3 < hand.xyz[WRIST, 2] < 1.0
    assert node.debug_pub is None and not camera.debug


def camera_info(width=1280, height=720, fx=1000.0, fy=1000.0, cx=640.0, cy=360.0, k=None):
    return CameraInfo(width=width, height=height,
                      k=k if k is not None else [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0])


INF, NAN = float('inf'), float('nan')
# each bad camera_info with the line that says why (one kind of problem each)
BAD_CAMERA_INFOS = [
    ('fx (K[0]) is inf', camera_info(fx=INF, fy=INF)),
    ('cx (K[2]) is nan', camera_info(cx=NAN)),
    ('fy (K[4]) = -1000 is not positive', camera_info(fy=-1000.0)),
    ('cy (K[5]) = 5000 px is outside the 1280x720 image', camera_info(cy=5000.0)),
    ('camera_info is for 640x480 images, the images are 1280x720', camera_info(640, 480)),
]


@pytest.mark.timeout(180)  # an inf focal length used to stall the node for good
def test_bad_camera_info_is_rejected_and_the_next_image_answered(ros_graph, frames, capfd):
    node = ros_graph.add(KeypointNode(context=ros_graph.context, parameter_overrides=[
        Parameter('publish_debug_image', value=False)]))
    camera = Camera(ros_graph, node)
    sent = iter(range(100))

    def image_after(info):
        """Publish `info` until the node has it, then an image; the cloud answering it."""
        received = node.camera_infos
        assert wait_for(lambda: (camera.info_pub.publish(info), node.camera_infos > received)[1],
                        5), 'camera_info did not arrive'
        i = next(sent)
        return camera.send(rgb_to_image(frames[i % len(frames)], header(20 + i)))

    def wrist_depth(cloud):
        (hand,) = cloud_to_keypoints(cloud)
        assert np.all(np.isfinite(hand.xyz))
        return hand.xyz[WRIST, 2]

    # K all zero (an uncalibrated camera) before any good one: the guess is used
    cloud = image_after(camera_info(k=[0.0] * 9))
    assert cloud is not None and node.intrinsics_source.startswith('guess')
    assert 'fx (K[0]) = 0 is not positive' in node.camera_info_problem
    assert image_after(camera_info()) is not None and node.intrinsics_source == 'camera_info'
    for text, info in BAD_CAMERA_INFOS:
        rejected = node.camera_info_rejected
        cloud = image_after(info)
        assert cloud is not None, f'no answer after a camera_info with {text}'
        assert node.camera_info_rejected == rejected + 1 and text in node.camera_info_problem
        assert node.intrinsics_source == 'the last good camera_info'
        assert 0.3 < wrist_depth(cloud) < 1.0  # placed with the good intrinsics (fx 1000)
    assert image_after(BAD_CAMERA_INFOS[0][1]) is not None  # the same problem again
    assert image_after(camera_info()) is not None
    assert node.intrinsics_source == 'camera_info' and node.camera_info_problem == ''
    log = capfd.readouterr().err
    for text in ['fx (K[0]) = 0 is not positive'] + [text for text, _ in BAD_CAMERA_INFOS]:
        assert log.count(f'camera_info rejected: {text}') == 1, f'one line for {text}:\n{log}'
    assert node.camera_info_rejected == len(BAD_CAMERA_INFOS) + 2


def test_a_black_first_image_is_answered_and_so_are_the_next(ros_graph, frames):
    node = ros_graph.add(KeypointNode(context=ros_graph.context, parameter_overrides=[
        Parameter('publish_debug_image', value=False)]))
    camera = Camera(ros_graph, node)
    black = camera.send(rgb_to_image(np.zeros_like(frames[0]), header(30)))
    assert black is not None and black.width == 0  # an empty cloud: no hand
    for i in range(3):
        cloud = camera.send(rgb_to_image(frames[i], header(31 + i)))
        assert cloud is not None and cloud.width == 21


def test_every_encoding_gives_the_same_keypoints(ros_graph, frames):
    node = ros_graph.add(KeypointNode(context=ros_graph.context))
    camera = Camera(ros_graph, node)
    rgb = frames[3]
    # one stamp for all: the detector starts afresh on a stamp that does not increase, so each
    # encoding meets the same detector state and must give the very same keypoints
    results = {}
    for encoding in ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8'):
        cloud = camera.send(rgb_to_image(rgb, header(50), encoding))
        assert cloud is not None, f'no keypoints for {encoding}'
        camera.clouds.clear()
        results[encoding] = cloud_to_keypoints(cloud)
        assert len(results[encoding]) == 1 and cloud.width == 21, encoding
    reference = results['rgb8'][0]
    assert reference.side == 'right'
    for encoding in ('bgr8', 'rgba8', 'bgra8'):
        np.testing.assert_array_equal(results[encoding][0].xyz, reference.xyz, err_msg=encoding)
        np.testing.assert_array_equal(results[encoding][0].uv, reference.uv, err_msg=encoding)
    assert np.abs(results['mono8'][0].uv - reference.uv).mean() < 15.0  # grey still finds it


def test_bad_images_are_logged_and_skipped(ros_graph, frames, capfd):
    node = ros_graph.add(KeypointNode(context=ros_graph.context))
    camera = Camera(ros_graph, node)
    good = rgb_to_image(frames[0], header(1))
    unsupported = rgb_to_image(frames[0], header(2))
    unsupported.encoding = '16UC1'
    empty = Image(header=header(3), encoding='rgb8')
    truncated = rgb_to_image(frames[0], header(4))
    truncated.data = bytes(truncated.data[:1000])
    assert camera.send(good) is not None
    for count, bad in enumerate((unsupported, empty, truncated), start=1):
        camera.image_pub.publish(bad)
        assert wait_for(lambda n=count: node.rejected == n, 5), f'bad image {count} not rejected'
    assert camera.send(rgb_to_image(frames[1], header(5))) is not None  # still serving
    assert node.processed == 2
    assert 'truncated image data: 1000 bytes' in node.last_rejection
    log = capfd.readouterr().err
    for text in ("unsupported image encoding '16UC1'", 'empty image', 'truncated image data'):
        assert log.count(text) == 1, f'expected one log line with {text!r} in:\n{log}'


def test_a_burst_is_dropped_down_to_the_newest_image(ros_graph, frames):
    node = ros_graph.add(KeypointNode(context=ros_graph.context, parameter_overrides=[
        Parameter('publish_debug_image', value=False)]))
    camera = Camera(ros_graph, node)
    small = [cv2.resize(rgb, (640, 360)) for rgb in frames]
    messages = [rgb_to_image(small[i % len(small)], header(1000 + i)) for i in range(30)]
    for msg in messages:  # far faster than MediaPipe's ~25 ms per frame
        camera.image_pub.publish(msg)
    last = messages[-1].header.stamp
    assert wait_for(lambda: any(c.header.stamp == last for c in camera.clouds), 10), \
        'the newest image was not processed'
    # DDS keeps the newest 5 (sensor-data depth); the node then keeps only the newest of those
    assert node.dropped > 0 and node.processed < node.received
    assert node.processed + node.dropped == node.received
    stamps = [c.header.stamp.sec for c in camera.clouds]
    assert stamps == sorted(stamps)  # processed in order, no backlog replayed later


def test_parameters_are_declared_described_and_validated(ros_graph):
    node = ros_graph.add(KeypointNode(context=ros_graph.context,
                                      cli_args=['--ros-args', '--params-file', str(CONFIG)]))
    import yaml

    config = yaml.safe_load(CONFIG.read_text())['/**/keypoint_node']['ros__parameters']
    assert set(config) == set(PARAMETERS), 'config/hand.yaml must hold every parameter'
    for name, value in config.items():
        assert node.get_parameter(name).value == value == PARAMETERS[name].default
        assert node.describe_parameter(name).description
    for name, value in (('max_hands', 5), ('min_detection_confidence', 1.5)):
        with pytest.raises(ValueError, match=name):
            KeypointNode(context=ros_graph.context,
                         parameter_overrides=[Parameter(name, value=value)])
    with pytest.raises(FileNotFoundError, match='hand landmarker model not found'):
        KeypointNode(context=ros_graph.context,
                     parameter_overrides=[Parameter('model_path', value='/no/such.task')])
