"""iknet_node: hand keypoint clouds in; joint rotations, TF, an RViz skeleton and attention out.

A thin shell over ``tracking.tracker.HandTracker`` (one track per hand side, sequence IKNet):
``hand/keypoints`` -> ``cloud_to_keypoints`` -> ``HandTracker.update`` -> the builders of
``ros.messages``, every output stamped with the cloud's (the image's) header. The anatomical
angles go to ``hand/joint_states`` (the hand URDF's joints); those outside the skeleton's limits
are counted and logged (throttled). A node without a usable model fails at start (see
``node_main.run_node``); at run time a bad cloud or hand is skipped with one line per kind.
"""
import re
import sys
import time
from collections import Counter, deque

import numpy as np
import torch
from rclpy.node import Node
from sensor_msgs.msg import JointState, MultiDOFJointState, PointCloud2
from std_msgs.msg import Float32MultiArray, Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from iknet_ros.hand import angles as hand_angles
from iknet_ros.model.checkpoint import default_checkpoint
from iknet_ros.model.device import DEVICES
from iknet_ros.ros import messages
from iknet_ros.ros.conversions import cloud_to_keypoints
from iknet_ros.ros.diagnostics import (
    STALE_INPUT_SEC,
    EventWindow,
    Health,
    number,
    publish_periodically,
    status,
    status_name,
)
from iknet_ros.ros.names import camera_frame, namespace_prefix
from iknet_ros.ros.node_main import publish, run_node
from iknet_ros.ros.parameters import Param, declare
from iknet_ros.ros.throttled_log import ThrottledLog
from iknet_ros.tracking.tracker import HandTracker, check_hand

KEYPOINTS_TOPIC = 'hand/keypoints'
ROTATIONS_TOPIC, SKELETON_TOPIC, ATTENTION_TOPIC, ANGLES_TOPIC = \
    'hand/joint_rotations', 'hand/skeleton', 'hand/attention', 'hand/joint_states'
TF_TOPIC = '/tf'  # TF is global by convention
NEW_TRACK = 'new track'  # the tracker's reason for a track that simply starts
NUMBER = re.compile(r'[-\d.]+')  # a reset reason's figures: not part of its kind

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
                          "frame, or <namespace>/camera_optical_frame when that is empty."),
    'tf_prefix': Param('', "Prefix of the joint frames on /tf (e.g. 'cam1/' gives "
                           "cam1/right_wrist); '' = the node's namespace ('' at the root)."),
    'publish_tf': Param(True, 'Publish the joint frames on /tf (rooted at the camera frame).'),
    'publish_markers': Param(True, 'Publish the RViz skeleton on hand/skeleton.'),
    'publish_joint_tf': Param(True, "With publish_tf: every joint's frame on /tf; false: only "
                                    'the camera -> <side>_wrist transforms, for '
                                    'robot_state_publisher to add the rest from the hand URDF '
                                    '(launch hand_model:=urdf).'),
}


def load_tracker(p: dict) -> HandTracker:
    """The tracker of the node's parameters, or ValueError saying why the IKNet cannot run.

    Whatever the cause (a missing or corrupt checkpoint, a device torch does not have, weights
    that are not finite), the node cannot do its job and must not start.
    """
    source = p['checkpoint'] or f'the shipped {default_checkpoint()}'
    try:
        tracker = HandTracker(checkpoint=p['checkpoint'] or None, device=p['device'],
                              reset_after=p['reset_after'],
                              bone_time_constant=p['bone_time_constant'])
    except Exception as error:
        raise ValueError(f'cannot load the IKNet from {source}: {error}') from error
    bad = [name for name, weights in tracker.model.state_dict().items()
           if weights.is_floating_point() and not bool(torch.isfinite(weights).all())]
    if bad:
        raise ValueError(f'cannot use the IKNet from {source}: non-finite weights in '
                         f'{", ".join(bad[:3])}{" ..." if len(bad) > 3 else ""}')
    return tracker


class HandState:
    """What the node says about one hand side: its track's age, resets and their reasons."""

    def __init__(self):
        self.frames = 0  # frames in the current track
        self.resets = 0  # tracks (re)started
        self.restarts = EventWindow()  # ... for another reason than a hand that simply appeared
        self.last_reason = ''
        self.last_restart = ''  # the latest such other reason
        self.lost = 0  # tracks dropped after the hand was missing longer than reset_after


