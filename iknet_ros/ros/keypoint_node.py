"""keypoint_node: MediaPipe hand keypoints of each camera image, as a PointCloud2.

Subscribes ``image`` (and optionally ``camera_info``), publishes ``hand/keypoints`` and
``hand/debug_image`` with the image's header unchanged (the README's topic table).
Inference runs on a worker thread fed by a one-slot buffer: when it is slower than the camera the
newest image is processed and older ones are dropped, so no backlog builds up. The debug image is
drawn and sent by a second such thread, so it never delays the next detection.
"""
import sys
import threading

import rclpy.logging
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from iknet_ros.detect.detector import HandDetector
from iknet_ros.detect.drawing import draw_landmarks
from iknet_ros.detect.video import DEFAULT_FOV_DEG, guess_intrinsics
from iknet_ros.hand.keypoints import Intrinsics
from iknet_ros.ros.conversions import (
    ImageConversionError,
    image_to_rgb,
    keypoints_to_cloud,
    rgb_to_image,
)
from iknet_ros.ros.messages import stamp_ns
from iknet_ros.ros.node_main import publish, run_node
from iknet_ros.ros.parameters import Param, declare

LOG_THROTTLE_SEC = 5.0
KEYPOINTS_TOPIC, DEBUG_IMAGE_TOPIC = 'hand/keypoints', 'hand/debug_image'

PARAMETERS = {
    'max_hands': Param(2, 'Most hands to detect per image (1-4).', low=1, high=4),
    'min_detection_confidence': Param(0.5, 'Palm detection score needed to start a hand.',
                                      low=0.0, high=1.0),
    'min_presence_confidence': Param(0.5, 'Hand presence score needed to keep a hand.',
                                     low=0.0, high=1.0),
    'min_tracking_confidence': Param(0.5, 'Tracking score below which the palm detector runs '
                                          'again.', low=0.0, high=1.0),
    'model_path': Param('', "MediaPipe hand_landmarker.task; '' = the models bundled with "
                            'mediapipe 0.10.21.'),
    'mirrored': Param(False, 'Images are mirrored (selfie view); the published hand side is the '
                             'true one either way.'),
    'publish_debug_image': Param(True, 'Publish hand/debug_image with the landmarks drawn, '
                                       'while someone subscribes to it.'),
    'fx': Param(0.0, 'Focal length x (px); 0 = from camera_info, else a guess from the image '
                     'size.', low=0.0, high=1e6),
    'fy': Param(0.0, 'Focal length y (px); 0 = from camera_info, else fx.', low=0.0, high=1e6),
    'cx': Param(0.0, 'Principal point x (px); 0 with fx set = image centre.', low=0.0, high=1e6),
    'cy': Param(0.0, 'Principal point y (px); 0 with fx set = image centre.', low=0.0, high=1e6),
    'intrinsics_guessed': Param(False, 'The intrinsics (camera_info or fx) are a guess, not a '
                                       "calibration (e.g. video_source's pinhole guess); the "
                                       'keypoints say so to iknet_node.'),
}


