"""/diagnostics of keypoint_node and iknet_node over real DDS, and the throttled log."""
import threading
import time

import cv2
import pytest
from conftest import REAL_VIDEO, require_real
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from iknet_ros.detect.video import VideoFrames
from iknet_ros.ros.conversions import rgb_to_image
from iknet_ros.ros.diagnostics import EventWindow, Health
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.iknet_node import IKNetNode
from iknet_ros.ros.keypoint_node import KeypointNode
from iknet_ros.ros.throttled_log import ThrottledLog

GOOD_INFO = CameraInfo(width=640, height=360, k=[500.0, 0, 320, 0, 500.0, 180, 0, 0, 1])
INF_INFO = CameraInfo(width=640, height=360,
                      k=[float('inf'), 0, 320, 0, float('inf'), 180, 0, 0, 1])


@pytest.fixture(scope='module')
def frames():
    """6 RGB frames of the real video at 640x360."""
    with VideoFrames(require_real(REAL_VIDEO)) as video:
        return [cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), (640, 360))
                for i, f in enumerate(video) if i % 60 == 0][:6]


class Monitor:
    """A camera and a /diagnostics subscriber: the newest status of each name, as received."""

    def __init__(self, graph, keypoint=None):
        self.keypoint = keypoint
        self.node = graph.add(Node('test_diagnostics_monitor', context=graph.context))
        self.image_pub = self.node.create_publisher(Image, 'image', 10)
        self.info_pub = self.node.create_publisher(CameraInfo, 'camera_info', 10)
        self.clouds = []
        self.node.create_subscription(PointCloud2, '/hand/keypoints', self.clouds.append, 10)
        self.statuses = {}
        self.arrays = 0
        self._lock = threading.Lock()
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_array, 10)

    def _on_array(self, msg):
        with self._lock:
            self.arrays += 1
            for status in msg.status:
                self.statuses[status.name] = status

    def status(self, name, check=lambda status: True, timeout=10.0):
        """The first status named `name` received from now on that passes `check`."""
        start = self.arrays

        def found():
            with self._lock:
                status = self.statuses.get(name)
                return status if self.arrays > start and status and check(status) else None
        return wait_for(found, timeout)

    def send(self, info, rgb, sec):
        """camera_info, then the image; wait for its keypoint cloud."""
        header = Header(frame_id='test_camera')
        header.stamp.sec = sec
        info.header = header
        received = self.keypoint.camera_infos
        self.info_pub.publish(info)  # another topic: it must be there before the image
        assert wait_for(lambda: self.keypoint.camera_infos > received, 10)
        self.image_pub.publish(rgb_to_image(rgb, header))
        assert wait_for(lambda: any(c.header.stamp == header.stamp for c in self.clouds), 10)


def values(status) -> dict:
    return {kv.key: kv.value for kv in status.values}


