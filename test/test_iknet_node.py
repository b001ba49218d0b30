"""iknet_node over real DDS fed synthetic keypoint clouds; `iknet-ros run` on the real video."""

import numpy as np
import pytest
import torch
from conftest import header_at
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import MultiDOFJointState, PointCloud2, PointField
from std_msgs.msg import Float32MultiArray
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.model.checkpoint import load_checkpoint, save_checkpoint
from iknet_ros.ros.conversions import keypoints_to_cloud
from iknet_ros.ros.graph import wait_for
from iknet_ros.ros.iknet_node import IKNetNode
from iknet_ros.synth.motion import generate_motion
from iknet_ros.synth.observation import observe

pytestmark = pytest.mark.usefixtures('one_torch_thread')

FRAME = 'test_optical_frame'
FPS = 30.0


@pytest.fixture(scope='module')
def hands():
    """Detector-like keypoints (F, 21, 3) of a right hand and (mirrored) a left hand."""
    motion = generate_motion(2, 60, seed=11)
    keypoints = observe(motion.positions, 'realistic', seed=12).keypoints.numpy()
    return {'right': keypoints[0], 'left': keypoints[1] @ sk.MIRROR.T}


def hand(side, xyz, score=0.9):
    return HandKeypoints(side=side, xyz=xyz, uv=np.zeros((sk.NUM_JOINTS, 2)), score=score)


def header(t, frame_id=FRAME):
    return header_at(t, frame_id)


class Feeder:
    """A test node that publishes keypoint clouds and collects everything iknet_node says."""

    def __init__(self, graph, iknet):
        self.node = graph.add(Node('test_feeder', context=graph.context))
        self.iknet = iknet
        self.pub = self.node.create_publisher(PointCloud2, '/hand/keypoints', 10)
        self.joints, self.tf, self.skeleton, self.attention = [], [], [], []
        self.attention_sent = 0  # clouds answered with hands: each has one attention message
        for msg_type, topic, box, depth in (
                (MultiDOFJointState, '/hand/joint_rotations', self.joints, 100),
                (TFMessage, '/tf', self.tf, 100),
                (MarkerArray, '/hand/skeleton', self.skeleton, 100),
                (Float32MultiArray, '/hand/attention', self.attention, 100)):
            self.node.create_subscription(msg_type, topic, box.append, depth)
        assert wait_for(lambda: self.pub.get_subscription_count() > 0
                        and iknet.joints_pub.get_subscription_count() > 0
                        and iknet.tf_pub.get_subscription_count() > 0
                        and iknet.markers_pub.get_subscription_count() > 0
                        and iknet.attention_pub.get_subscription_count() > 0, 10), \
            'iknet_node and the test node did not discover each other'

    def send(self, cloud):
        """Publish one cloud; return the joint rotations answering it (None if rejected)."""
        rejected, handled = self.iknet.rejected, self.iknet.published + self.iknet.rejected + 1
        self.pub.publish(cloud)
        assert wait_for(lambda: self.iknet.published + self.iknet.rejected >= handled, 10), \
            'iknet_node did not handle the cloud'
        if self.iknet.rejected > rejected:
            return None
        joints = wait_for(lambda: next((j for j in self.joints
                                        if j.header.stamp == cloud.header.stamp), None), 5.0)
        if joints is not None and joints.joint_names:
            self.attention_sent += 1
        return joints

    def last_attention(self):
        """The attention published for the last cloud with hands.

        It has no header to match, and may arrive after the next cloud is sent: count instead.
        """
        assert wait_for(lambda: len(self.attention) >= self.attention_sent, 5.0)
        return attention_of(self.attention[self.attention_sent - 1])

    def markers_at(self, stamp):
        return wait_for(lambda: next((m for m in self.skeleton
                                      if m.markers[0].header.stamp == stamp), None), 5.0)

    def tf_at(self, stamp):
        return wait_for(lambda: next((m for m in self.tf
                                      if m.transforms[0].header.stamp == stamp), None), 5.0)




@pytest.fixture
def feeder(ros_graph):
    iknet = ros_graph.add(IKNetNode(context=ros_graph.context, parameter_overrides=[
        Parameter('device', value='cpu'), Parameter('reset_after', value=0.5)]))
    return Feeder(ros_graph, iknet)


def attention_of(msg):
    dims = msg.layout.dim
    return np.asarray(msg.data, dtype=np.float32).reshape([d.size for d in dims])


