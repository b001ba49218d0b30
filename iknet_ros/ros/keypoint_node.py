"""keypoint_node: MediaPipe hand keypoints of each camera image, as a PointCloud2.

Subscribes ``image`` (and optionally ``camera_info``), publishes ``hand/keypoints`` and
``hand/debug_image`` with the image's header unchanged (the README's topic table).
Inference runs on a worker thread fed by a one-slot buffer: when it is slower than the camera the
newest image is processed and older ones are dropped, so no backlog builds up. The debug image is
drawn and sent by a second such thread, so it never delays the next detection.
"""
import sys
import threading
import time
from collections import Counter

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from iknet_ros.detect.detector import HandDetector
from iknet_ros.detect.drawing import draw_landmarks
from iknet_ros.detect.video import DEFAULT_FOV_DEG, guess_intrinsics
from iknet_ros.ros.conversions import (
    CameraInfoError,
    ImageConversionError,
    camera_info_intrinsics,
    check_intrinsics,
    image_to_rgb,
    keypoints_to_cloud,
    rgb_to_image,
)
from iknet_ros.ros.diagnostics import (
    STALE_INPUT_SEC,
    EventWindow,
    Health,
    number,
    publish_periodically,
    status,
    status_name,
)
from iknet_ros.ros.messages import stamp_ns
from iknet_ros.ros.node_main import publish, run_node
from iknet_ros.ros.parameters import Param, declare
from iknet_ros.ros.throttled_log import ThrottledLog

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
    watches the debug image has it drawn whether or not anyone subscribes. Every camera_info is
    checked against the images before its intrinsics are used; a bad one is refused with one
    line naming the field, and the last good intrinsics (or the guess) stay in use.
    """

    NODE_NAME = 'keypoint_node'

    def __init__(self, observer=None, **kwargs):
        super().__init__(self.NODE_NAME, **kwargs)
        p = declare(self, PARAMETERS)
        self._observer = observer
        self.log = ThrottledLog(self.get_logger())
        self.detector = HandDetector(
            max_hands=p['max_hands'], min_detection_confidence=p['min_detection_confidence'],
            min_presence_confidence=p['min_presence_confidence'],
            min_tracking_confidence=p['min_tracking_confidence'], mirrored=p['mirrored'],
            model_path=p['model_path'])
        self.model = p['model_path'] or 'bundled mediapipe 0.10.21 models'
        self.max_hands = p['max_hands']
        self._fixed_camera = (p['fx'], p['fy'] or p['fx'], p['cx'], p['cy'])
        self._guessed = p['intrinsics_guessed']
        self._publish_debug = p['publish_debug_image']

        # camera_info: the newest message, the last one checked, the last good intrinsics
        self._camera_info = None
        self._checked = (None, None)  # (message, image size) of the last check
        self._good_intrinsics = None
        self.camera_infos = 0  # camera_info messages received
        self.camera_info_rejected = 0  # ... refused when checked against the images
        self.camera_info_problem = ''  # why the newest checked one was refused ('' = it is used)
        self.intrinsics_source = 'none yet'

        self.received = 0  # images taken in
        self.processed = 0  # images run through the detector
        self.rejected = 0  # images that could not be decoded
        self.rejected_by_kind = Counter()
        self.last_rejection = ''
        self.failures = 0  # images on which detection failed
        self.last_failure = ''
        self.last_seen = {}  # side -> monotonic time the detector last found it
        self.sides_now = ()  # sides in the newest processed image
        self.last_frame_id = None

        # the last seconds' events, counted from now on: loading MediaPipe is no idle input
        self.images_in = EventWindow()
        self.rejections = EventWindow()
        self.failures_recent = EventWindow()
        self.latency_ms = EventWindow()  # image stamp -> keypoints published
        self.keypoints_pub = self.create_publisher(PointCloud2, KEYPOINTS_TOPIC, 10)
        self.debug_pub = (self.create_publisher(Image, DEBUG_IMAGE_TOPIC, qos_profile_sensor_data)
                          if self._publish_debug else None)
        self._debug_observed = (self.debug_pub is not None and observer is not None
                                and self.debug_pub.topic_name in observer.topics)
        self.image_sub = self.create_subscription(Image, 'image', self._on_image,
                                                  qos_profile_sensor_data)
        self.camera_info_sub = None
        if p['fx'] <= 0.0:
            self.camera_info_sub = self.create_subscription(
                CameraInfo, 'camera_info', self._on_camera_info, qos_profile_sensor_data)

        self._detection = NewestOnly(self._detect, 'keypoint_detection')
        self._drawing = (NewestOnly(self._publish_debug_image, 'keypoint_debug_image')
                         if self.debug_pub is not None else None)
        publish_periodically(self, self.diagnostics)
        self.get_logger().info(f'detecting up to {p["max_hands"]} hands with {self.model} '
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
        self.images_in.add()
        self._detection.put(msg)

    def _on_camera_info(self, msg: CameraInfo):
        self._camera_info = msg  # checked against the next image's size
        self.camera_infos += 1

    def _intrinsics(self, width: int, height: int):
        """(Intrinsics, whether they are a guess) for an image of this size.

        The fixed parameters, else the newest camera_info if it passes its checks, else the
        last one that did, else a guess from the image size.
        """
        fx, fy, cx, cy = self._fixed_camera
        if fx > 0.0:
            try:
                camera = check_intrinsics(fx, fy, cx or width / 2.0, cy or height / 2.0,
                                          width, height)
                self.intrinsics_source = 'parameters fx fy cx cy'
                return camera, self._guessed
            except CameraInfoError as error:
                self.log(f'parameters: {error.kind}', 'warning',
                         f'intrinsics parameters refused: {error}; guessing instead')
                return self._guess(width, height, f'parameters refused ({error})')
        info = self._camera_info
        checked_info, checked_size = self._checked
        if info is not None and (info is not checked_info or checked_size != (width, height)):
            self._checked = (info, (width, height))  # each message checked once per size
            try:
                self._good_intrinsics = (camera_info_intrinsics(info, width, height),
                                         (width, height))
                self.camera_info_problem = ''
            except CameraInfoError as error:
                self.camera_info_rejected += 1
                self.camera_info_problem = str(error)
                keeping = ('the last good one' if self._good_intrinsics is not None
                           else 'a guess')
                self.log(f'camera_info: {error.kind}', 'warning',
                         f'camera_info rejected: {error}; using {keeping}')
        good, size = self._good_intrinsics or (None, None)
        if size == (width, height):  # checked for images of this size
            self.intrinsics_source = (('camera_info' if not self.camera_info_problem
                                       else 'the last good camera_info')
                                      + (' (a guess: intrinsics_guessed)' if self._guessed
                                         else ''))
            return good, self._guessed
        return self._guess(width, height, 'no camera_info yet' if info is None
                           else 'no usable camera_info')

    def _guess(self, width: int, height: int, why: str):
        if not self.intrinsics_source.startswith('guess'):
            self.get_logger().info(f'{why}: guessing a {DEFAULT_FOV_DEG:.0f} deg field of view '
                                   'until usable intrinsics arrive')
        self.intrinsics_source = f'guess ({DEFAULT_FOV_DEG:.0f} deg field of view): {why}'
        return guess_intrinsics(width, height), True

    def _detect(self, msg: Image):
        try:
            self._process(msg)
        except ImageConversionError as error:
            self._reject(error)
        except Exception as error:  # keep serving: one bad frame must not stop the node
            self.failures += 1
            self.failures_recent.add()
            self.last_failure = f'{error!r}'
            self.log(f'detection: {type(error).__name__}', 'error',
                     f'hand detection failed: {error!r}')

    def _reject(self, error: ImageConversionError):
        kind = type(error).__name__
        self.rejected += 1
        self.rejected_by_kind[kind] += 1
        self.rejections.add()
        self.last_rejection = str(error)
        self.log(f'image: {kind}', 'warning', f'skipping image: {error}')

    def _process(self, msg: Image):
        rgb = image_to_rgb(msg)
        restarts = self.detector.restarts
        camera, guessed = self._intrinsics(msg.width, msg.height)
        hands = self.detector.detect(rgb, stamp_ns(msg.header), camera, guessed)
        if self.detector.restarts != restarts:
            self.log('stamp', 'info', 'image stamp did not increase (bag loop?): tracking '
                                      'restarted')
        self.processed += 1
        publish(self.keypoints_pub, keypoints_to_cloud(msg.header, hands), self._observer)
        self.latency_ms.add((self.get_clock().now().nanoseconds - stamp_ns(msg.header)) * 1e-6)
        now = time.monotonic()
        self.sides_now = tuple(sorted({hand.side for hand in hands}))
        for side in self.sides_now:
            self.last_seen[side] = now
        self.last_frame_id = msg.header.frame_id
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
            self.log('debug_image', 'error', f'debug image failed: {error!r}')

    def diagnostics(self) -> list:
        """This node's DiagnosticStatus messages: its camera input and its hand detection."""
        camera = Health()
        image_topic = self.image_sub.topic_name
        idle = self.images_in.idle()
        if idle > STALE_INPUT_SEC:
            camera.warn(f'no images for {idle:.0f} s: is the camera publishing on '
                        f'{image_topic}?')
        if self.camera_info_problem:
            camera.warn(f'camera_info rejected: {self.camera_info_problem}')
        if self.rejections.count():
            if self.rejections.count() >= self.images_in.count():
                camera.error(f'every image rejected: {self.last_rejection}')
            else:
                camera.warn(f'images rejected: {self.last_rejection}')
        camera_values = {
            'image topic': image_topic,
            'camera_info topic': (self.camera_info_sub.topic_name if self.camera_info_sub
                                  else 'not used (fx set)'),
            'images in (Hz)': number(self.images_in.rate()),
            'images received': self.received,
            'images dropped (detector busy: newest only)': self.dropped,
            'images rejected': self.rejected,
            **{f'images rejected: {kind}': n for kind, n in sorted(self.rejected_by_kind.items())},
            'last image rejection': self.last_rejection or '-',
            'frame_id': self.last_frame_id if self.last_frame_id is not None else '-',
            'intrinsics': self.intrinsics_source,
            'camera_info received': self.camera_infos,
            'camera_info rejected': self.camera_info_rejected,
            'camera_info problem': self.camera_info_problem or '-',
        }
        detection = Health()
        if self.failures_recent.count():
            if self.latency_ms.count() == 0:
                detection.error(f'hand detection fails on every image: {self.last_failure}')
            else:
                detection.warn(f'hand detection failed: {self.last_failure}')
        now = time.monotonic()
        hands = {f'{side} hand': ('detected' if side in self.sides_now else
                                  f'not seen for {now - self.last_seen[side]:.1f} s'
                                  if side in self.last_seen else 'not seen')
                 for side in ('left', 'right')}
        detection_values = {
            'model': f'MediaPipe HandLandmarker, {self.model}',
            'device': 'cpu',
            'max hands': self.max_hands,
            'images processed': self.processed,
            'keypoint clouds out (Hz)': number(self.latency_ms.rate()),
            'latency p50 (ms, image stamp -> keypoints)': number(self.latency_ms.percentile(50)),
            'latency p95 (ms, image stamp -> keypoints)': number(self.latency_ms.percentile(95)),
            **hands,
            'detection failures': self.failures,
            'last detection failure': self.last_failure or '-',
        }
        return [
            status(status_name(self, 'camera input'), image_topic, camera,
                   f'{number(self.images_in.rate())} images/s', camera_values),
            status(status_name(self, 'hand detection'), image_topic, detection,
                   f'{number(self.latency_ms.rate())} keypoint clouds/s; hands: '
                   f'{", ".join(self.sides_now) or "none"}', detection_values),
        ]


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