class IKNetNode(Node):
    """Joint rotations of every tracked hand, from a temporal window of keypoint frames.

    `observer` (optional) is handed what the node publishes (see `node_main.publish`).
    """

    NODE_NAME = 'iknet_node'

    def __init__(self, observer=None, **kwargs):
        super().__init__(self.NODE_NAME, **kwargs)
        p = declare(self, PARAMETERS)
        self._observer = observer
        self.log = ThrottledLog(self.get_logger())
        self.frame_id = p['frame_id']
        self.fallback_frame = camera_frame(self.get_namespace())
        self.tf_prefix = namespace_prefix(p['tf_prefix'] or self.get_namespace())
        self.received = 0  # clouds taken in
        self.published = 0  # clouds answered with joint rotations (possibly of no hand)
        self.rejected = 0  # clouds that could not be used
        self.rejected_by_kind = Counter()
        self.last_rejection = ''
        self.refused = 0  # hands dropped from a cloud: keypoints no hand could have
        self.last_refusal = ''
        self.empty_frame_ids = 0  # clouds without frame_id, published in fallback_frame
        self.update_ms = deque(maxlen=10_000)  # tracker time per cloud
        self.hands = {side: HandState() for side in ('left', 'right')}
        self.hands_angled = 0  # hand poses published as joint angles
        self.hands_outside_limits = 0  # ... of which some DOF was outside the skeleton's limits
        self.last_limit_report = []  # [(DOF name, degrees outside)] of the latest such hand
        self.publish_joint_tf = p['publish_joint_tf']

        self.tracker = load_tracker(p)
        self.checkpoint = p['checkpoint'] or str(default_checkpoint())
        # the last seconds' events, counted from now on: loading the model is no idle input
        self.clouds_in = EventWindow()
        self.rejections = EventWindow()
        self.refusals = EventWindow()
        self.latency_ms = EventWindow()  # image stamp -> rotations published

        self.joints_pub = self.create_publisher(MultiDOFJointState, ROTATIONS_TOPIC, 10)
        self.tf_pub = self.create_publisher(TFMessage, TF_TOPIC, 100) if p['publish_tf'] else None
        self.markers_pub = (self.create_publisher(MarkerArray, SKELETON_TOPIC, 10)
                            if p['publish_markers'] else None)
        self.attention_pub = self.create_publisher(Float32MultiArray, ATTENTION_TOPIC, 10)
        self.angles_pub = self.create_publisher(JointState, ANGLES_TOPIC, 10)
        self.cloud_sub = self.create_subscription(PointCloud2, KEYPOINTS_TOPIC, self._on_cloud,
                                                  10)
        publish_periodically(self, self.diagnostics)
        self.get_logger().info(
            f'{self.tracker.config["kind"]} IKNet on {self.tracker.device}, '
            f'window {self.tracker.window} frames, reset after {p["reset_after"]} s'
            + (f', TF frames {self.tf_prefix}<side>_<joint>' if self.tf_prefix else ''))

    def _on_cloud(self, msg: PointCloud2):
        self.received += 1
        self.clouds_in.add()
        stamp = messages.stamp_ns(msg.header) * 1e-9
        try:
            hands = [hand for hand in cloud_to_keypoints(msg) if self._plausible(hand)]
            start = time.perf_counter()
            out = self.tracker.update(stamp, hands)
            self.update_ms.append((time.perf_counter() - start) * 1000.0)
        except ValueError as error:  # a CloudConversionError, or the tracker refusing input
            kind = type(error).__name__
            self.rejected += 1
            self.rejected_by_kind[kind] += 1
            self.rejections.add()
            self.last_rejection = str(error)
            self.log(f'cloud: {kind}', 'warning', f'skipping keypoint cloud: {error}')
            return
        self._account(out)
        header = self._header(msg.header)
        publish(self.joints_pub, messages.joint_state(header, out.estimates), self._observer)
        if self.tf_pub is not None and out.estimates:
            publish(self.tf_pub, messages.tf_message(header, out.estimates,
                                                     wrist_only=not self.publish_joint_tf,
                                                     prefix=self.tf_prefix),
                    self._observer)
        if self.markers_pub is not None:
            publish(self.markers_pub, messages.skeleton_markers(header, out.estimates),
                    self._observer)
        if out.estimates:
            publish(self.attention_pub, messages.attention_message(out.estimates),
                    self._observer)
        angles = messages.joint_angles(header, out.estimates)
        publish(self.angles_pub, angles, self._observer)
        self.latency_ms.add((self.get_clock().now().nanoseconds
                             - messages.stamp_ns(msg.header)) * 1e-6)
        self._check_limits(angles)
        self.published += 1

    def _plausible(self, hand) -> bool:
        """Whether a hand's keypoints can be a hand in view; if not, say so, once per side.

        A refused hand is dropped: the rest of its cloud is still answered, and its track sees
        a missing hand.
        """
        try:
            check_hand(hand)
        except ValueError as error:
            self.refused += 1
            self.refusals.add()
            self.last_refusal = str(error)
            self.log(f'refused: {hand.side}', 'warning', f'refusing a hand: {error}')
            return False
        return True

    def _account(self, out):
        """Log what happened to the tracks in causal order: a hand lost, then its new track.

        Each reset reason is throttled on its own, so a rare one is never hidden behind the
        lines of frequent new tracks; a new track right after a "lost" line is always logged,
        so the pair reads as what happened.
        """
        said_lost = set()
        for side in out.lost:
            self.hands[side].lost += 1
            self.hands[side].frames = 0
            if self.log(f'lost: {side}', 'info', f'{side} hand lost: track dropped'):
                said_lost.add(side)
        for side, reason in out.resets.items():
            state = self.hands[side]
            state.resets += 1
            state.frames = 0
            state.last_reason = reason
            if reason != NEW_TRACK:
                state.restarts.add()
                state.last_restart = reason
            text = (f'{side} hand: new track' if reason == NEW_TRACK
                    else f'{side} hand: track restarted ({reason})')
            if side in said_lost:
                self.get_logger().info(text)
            else:
                self.log(f'reset: {side}: {re.sub(NUMBER, "#", reason)}', 'info', text)
        for est in out.estimates:
            self.hands[est.side].frames += 1

    def _header(self, header: Header) -> Header:
        """The outputs' header: the cloud's stamp, in frame_id, the cloud's or the fallback."""
        frame = self.frame_id or header.frame_id
        if not frame:
            frame = self.fallback_frame
            self.empty_frame_ids += 1
            self.log('empty frame_id', 'warning',
                     f"keypoint cloud without frame_id: outputs (and /tf) in '{frame}'; set the "
                     "camera's frame_id or iknet_node's frame_id parameter")
        return header if frame == header.frame_id else Header(stamp=header.stamp, frame_id=frame)

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
            self.log(f'limits: {side}', 'warning',
                     f'{side} hand: {len(report)} joint angles outside the skeleton limits '
                     f'({worst}); {self.hands_outside_limits} of {self.hands_angled} hand '
                     'poses so far')

    def update_ms_p50(self) -> float:
        """Median tracker time per cloud in ms (NaN before the first)."""
        return float(np.median(self.update_ms)) if self.update_ms else float('nan')

    def diagnostics(self) -> list:
        """This node's DiagnosticStatus messages: its keypoint input and its tracking."""
        device = str(self.tracker.device)
        keypoints = Health()
        topic = self.cloud_sub.topic_name
        idle = self.clouds_in.idle()
        if idle > STALE_INPUT_SEC:
            keypoints.warn(f'no keypoint clouds for {idle:.0f} s: is keypoint_node publishing '
                           f'on {topic}?')
        if self.rejections.count():
            if self.rejections.count() >= self.clouds_in.count():
                keypoints.error(f'every keypoint cloud rejected: {self.last_rejection}')
            else:
                keypoints.warn(f'keypoint clouds rejected: {self.last_rejection}')
        if self.refusals.count():
            keypoints.warn(f'hands refused: {self.last_refusal}')
        keypoint_values = {
            'keypoints topic': topic,
            'clouds in (Hz)': number(self.clouds_in.rate()),
            'clouds received': self.received,
            'clouds rejected': self.rejected,
            **{f'clouds rejected: {kind}': n for kind, n in sorted(self.rejected_by_kind.items())},
            'last cloud rejection': self.last_rejection or '-',
            'hands refused (implausible keypoints)': self.refused,
            'last hand refusal': self.last_refusal or '-',
        }
        tracking = Health()
        if self.empty_frame_ids:
            tracking.warn(f"keypoint clouds without frame_id: outputs in '{self.fallback_frame}'")
        hand_values = {}
        for side, state in self.hands.items():
            if state.restarts.count():
                tracking.warn(f'{side} hand: track restarted: {state.last_restart}')
            hand_values[f'{side} hand'] = (f'tracking, {state.frames} frames'
                                           if side in self.tracker.tracks else 'no track')
            hand_values[f'{side} hand resets'] = state.resets
            hand_values[f'{side} hand lost'] = state.lost
            hand_values[f'{side} hand last reset'] = state.last_reason or '-'
        tracking_values = {
            'model': f'{self.tracker.config["kind"]} IKNet',
            'checkpoint': self.checkpoint,
            'device': device,
            'window (frames)': self.tracker.window,
            'rotations out (Hz)': number(self.latency_ms.rate()),
            'rotations published': self.published,
            'latency p50 (ms, image stamp -> rotations)': number(self.latency_ms.percentile(50)),
            'latency p95 (ms, image stamp -> rotations)': number(self.latency_ms.percentile(95)),
            'tracker p50 (ms)': number(self.update_ms_p50(), 2),
            **hand_values,
            'frame_id': self.frame_id or '(the cloud\'s)',
            'tf prefix': self.tf_prefix or '-',
            'hands outside the joint limits': f'{self.hands_outside_limits} of '
                                              f'{self.hands_angled}',
        }
        tracked = [side for side in self.hands if side in self.tracker.tracks]
        return [
            status(status_name(self, 'keypoint input'), device, keypoints,
                   f'{number(self.clouds_in.rate())} keypoint clouds/s', keypoint_values),
            status(status_name(self, 'tracking'), device, tracking,
                   f'{number(self.latency_ms.rate())} rotations/s; tracking: '
                   f'{", ".join(tracked) or "no hand"}', tracking_values),
        ]



def use_one_torch_thread():
    """Keep torch to one intra-op thread: the node shares the cores with MediaPipe.

    torch's default pool (one thread per core) oversubscribes busy cores, and a batch-1 forward
    gains nothing from more threads.
    """
    import torch
    torch.set_num_threads(1)


def main(args=None):
    """Run iknet_node until Ctrl-C or shutdown; 1 on a bad parameter, checkpoint or device."""
    use_one_torch_thread()
    return run_node(IKNetNode, args)

if __name__ == '__main__':
    sys.exit(main())