class NewestOnly:
    """A thread that handles the newest item put to it; an item not yet taken is replaced.

    `handle(item)` runs on the thread and must not raise. `dropped` counts replaced items,
    `taken` the items handed to `handle`.
    """

    def __init__(self, handle, name: str):
        self._handle = handle
        self._item = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self.dropped = 0
        self.taken = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item):
        """Hand `item` to the thread, replacing one still waiting."""
        with self._lock:
            if self._item is not None:
                self.dropped += 1
            self._item = item
        self._wake.set()

    def _run(self):
        while not self._stop:
            if not self._wake.wait(timeout=0.1):
                continue
            with self._lock:
                item, self._item = self._item, None
                self._wake.clear()
            if item is not None:
                self.taken += 1
                self._handle(item)

    def close(self):
        """Stop the thread (an item still waiting is dropped)."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5.0)


class KeypointNode(Node):
    """Hand keypoints (x y z u v hand score) of the newest camera image.

    `observer` (optional) is handed what the node publishes (see `node_main.publish`); one that
    watches the debug image has it drawn whether or not anyone subscribes.
    """

    def __init__(self, observer=None, **kwargs):
        super().__init__('keypoint_node', **kwargs)
        p = declare(self, PARAMETERS)
        self._observer = observer
        self.detector = HandDetector(
            max_hands=p['max_hands'], min_detection_confidence=p['min_detection_confidence'],
            min_presence_confidence=p['min_presence_confidence'],
            min_tracking_confidence=p['min_tracking_confidence'], mirrored=p['mirrored'],
            model_path=p['model_path'])
        self._fixed_camera = (p['fx'], p['fy'] or p['fx'], p['cx'], p['cy'])
        self._guessed = p['intrinsics_guessed']
        self._camera_info = None
        self._said_no_intrinsics = False
        self._publish_debug = p['publish_debug_image']

        self.received = 0  # images taken in
        self.processed = 0  # images run through the detector
        self.rejected = 0  # images that could not be decoded
        self.last_rejection = ''
        self._input_loggers = {}  # one logger per kind of bad input: each kind throttled apart

        self.keypoints_pub = self.create_publisher(PointCloud2, KEYPOINTS_TOPIC, 10)
        self.debug_pub = (self.create_publisher(Image, DEBUG_IMAGE_TOPIC, qos_profile_sensor_data)
                          if self._publish_debug else None)
        self._debug_observed = (self.debug_pub is not None and observer is not None
                                and self.debug_pub.topic_name in observer.topics)
        self.create_subscription(Image, 'image', self._on_image, qos_profile_sensor_data)
        if p['fx'] <= 0.0:
            self.create_subscription(CameraInfo, 'camera_info', self._on_camera_info,
                                     qos_profile_sensor_data)

        self._detection = NewestOnly(self._detect, 'keypoint_detection')
        self._drawing = (NewestOnly(self._publish_debug_image, 'keypoint_debug_image')
                         if self.debug_pub is not None else None)
        model = p['model_path'] or 'bundled mediapipe 0.10.21 models'
        self.get_logger().info(f'detecting up to {p["max_hands"]} hands with {model} '
                               f'(mirrored={p["mirrored"]})')

    @property
    def taken(self) -> int:
        """Images the detector thread started on (received - dropped - waiting)."""
        return self._detection.taken

    @property
    def debug_images_drawn(self) -> int:
        """Debug images handed to the drawing thread."""
        return self._drawing.taken if self._drawing is not None else 0

    @property
    def dropped(self) -> int:
        """Images replaced by a newer one before the detector took them."""
        return self._detection.dropped

    def _on_image(self, msg: Image):
        self.received += 1
        self._detection.put(msg)

    def _on_camera_info(self, msg: CameraInfo):
        self._camera_info = msg

    def _intrinsics(self, width: int, height: int):
        """(Intrinsics, whether they are a guess) for an image of this size."""
        fx, fy, cx, cy = self._fixed_camera
        if fx > 0.0:
            return Intrinsics(fx, fy, cx or width / 2.0, cy or height / 2.0), self._guessed
        info = self._camera_info
        if info is not None and info.k[0] > 0.0 and info.k[4] > 0.0:
            return Intrinsics(info.k[0], info.k[4], info.k[2], info.k[5]), self._guessed
        if not self._said_no_intrinsics:
            self._said_no_intrinsics = True
            self.get_logger().info(
                f'no intrinsics (no camera_info yet, fx = 0): guessing a {DEFAULT_FOV_DEG:.0f} '
                'deg field of view until camera_info arrives')
        return guess_intrinsics(width, height), True

    def _detect(self, msg: Image):
        try:
            self._process(msg)
        except ImageConversionError as error:
            self._reject(error)
        except Exception as error:  # keep serving: one bad frame must not stop the node
            self.get_logger().error(f'hand detection failed: {error!r}',
                                    throttle_duration_sec=LOG_THROTTLE_SEC)

    def _reject(self, error: ImageConversionError):
        self.rejected += 1
        self.last_rejection = str(error)
        kind = type(error).__name__
        if kind not in self._input_loggers:
            self._input_loggers[kind] = rclpy.logging.get_logger(self.get_logger().name)
        self._input_loggers[kind].warning(f'skipping image: {error}',
                                          throttle_duration_sec=LOG_THROTTLE_SEC)

    def _process(self, msg: Image):
        rgb = image_to_rgb(msg)
        restarts = self.detector.restarts
        camera, guessed = self._intrinsics(msg.width, msg.height)
        hands = self.detector.detect(rgb, stamp_ns(msg.header), camera, guessed)
        if self.detector.restarts != restarts:
            self.get_logger().info('image stamp did not increase (bag loop?): tracking restarted',
                                   throttle_duration_sec=LOG_THROTTLE_SEC)
        self.processed += 1
        publish(self.keypoints_pub, keypoints_to_cloud(msg.header, hands), self._observer)
        # drawing and sending a full image is a large part of the node's work: only while
        # someone looks
        if self._drawing is not None and (self._debug_observed
                                          or self.debug_pub.get_subscription_count() > 0):
            self._drawing.put((rgb, hands, msg.header))

    def _publish_debug_image(self, item):
        rgb, hands, header = item
        try:
            publish(self.debug_pub, rgb_to_image(draw_landmarks(rgb, hands), header),
                    self._observer)
        except Exception as error:  # a lost debug image must not stop the node
            self.get_logger().error(f'debug image failed: {error!r}',
                                    throttle_duration_sec=LOG_THROTTLE_SEC)

    def destroy_node(self):
        """Stop the worker threads and release MediaPipe before the node goes."""
        self._detection.close()
        if self._drawing is not None:
            self._drawing.close()
        self.detector.close()
        return super().destroy_node()


def main(args=None):
    """Run keypoint_node until Ctrl-C or shutdown; 1 on a bad parameter or model."""
    return run_node(KeypointNode, args)

if __name__ == '__main__':
    sys.exit(main())
