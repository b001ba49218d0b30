"""A stand-in for keypoint_node: keypoint clouds of generated hand motion at 30 Hz.

For a machine with no camera and no video (``iknet-ros demo --synthetic``) and the benchmark.
"""
import threading
import time

from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.ros.conversions import keypoints_to_cloud
from iknet_ros.ros.node_main import publish
from iknet_ros.synth.camera import synthetic_hands

FRAME_ID = 'camera_optical_frame'


class SyntheticKeypointSource(Node):
    """Publishes `hand/keypoints` clouds of one generated right hand, once `start()` is called."""

    def __init__(self, frames: int, seed: int = 0, rate: float = 30.0, observer=None, **kwargs):
        super().__init__('synthetic_keypoints', **kwargs)
        self.xyz, self.uv, self.rays, self.camera_matrix = synthetic_hands(frames, seed)
        self.publisher = self.create_publisher(PointCloud2, 'hand/keypoints', 10)
        self.period = 1.0 / rate
        self.published = 0
        self.finished = threading.Event()
        self._observer = observer
        self._thread = threading.Thread(target=self._run, name='synthetic_keypoints',
                                        daemon=True)

    def start(self):
        """Start publishing (once the graph is connected)."""
        self._thread.start()

    def _run(self):
        next_time = time.monotonic()
        for xyz, uv, rays in zip(self.xyz, self.uv, self.rays, strict=True):
            if self.finished.is_set():
                break
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=FRAME_ID)
            hand = HandKeypoints('right', xyz, uv, 0.99, rays=rays, guessed=False)
            publish(self.publisher, keypoints_to_cloud(header, [hand]), self._observer)
            self.published += 1
            next_time += self.period
            time.sleep(max(0.0, next_time - time.monotonic()))
        self.finished.set()

    def destroy_node(self):
        """Stop publishing before the node goes."""
        self.finished.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        return super().destroy_node()