def test_rotations_tf_markers_and_attention_of_two_hands(feeder, hands):
    window = feeder.iknet.tracker.window
    frames = window + 2
    for f in range(frames):
        cloud = keypoints_to_cloud(header(100.0 + f / FPS),
                                   [hand('right', hands['right'][f]),
                                    hand('left', hands['left'][f])])
        joints = feeder.send(cloud)
        assert joints is not None
    stamp = cloud.header.stamp
    names = sk.side_joint_names('right') + sk.side_joint_names('left')
    assert sorted(joints.joint_names) == sorted(names)
    assert len(joints.transforms) == 2 * sk.NUM_JOINTS
    assert joints.header.frame_id == FRAME and joints.header.stamp == stamp
    quats = np.array([[t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w]
                      for t in joints.transforms])
    np.testing.assert_allclose(np.linalg.norm(quats, axis=1), 1.0, atol=1e-5)

    tf = feeder.tf_at(stamp)
    assert tf is not None
    parents = {t.child_frame_id: t.header.frame_id for t in tf.transforms}
    assert set(parents) == set(names)
    assert all(t.header.stamp == stamp for t in tf.transforms)
    for side in ('left', 'right'):
        side_names = sk.side_joint_names(side)
        assert parents[side_names[0]] == FRAME  # rooted at the cloud's (the image's) frame
        for j in range(1, sk.NUM_JOINTS):
            assert parents[side_names[j]] == side_names[sk.PARENTS[j]]

    markers = feeder.markers_at(stamp).markers
    assert markers[0].action == Marker.DELETEALL
    drawn = [m for m in markers[1:] if m.action == Marker.ADD]
    assert {m.ns for m in drawn} == {'right_hand', 'left_hand'}
    assert {m.type for m in drawn} == {Marker.LINE_LIST, Marker.SPHERE_LIST}
    assert all(m.header.frame_id == FRAME and m.header.stamp == stamp for m in markers)

    msg = wait_for(lambda: len(feeder.attention) >= frames and feeder.attention[-1], 5.0)
    assert msg
    labels = [d.label for d in msg.layout.dim]
    assert labels[0] == 'hand:right,left' and labels[1:] == ['layer', 'frame']
    att = attention_of(msg)
    assert att.shape[0] == 2 and att.shape[2] == window
    assert [d.stride for d in msg.layout.dim] == [att.size, att.shape[1] * window, window]
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-4)  # full window: a distribution


def test_lost_hand_disappears_and_returns_with_a_fresh_track(feeder, hands):
    t = 200.0
    for f in range(6):
        feeder.send(keypoints_to_cloud(header(t), [hand('right', hands['right'][f])]))
        t += 1 / FPS
    att = feeder.last_attention()
    assert att[0, :, :-1].sum() > 0.01  # the newest frame attends to earlier ones
    # the hand leaves: empty clouds (no hand) for longer than reset_after
    empty_stamps = []
    while t < 200.0 + 6 / FPS + 0.7:
        cloud = keypoints_to_cloud(header(t), [])
        joints = feeder.send(cloud)
        assert joints is not None and list(joints.joint_names) == []
        empty_stamps.append(cloud.header.stamp)
        t += 1 / FPS
    markers = feeder.markers_at(empty_stamps[-1]).markers
    assert len(markers) == 1 and markers[0].action == Marker.DELETEALL
    # it comes back: a new track, whose newest frame has no history to attend to
    feeder.send(keypoints_to_cloud(header(t), [hand('right', hands['right'][10])]))
    att = feeder.last_attention()
    np.testing.assert_allclose(att[0, :, -1], 1.0, atol=1e-5)
    np.testing.assert_allclose(att[0, :, :-1], 0.0, atol=1e-5)
    assert len(feeder.markers_at(header(t).stamp).markers) == 3


def malformed_cloud(stamp):
    cloud = keypoints_to_cloud(header(stamp), [hand('right', np.zeros((21, 3)) + 0.3)])
    cloud.fields = [PointField(name='x', offset=0, datatype=PointField.FLOAT32, count=1)]
    return cloud