def test_both_nodes_report_their_input_and_work_and_a_bad_camera_info(ros_graph, frames):
    keypoint = ros_graph.add(KeypointNode(context=ros_graph.context, parameter_overrides=[
        Parameter('publish_debug_image', value=False)]))
    ros_graph.add(IKNetNode(context=ros_graph.context, parameter_overrides=[
        Parameter('device', value='cpu')]))
    monitor = Monitor(ros_graph, keypoint)
    assert wait_for(lambda: monitor.image_pub.get_subscription_count()
                    and keypoint.keypoints_pub.get_subscription_count() >= 2, 10)  # + iknet
    for i, rgb in enumerate(frames[:4]):
        monitor.send(GOOD_INFO, rgb, 10 + i)

    camera = monitor.status('keypoint_node: camera input')
    assert camera is not None, 'no /diagnostics from keypoint_node'
    assert camera.hardware_id == '/image' and 'camera_info rejected' not in camera.message
    assert {'images in (Hz)', 'images dropped (detector busy: newest only)', 'images rejected',
            'intrinsics', 'camera_info rejected'} <= set(values(camera))
    assert values(camera)['intrinsics'] == 'camera_info'
    detection = monitor.status('keypoint_node: hand detection',
                               lambda s: values(s)['right hand'] == 'detected')
    assert detection is not None and detection.level == DiagnosticStatus.OK
    assert {'model', 'device', 'latency p50 (ms, image stamp -> keypoints)',
            'latency p95 (ms, image stamp -> keypoints)'} <= set(values(detection))
    tracking = monitor.status('iknet_node: tracking',
                              lambda s: values(s)['right hand'].startswith('tracking'))
    assert tracking is not None and tracking.hardware_id == 'cpu'
    assert tracking.level == DiagnosticStatus.OK, tracking.message
    assert values(tracking)['model'] == 'sequence IKNet' and values(tracking)['device'] == 'cpu'
    assert float(values(tracking)['latency p95 (ms, image stamp -> rotations)']) > 0.0
    keypoints = monitor.status('iknet_node: keypoint input')
    assert keypoints is not None and int(values(keypoints)['clouds received']) == 4

    monitor.send(INF_INFO, frames[4], 20)
    camera = monitor.status('keypoint_node: camera input',
                            lambda s: 'camera_info rejected' in s.message)
    assert camera is not None and camera.level == DiagnosticStatus.WARN
    assert 'camera_info rejected: fx (K[0]) is inf' in camera.message
    assert values(camera)['intrinsics'] == 'the last good camera_info'
    assert values(camera)['camera_info rejected'] == '1'


def test_a_node_without_input_says_where_it_waits(ros_graph):
    iknet = ros_graph.add(IKNetNode(context=ros_graph.context, namespace='cam7',
                                    parameter_overrides=[Parameter('device', value='cpu')]))
    monitor = Monitor(ros_graph)
    status = monitor.status('cam7/iknet_node: keypoint input',
                            lambda s: s.level == DiagnosticStatus.WARN, timeout=15.0)
    assert status is not None, 'no warning about the missing input'
    assert 'is keypoint_node publishing on /cam7/hand/keypoints?' in status.message
    assert iknet.received == 0


class Lines:
    """A logger's stand-in that keeps the lines (level, text)."""

    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(('info', text))

    def warning(self, text):
        self.lines.append(('warning', text))

    def error(self, text):
        self.lines.append(('error', text))


def test_the_throttled_log_keeps_one_line_per_kind_in_a_bounded_store():
    lines = Lines()
    log = ThrottledLog(lines, period=3600.0, max_kinds=3)
    for value in (1.0, 2.0, 3.0):  # the text changes, the kind does not
        log('camera_info: fx', 'warning', f'fx is {value}')
    assert lines.lines == [('warning', 'fx is 1.0')]
    assert log('image: truncated', 'error', 'truncated')  # another kind: its own line
    for k in range(10):
        log(f'kind {k}', 'info', 'x')
    assert len(log) == 3  # bounded: the oldest kinds are forgotten
    held = ThrottledLog(lines, period=0.05)
    for _ in range(3):
        held('a', 'info', 'again')
    time.sleep(0.1)  # the period is over: the next line says how many were held back
    held('a', 'info', 'again')
    assert lines.lines[-2:] == [('info', 'again'),
                                ('info', 'again (2 more like this since the last such line)')]


def test_event_windows_and_health():
    window = EventWindow(seconds=60.0)
    for latency in range(1, 101):
        window.add(float(latency))
    assert window.count() == 100 and window.total == 100
    assert window.percentile(50) == pytest.approx(50.5) and window.percentile(95) > 94
    assert EventWindow().percentile(50) != EventWindow().percentile(50)  # NaN without events
    health = Health()
    assert health.message('all good') == 'all good' and health.level == 'OK'
    health.warn('a warning')
    health.error('an error')
    assert health.level == 'ERROR' and health.message('') == 'an error; a warning'
