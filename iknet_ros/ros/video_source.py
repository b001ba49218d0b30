"""video_source: a video file or camera as a ROS camera (``image`` + ``camera_info``).

Frames are published at the file's frame rate (or as fast as the camera delivers them), stamped
with the node clock at capture. Intrinsics are a pinhole guess (``detect.video.guess_intrinsics``):
``fx`` if given, else from the horizontal field of view ``fov_deg``.
"""
import importlib
import sys
import threading
import time

import cv2
import numpy as np
from rclpy.node import Node, NodeNameNonExistentError
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from iknet_ros.detect.video import DEFAULT_FOV_DEG, VideoFrames, VideoSourceError, guess_intrinsics
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.names import camera_frame
from iknet_ros.ros.node_main import run_node
from iknet_ros.ros.parameters import Param, declare

PARAMETERS = {
    'video': Param('', 'Video file to play; empty = use the camera parameter.'),
    'camera': Param(-1, 'Camera index to capture from when video is empty (e.g. 0).', low=-1),
    'loop': Param(False, 'Start the video file again at its end.'),
    'fps': Param(0.0, 'Publishing rate for a file; 0 = its own frame rate.', low=0.0),
    'encoding': Param('rgb8', 'Image encoding to publish: rgb8 or bgr8.',
                      choices=('rgb8', 'bgr8')),
    'frame_id': Param('', "frame_id of the image and camera_info headers; '' = "
                          'camera_optical_frame, prefixed with the namespace (cam1/...).'),
    'fov_deg': Param(65.0, 'Horizontal field of view (deg) for the pinhole guess when fx is 0.',
                     above=0.0, high=179.0),
    'fx': Param(0.0, 'Focal length (px) to publish in camera_info; 0 = from fov_deg.', low=0.0),
    'wait_for_subscriber': Param(False, 'Hold the first frame until image has a subscriber '
                                        '(and camera_info, for up to 1 s more): no frame lost '
                                        'at start.'),
    'wait_for_graph': Param(False, 'Hold the first frame until image has a subscriber and every '
                                   'node of graph_nodes has made its subscriptions: no frame of '
                                   'a file is lost while the graph starts (hand.launch.py sets '
                                   'it with video:=).'),
    'graph_nodes': Param(['keypoint_node', 'iknet_node'],
                         "The nodes wait_for_graph waits for, in this node's namespace unless "
                         'absolute (/namespace/name).'),
    'pace_topic': Param('', "For a file: hold each frame until the graph's answer to the one "
                            'before (the message with its stamp on this topic, e.g. '
                            'hand/joint_rotations) has arrived, for at most 1 s: a graph slower '
                            'than the file slows the video down instead of dropping frames. The '
                            'first frame goes again until it is answered (the graph is then '
                            "connected end to end). '' = the file's rate whatever the graph does."),
}
PACE_TIMEOUT_SEC = 1.0  # an answer lost on the way must not stall the video
# a subscription in the graph may take a DDS announcement period (seconds) to be connected: the
# first frame is sent again until its answer comes, this many times at most
FIRST_FRAME_TRIES = 10

# subscriptions a node may make whether or not it is ready (rclcpp's time source makes both)
NOT_INPUTS = ('/parameter_events', '/clock')


def pinhole_camera_info(width: int, height: int, fx: float = 0.0,
                        fov_deg: float = DEFAULT_FOV_DEG) -> CameraInfo:
    """A CameraInfo of `guess_intrinsics`: square pixels, centred principal point, no distortion."""
    k = guess_intrinsics(width, height, fx, fov_deg)
    return CameraInfo(width=width, height=height, distortion_model='plumb_bob', d=[0.0] * 5,
                      k=k.matrix.ravel().tolist(),
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=np.hstack([k.matrix, np.zeros((3, 1))]).ravel().tolist())