def test_bad_input_is_skipped_and_the_next_good_cloud_served(feeder, hands):
    good = hands['right']
    t = 300.0
    assert feeder.send(keypoints_to_cloud(header(t), [hand('right', good[0])])) is not None
    nan = good[1].copy()
    nan[5, 1] = np.nan
    twenty = keypoints_to_cloud(header(t + 0.2), [hand('right', good[2])])
    twenty.width, twenty.row_step = 20, 20 * twenty.point_step
    twenty.data = bytes(twenty.data)[:20 * twenty.point_step]
    inf = good[3].copy()
    inf[0, 2] = np.inf
    bad = [('non-finite', keypoints_to_cloud(header(t + 0.1), [hand('right', nan)])),
           ('multiple of 21', twenty),
           ('non-finite', keypoints_to_cloud(header(t + 0.3), [hand('right', inf)])),
           ('lacks field', malformed_cloud(t + 0.4))]
    for expected, cloud in bad:
        rejected = feeder.iknet.rejected
        assert feeder.send(cloud) is None
        assert feeder.iknet.rejected == rejected + 1
        assert expected in feeder.iknet.last_rejection
        # ... and the next good message is served
        t += 1 / FPS
        assert feeder.send(keypoints_to_cloud(header(t), [hand('right', good[4])])) is not None
    # stamps going backwards (a bag loop): the track restarts, the cloud is served
    joints = feeder.send(keypoints_to_cloud(header(t - 5.0), [hand('right', good[5])]))
    assert joints is not None and len(joints.joint_names) == sk.NUM_JOINTS
    att = feeder.last_attention()
    np.testing.assert_allclose(att[0, :, -1], 1.0, atol=1e-5)


def test_a_missing_or_unusable_checkpoint_stops_the_node_at_start(ros_graph, tmp_path):
    """A node that cannot do its job does not start (node_main exits 1 with the reason)."""
    with pytest.raises(ValueError, match='cannot load the IKNet from .*nothing_here'):
        IKNetNode(context=ros_graph.context, parameter_overrides=[
            Parameter('checkpoint', value=str(tmp_path / 'nothing_here'))])
    model, _ = load_checkpoint(None, 'sequence')
    with torch.no_grad():
        next(model.parameters())[0] = float('nan')
    save_checkpoint(tmp_path / 'nan_weights', model)
    with pytest.raises(ValueError, match='non-finite weights'):
        IKNetNode(context=ros_graph.context, parameter_overrides=[
            Parameter('device', value='cpu'),
            Parameter('checkpoint', value=str(tmp_path / 'nan_weights'))])


def test_implausible_hands_are_refused_and_every_cloud_answered(feeder, hands, capfd):
    """A poisoned first frame (all joints at zero, all at one point) does not enter a track."""
    t = 400.0
    zeros = keypoints_to_cloud(header(t), [hand('right', np.zeros((21, 3)))])
    one_point = keypoints_to_cloud(header(t + 1 / FPS), [hand('right', np.full((21, 3), 0.4))])
    for cloud in (zeros, one_point):
        joints = feeder.send(cloud)
        assert joints is not None and list(joints.joint_names) == []  # answered: no hand
    assert feeder.iknet.refused == 2 and feeder.iknet.rejected == 0
    assert 'palm' in feeder.iknet.last_refusal
    # the good frames after it are all answered, the poisoned left hand beside one dropped
    for f in range(4):
        t = 400.0 + (2 + f) / FPS
        sent = [hand('right', hands['right'][f])]
        if f == 2:
            sent.append(hand('left', np.zeros((21, 3))))
        joints = feeder.send(keypoints_to_cloud(header(t), sent))
        assert joints is not None and joints.joint_names == sk.side_joint_names('right')
    assert feeder.iknet.refused == 3
    log = capfd.readouterr().err
    assert log.count('refusing a hand') == 2, log  # one line per side, however many frames


def test_a_non_finite_model_answer_restarts_the_track(feeder, hands, capfd):
    """Fault injection: the model's answer for one frame is NaN; node and DDS are real."""
    forward = feeder.iknet.tracker._forward
    poison = []

    def poisoned(*inputs):
        rotations, shape, attention = forward(*inputs)
        if poison:
            poison.clear()
            rotations = rotations * float('nan')
        return rotations, shape, attention

    feeder.iknet.tracker._forward = poisoned

    def send(f):
        return feeder.send(keypoints_to_cloud(header(500.0 + f / FPS),
                                              [hand('right', hands['right'][f])]))
    for f in range(4):
        assert send(f).joint_names == sk.side_joint_names('right')
    poison.append(True)
    joints = send(4)
    assert joints is not None and list(joints.joint_names) == []  # nothing non-finite goes out
    assert send(5).joint_names == sk.side_joint_names('right')
    np.testing.assert_allclose(feeder.last_attention()[0, :, -1], 1.0, atol=1e-5)  # a new track
    state = feeder.iknet.hands['right']
    assert state.resets == 3 and state.last_reason == 'new track'  # new, NaN, new
    log = capfd.readouterr().err
    assert 'right hand: track restarted (the model gave a non-finite answer' in log, log
    [tracking] = [s for s in feeder.iknet.diagnostics() if s.name.endswith('tracking')]
    assert tracking.level == DiagnosticStatus.WARN and 'non-finite' in tracking.message


