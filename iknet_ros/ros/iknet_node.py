"""iknet_node: hand keypoint clouds in; joint rotations, TF, an RViz skeleton and attention out.

A thin shell over ``tracking.tracker.HandTracker`` (one track per hand side, sequence IKNet):
``hand/keypoints`` -> ``cloud_to_keypoints`` -> ``HandTracker.update`` -> the builders of
``ros.messages``, every output stamped with the cloud's (the image's) header. The anatomical
angles go to ``hand/joint_states`` (the hand URDF's joints); those outside the skeleton's limits
are counted and logged (throttled).
"""
import re
import sys
import time
from collections import deque

import numpy as np
import rclpy.logging
from rclpy.node import Node
from sensor_msgs.msg import JointState, MultiDOFJointState, PointCloud2
from std_msgs.msg import Float32MultiArray, Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from iknet_ros.hand import angles as hand_angles
from iknet_ros.model.device import DEVICES
from iknet_ros.ros import messages
from iknet_ros.ros.conversions import cloud_to_keypoints
from iknet_ros.ros.node_main import publish, run_node
from iknet_ros.ros.parameters import Param, declare
from iknet_ros.tracking.tracker import HandTracker

LOG_THROTTLE_SEC = 5.0
KEYPOINTS_TOPIC = 'hand/keypoints'
ROTATIONS_TOPIC, SKELETON_TOPIC, ATTENTION_TOPIC, ANGLES_TOPIC = \
    'hand/joint_rotations', 'hand/skeleton', 'hand/attention', 'hand/joint_states'
TF_TOPIC = '/tf'  # TF is global by convention

PARAMETERS = {
    'device': Param('auto', 'Inference device: auto (CUDA when available), cpu or cuda.',
                    choices=DEVICES),
    'checkpoint': Param('', "IKNet checkpoint folder (model.safetensors + config.json), "
                            "sequence or baseline; '' = the shipped sequence IKNet."),
    'reset_after': Param(0.5, 'Seconds a hand may be missing before its track (window) '
                              'restarts; > 0.', above=0.0),
    'bone_time_constant': Param(10.0, "Seconds over which a track averages the model's bone "
                                     'lengths (a running mean, then an exponential average); '
                                     '> 0.', above=0.0),
    'frame_id': Param('', "Frame of the outputs; '' = the keypoint cloud's (the camera's) "
                          'frame.'),
    'publish_tf': Param(True, 'Publish the joint frames on /tf (rooted at the camera frame).'),
    'publish_markers': Param(True, 'Publish the RViz skeleton on hand/skeleton.'),
    'publish_joint_tf': Param(True, "With publish_tf: every joint's frame on /tf; false: only "
                                    'the camera -> <side>_wrist transforms, for '
                                    'robot_state_publisher to add the rest from the hand URDF '
                                    '(launch hand_model:=urdf).'),
}