class VideoSource(Node):
    """Publishes a video file's or a camera's frames with capture stamps and a pinhole guess.

    `frames` (optional) replaces the video or camera the parameters name: any object with
    `VideoFrames`' read(), close(), size, fps, is_camera and source (e.g. a paced source).
    """

    NODE_NAME = 'video_source'

    def __init__(self, frames=None, **kwargs):
        super().__init__(self.NODE_NAME, **kwargs)
        p = declare(self, PARAMETERS)
        if frames is None and not p['video'] and p['camera'] < 0:
            raise ValueError('set the video parameter (a file) or camera (an index >= 0)')
        # VideoSourceError when it does not open
        self.frames = frames or VideoFrames(p['video'] or p['camera'], loop=p['loop'])
        width, height = self.frames.size
        self.camera_info = pinhole_camera_info(width, height, p['fx'], p['fov_deg'])
        self.encoding = p['encoding']
        self.frame_id = p['frame_id'] or camera_frame(self.get_namespace())
        self.period = 0.0 if self.frames.is_camera else 1.0 / (p['fps'] or self.frames.fps)
        self.published = 0
        self.finished = threading.Event()  # set at the end of a non-looping file

        self.image_pub = self.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, 'camera_info', qos_profile_sensor_data)
        self._wait_for_subscriber = p['wait_for_subscriber'] or p['wait_for_graph']
        self._graph_nodes = ([self._split_node_name(name) for name in p['graph_nodes']]
                             if p['wait_for_graph'] else [])
        self._pace_topic = (self.resolve_topic_name(p['pace_topic'])
                            if p['pace_topic'] and not self.frames.is_camera else '')
        self._answered = threading.Event()  # the last frame's answer arrived on pace_topic
        self._last_stamp = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name='video_source', daemon=True)
        self._thread.start()
        rate = f'{1.0 / self.period:.1f} fps' if self.period else 'camera rate'
        self.get_logger().info(f'publishing {self.frames.source} ({width}x{height}) at {rate}, '
                               f'fx = {self.camera_info.k[0]:.0f} px')

    def _split_node_name(self, name: str):
        """(namespace, name) of a node name given relative to this node's namespace or absolute."""
        if not name.startswith('/'):
            name = self.get_namespace().rstrip('/') + '/' + name
        namespace, _, base = name.rpartition('/')
        return namespace or '/', base

    def _graph_up(self) -> bool:
        """Whether every node of graph_nodes is in the graph with its input subscriptions made.

        Nodes, not topics: an observer (RViz, `ros2 topic echo`) subscribing to a topic of the
        graph early says nothing about the node that processes it. This package's nodes
        subscribe last, once their models are loaded.
        """
        for namespace, name in self._graph_nodes:
            try:
                topics = self.get_subscriber_names_and_types_by_node(name, namespace)
            except NodeNameNonExistentError:
                return False
            if not any(topic not in NOT_INPUTS for topic, _ in topics):
                return False
        return True

    def _wait_for_subscribers(self):
        """Wait for an image subscriber and the graph, then up to 1 s for a camera_info one."""
        if self._graph_nodes:
            names = ', '.join(name for _, name in self._graph_nodes)
            self.get_logger().info(f'waiting for {names} before the first frame')
        wait_for(lambda: self._stop or (self.image_pub.get_subscription_count() > 0
                                        and self._graph_up()), timeout=float('inf'))
        wait_for(lambda: self._stop or self.info_pub.get_subscription_count() > 0, timeout=1.0)

    def _pace_type(self):
        """The message class of pace_topic, from the graph (None while it has no publisher)."""
        for name, types in self.get_topic_names_and_types():
            if name == self._pace_topic and types:
                package, _, message = types[0].split('/')  # e.g. sensor_msgs/msg/PointCloud2
                return getattr(importlib.import_module(f'{package}.msg'), message)
        return None

    def _subscribe_to_answers(self):
        """Subscribe to pace_topic once its type is known (its publisher is up)."""
        msg_type = wait_for(lambda: self._stop or self._pace_type(), timeout=float('inf'))
        if msg_type is not True:
            self.create_subscription(msg_type, self._pace_topic, self._on_answer, 10)

    def _on_answer(self, msg):
        if msg.header.stamp == self._last_stamp:
            self._answered.set()

    def _run(self):
        if self._wait_for_subscriber:
            self._wait_for_subscribers()
        if self._pace_topic:
            self._subscribe_to_answers()
        next_time = time.monotonic()
        while not self._stop:
            frame = self.frames.read()
            if frame is None:
                break
            if self.encoding == 'rgb8':
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            height, width = frame.shape[:2]
            image = Image(height=height, width=width, encoding=self.encoding, is_bigendian=0,
                          step=width * 3)
            image.data = frame.tobytes()
            if self._pace_topic and self.published:
                self._answered.wait(PACE_TIMEOUT_SEC)
                if self._stop:
                    break
            self._publish(image)
            if self._pace_topic and self.published == 1:
                self._first_frame_answered(image)
            if self.period:
                next_time += self.period
                time.sleep(max(0.0, next_time - time.monotonic()))
                next_time = max(next_time, time.monotonic() - self.period)  # no catch-up burst
        if not self._stop:
            self.get_logger().info(f'end of {self.frames.source} after {self.published} frames')
        self.finished.set()

    def _publish(self, image: Image):
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        image.header = self.camera_info.header = header
        self._last_stamp = header.stamp  # before clear(): a late answer is not this one's
        self._answered.clear()
        self.image_pub.publish(image)
        self.info_pub.publish(self.camera_info)
        self.published += 1

    def _first_frame_answered(self, image: Image):
        """Send the first frame again (newly stamped) until pace_topic answers it."""
        for _ in range(FIRST_FRAME_TRIES - 1):
            if self._answered.wait(PACE_TIMEOUT_SEC) or self._stop:
                return
            self.get_logger().info(f'no answer on {self._pace_topic} to the first frame yet '
                                   '(the graph is still connecting): sending it again')
            self.published -= 1  # the same frame of the file
            self._publish(image)

    def destroy_node(self):
        """Stop the capture thread and release the file or camera."""
        self._stop = True
        self._answered.set()  # no waiting for an answer any more
        self._thread.join(timeout=5.0)
        self.frames.close()
        return super().destroy_node()


def main(args=None):
    """Run video_source until the video ends, Ctrl-C or shutdown; 1 if the source won't open."""
    return run_node(VideoSource, args, done=lambda node: node.finished.is_set(),
                    setup_errors=(VideoSourceError,))

if __name__ == '__main__':
    sys.exit(main())