def test_lost_is_logged_before_the_new_track_and_every_reset_reason_shows(feeder, hands, capfd):
    t = 600.0
    feeder.send(keypoints_to_cloud(header(t), [hand('right', hands['right'][0])]))
    # back after longer than reset_after: lost and a new track in the same frame
    feeder.send(keypoints_to_cloud(header(t + 1.0), [hand('right', hands['right'][1])]))
    # stamps going backwards (a bag loop), within the throttle of the lines above
    feeder.send(keypoints_to_cloud(header(t - 5.0), [hand('right', hands['right'][2])]))
    log = capfd.readouterr().err
    assert log.count('right hand: new track') == 2, log
    assert log.index('right hand lost') < log.rindex('right hand: new track'), log
    assert 'right hand: track restarted (stamp went backwards by 6.000 s' in log, log


def test_an_empty_frame_id_is_replaced_with_a_warning(feeder, hands, capfd):
    t = 700.0
    for f in range(3):
        stamp = header(t + f / FPS, frame_id='')
        joints = feeder.send(keypoints_to_cloud(stamp, [hand('right', hands['right'][f])]))
        assert joints.header.frame_id == 'camera_optical_frame'
    tf = feeder.tf_at(stamp.stamp)
    assert {t.header.frame_id for t in tf.transforms if t.child_frame_id == 'right_wrist'} == \
        {'camera_optical_frame'}
    log = capfd.readouterr().err
    assert log.count('keypoint cloud without frame_id') == 1, log


def test_in_a_namespace_topics_and_tf_frames_are_its_own(ros_graph, hands):
    got = {}
    node = ros_graph.add(Node('test_cam1_feeder', context=ros_graph.context))
    for name, params in (('cam1', []), ('cam2', [Parameter('tf_prefix', value='left_camera')])):
        iknet = ros_graph.add(IKNetNode(context=ros_graph.context, namespace=name,
                                        parameter_overrides=[Parameter('device', value='cpu'),
                                                             *params]))
        got[name] = {'pub': node.create_publisher(PointCloud2, f'/{name}/hand/keypoints', 10),
                     'tf': [], 'joints': [], 'iknet': iknet}
        node.create_subscription(MultiDOFJointState, f'/{name}/hand/joint_rotations',
                                 got[name]['joints'].append, 10)
    node.create_subscription(TFMessage, '/tf', lambda msg: got['cam1']['tf'].append(msg), 100)
    assert wait_for(lambda: all(g['pub'].get_subscription_count() and
                                g['iknet'].joints_pub.get_subscription_count()
                                for g in got.values()), 10)
    for name in got:
        got[name]['pub'].publish(keypoints_to_cloud(header(800.0), [hand('right',
                                                                         hands['right'][0])]))
    assert wait_for(lambda: all(g['joints'] for g in got.values()), 10)
    assert wait_for(lambda: len(got['cam1']['tf']) >= 2, 10)
    children = {t.child_frame_id for msg in got['cam1']['tf'] for t in msg.transforms}
    assert {'cam1/right_wrist', 'cam1/right_index_tip', 'left_camera/right_wrist'} <= children
    parents = {t.header.frame_id for msg in got['cam1']['tf'] for t in msg.transforms
               if t.child_frame_id.endswith('right_wrist')}
    assert parents == {FRAME}  # the camera's own frame, as the image names it
    assert got['cam1']['joints'][0].joint_names == sk.side_joint_names('right')  # URDF names


def test_bad_parameters_are_refused(ros_graph):
    for name, value in (('device', 'tpu'), ('reset_after', 0.0), ('bone_time_constant', 0.0)):
        with pytest.raises(ValueError, match=name):
            IKNetNode(context=ros_graph.context, parameter_overrides=[Parameter(name, value=value)])