class IKNetNode(Node):
    """Joint rotations of every tracked hand, from a temporal window of keypoint frames.

    `observer` (optional) is handed what the node publishes (see `node_main.publish`).
    """

    def __init__(self, observer=None, **kwargs):
        super().__init__('iknet_node', **kwargs)
        p = declare(self, PARAMETERS)
        self._observer = observer
        self.frame_id = p['frame_id']
        self.received = 0  # clouds taken in
        self.published = 0  # clouds answered with joint rotations (possibly of no hand)
        self.rejected = 0  # clouds that could not be used
        self.last_rejection = ''
        self.update_ms = deque(maxlen=10_000)  # tracker time per cloud
        self.hands_angled = 0  # hand poses published as joint angles
        self.hands_outside_limits = 0  # ... of which some DOF was outside the skeleton's limits
        self.last_limit_report = []  # [(DOF name, degrees outside)] of the latest such hand
        self.publish_joint_tf = p['publish_joint_tf']
        self._loggers = {}  # one logger per kind of problem: each throttled on its own

        self.tracker, self.load_error = None, ''
        try:
            self.tracker = HandTracker(checkpoint=p['checkpoint'] or None, device=p['device'],
                                       reset_after=p['reset_after'],
                                       bone_time_constant=p['bone_time_constant'])
        except Exception as error:  # stay up and say why, whatever the cause
            self.load_error = str(error) or repr(error)
            self.get_logger().error(f'cannot load the IKNet ({self.load_error}); not publishing '
                                    'joint rotations until restarted with a working checkpoint')

        self.joints_pub = self.create_publisher(MultiDOFJointState, ROTATIONS_TOPIC, 10)
        self.tf_pub = self.create_publisher(TFMessage, TF_TOPIC, 100) if p['publish_tf'] else None
        self.markers_pub = (self.create_publisher(MarkerArray, SKELETON_TOPIC, 10)
                            if p['publish_markers'] else None)
        self.attention_pub = self.create_publisher(Float32MultiArray, ATTENTION_TOPIC, 10)
        self.angles_pub = self.create_publisher(JointState, ANGLES_TOPIC, 10)
        self.create_subscription(PointCloud2, KEYPOINTS_TOPIC, self._on_cloud, 10)
        if self.tracker is not None:
            self.get_logger().info(
                f'{self.tracker.config["kind"]} IKNet on {self.tracker.device}, '
                f'window {self.tracker.window} frames, reset after {p["reset_after"]} s')

    def _log(self, kind: str, level: str, text: str):
        """Log `text` at most once per throttle period for each kind of event."""
        if kind not in self._loggers:
            self._loggers[kind] = rclpy.logging.get_logger(self.get_logger().name)
        getattr(self._loggers[kind], level)(text, throttle_duration_sec=LOG_THROTTLE_SEC)

    def _on_cloud(self, msg: PointCloud2):
        self.received += 1
        if self.tracker is None:
            self._log('no_model', 'error', f'no IKNet loaded ({self.load_error}): '
                                           'keypoints ignored')
            return
        stamp = messages.stamp_ns(msg.header) * 1e-9
        try:
            hands = cloud_to_keypoints(msg)
            start = time.perf_counter()
            out = self.tracker.update(stamp, hands)
            self.update_ms.append((time.perf_counter() - start) * 1000.0)
        except ValueError as error:
            self.rejected += 1
            self.last_rejection = str(error)
            # one line per kind of problem (numbers aside), however often it repeats
            self._log(re.sub(r'[\d.]+', '#', str(error)), 'warning',
                      f'skipping keypoint cloud: {error}')
            return
        for side, reason in out.resets.items():
            self._log(f'reset_{side}', 'info', f'{side} hand: track (re)started: {reason}')
        for side in out.lost:
            self._log(f'lost_{side}', 'info', f'{side} hand lost: track dropped')
        header = msg.header if not self.frame_id else \
            Header(stamp=msg.header.stamp, frame_id=self.frame_id)
        publish(self.joints_pub, messages.joint_state(header, out.estimates), self._observer)
        if self.tf_pub is not None and out.estimates:
            publish(self.tf_pub, messages.tf_message(header, out.estimates,
                                                     wrist_only=not self.publish_joint_tf),
                    self._observer)
        if self.markers_pub is not None:
            publish(self.markers_pub, messages.skeleton_markers(header, out.estimates),
                    self._observer)
        if out.estimates:
            publish(self.attention_pub, messages.attention_message(out.estimates),
                    self._observer)
        angles = messages.joint_angles(header, out.estimates)
        publish(self.angles_pub, angles, self._observer)
        self._check_limits(angles)
        self.published += 1

    def _check_limits(self, msg: JointState):
        """Count hands with a DOF outside the skeleton's limits and say which (throttled)."""
        per_hand = np.reshape(msg.position, (-1, hand_angles.NUM_DOFS))
        for k, angles in enumerate(per_hand):
            self.hands_angled += 1
            side = msg.name[k * hand_angles.NUM_DOFS].split('_', 1)[0]
            report = hand_angles.limit_report(angles, side)
            if not report:
                continue
            self.hands_outside_limits += 1
            self.last_limit_report = report
            worst = ', '.join(f'{name} by {excess:.0f} deg' for name, excess in report[:3])
            self._log(f'limits_{side}', 'warning',
                      f'{side} hand: {len(report)} joint angles outside the skeleton limits '
                      f'({worst}); {self.hands_outside_limits} of {self.hands_angled} hand '
                      'poses so far')

    def update_ms_p50(self) -> float:
        """Median tracker time per cloud in ms (NaN before the first)."""
        return float(np.median(self.update_ms)) if self.update_ms else float('nan')


def use_one_torch_thread():
    """Keep torch to one intra-op thread: the node shares the cores with MediaPipe.

    torch's default pool (one thread per core) oversubscribes busy cores, and a batch-1 forward
    gains nothing from more threads.
    """
    import torch
    torch.set_num_threads(1)


def main(args=None):
    """Run iknet_node until Ctrl-C or shutdown; 1 on a bad parameter."""
    use_one_torch_thread()
    return run_node(IKNetNode, args)

if __name__ == '__main__':
    sys.exit(main())
