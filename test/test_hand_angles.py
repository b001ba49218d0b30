"""Anatomical angles and the hand URDF (no ROS): conventions, limits, mirroring, URDF FK.

The URDF is parsed by yourdfpy (its own forward kinematics), not by this package's code.
"""
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yourdfpy
from conftest import REAL_LANDMARKS, require_real
from scipy.spatial.transform import Rotation

from iknet_ros import cli
from iknet_ros.hand import angles as ha
from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import HandKeypoints
from iknet_ros.hand.urdf import bone_lengths_of, hand_urdf, rest_bone_lengths
from iknet_ros.model.data import HELD_OUT_SEED
from iknet_ros.synth.motion import generate_motion
from iknet_ros.synth.observation import observe
from iknet_ros.tracking.tracker import HandTracker

pytestmark = pytest.mark.usefixtures('one_torch_thread')

ROOT = Path(__file__).resolve().parents[1]
J = sk.JOINT_INDEX
DOF = {d.name: i for i, d in enumerate(ha.DOFS)}


def load_urdf(text: str) -> yourdfpy.URDF:
    return yourdfpy.URDF.load(io.StringIO(text), build_scene_graph=True, load_meshes=False)


def urdf_positions(robot, side, angles, wrist=None) -> np.ndarray:
    """(21, 3) joint positions of the URDF at `angles` (D,), wrist pose `wrist` (4, 4)."""
    wrist = np.eye(4) if wrist is None else wrist
    robot.update_cfg(dict(zip(ha.dof_names(side), angles, strict=True)))
    names = sk.side_joint_names(side)
    return np.array([(wrist @ robot.get_transform(n, names[0]))[:3, 3] for n in names])


def rest_pose():
    """(21, 4) identity rotations and (21, 3) rest offsets."""
    return np.tile([0.0, 0.0, 0.0, 1.0], (sk.NUM_JOINTS, 1)), sk.REST_OFFSETS.copy()


def turned(joint, **deg):
    """The rest pose with `joint` turned by Ry(flexion) Rz(abduction) Rx(twist) in its axes."""
    quat, offsets = rest_pose()
    angles = np.zeros((sk.NUM_JOINTS, 3))
    angles[J[joint]] = [deg.get(k, 0.0) for k in ha.KINDS]
    rot = kin.angles_to_local(torch.from_numpy(angles))[J[joint]].numpy()
    quat[J[joint]] = Rotation.from_matrix(rot).as_quat()
    return quat, offsets


def fk(quat, offsets):
    rot = Rotation.from_quat(quat).as_matrix()
    return kin.forward_kinematics(torch.from_numpy(rot), torch.from_numpy(offsets))[1].numpy()


@pytest.mark.parametrize('joint, deg', [
    ('index_pip', {'flexion': 40.0}),
    ('index_mcp', {'abduction': 12.0}),
    ('middle_mcp', {'flexion': 60.0, 'abduction': -10.0}),
    ('thumb_cmc', {'flexion': 30.0, 'abduction': 20.0, 'twist': 10.0}),
    ('ring_pip', {'flexion': 100.0, 'twist': 3.0}),   # past 90 degrees: flexion comes first
    ('pinky_dip', {'flexion': -5.0}),
])
def test_angles_of_known_rotations_come_out_as_built(joint, deg):
    got = np.degrees(ha.hand_angles(*turned(joint, **deg)))
    want = np.zeros(ha.NUM_DOFS)
    for kind, value in deg.items():
        want[DOF[f'{joint}_{kind}']] = value
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_signs_flexion_bends_to_the_palm_abduction_to_the_thumb():
    rest = fk(*rest_pose())
    bent = fk(*turned('index_mcp', flexion=30.0))
    spread = fk(*turned('index_mcp', abduction=10.0))
    tip = J['index_tip']
    assert bent[tip, 2] < rest[tip, 2] - 0.02  # hand frame: z dorsal, so palmar is -z
    assert spread[tip, 1] > rest[tip, 1] + 0.005  # y radial, towards the thumb


def test_palm_bone_directions_are_palm_angles_and_mcp_is_measured_from_them():
    quat, offsets = rest_pose()
    p = sk.PALM_JOINTS.index(J['pinky_mcp'])
    palm = Rotation.from_rotvec(sk.PALM_AXES[p][:, 1] * np.radians(12.0))  # pinky cupping
    offsets[J['pinky_mcp']] = palm.apply(offsets[J['pinky_mcp']])
    quat[J['pinky_mcp']] = palm.as_quat()  # the finger goes along with its metacarpal
    got = np.degrees(ha.hand_angles(quat, offsets))
    want = np.zeros(ha.NUM_DOFS)
    want[DOF['palm_pinky_flexion']] = 12.0
    np.testing.assert_allclose(got, want, atol=1e-9)  # MCP flexion relative to it: 0


def test_angles_to_pose_inverts_hand_angles():
    rng = np.random.default_rng(3)
    angles = rng.uniform(ha.LOWER, ha.UPPER, size=(5, ha.NUM_DOFS))
    for side in ('right', 'left'):
        back = ha.hand_angles(*ha.angles_to_pose(angles, side=side), side=side)
        np.testing.assert_allclose(back, angles, atol=1e-9)


def test_every_synthetic_held_out_pose_is_within_limits():
    motion = generate_motion(16, 90, HELD_OUT_SEED)
    rot = motion.local_rot.double().numpy()                               # (B, F, 21, 3, 3)
    quat = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat().reshape(rot.shape[:-2] + (4,))
    offsets = np.broadcast_to(motion.offsets.double().numpy()[:, None], rot.shape[:-2] + (3,))
    angles = ha.hand_angles(quat, offsets)                                # (B, F, D)
    assert np.ptp(angles, axis=(0, 1)).max() > 0.5  # the poses do move
    assert ha.limit_excess(angles).max() < np.radians(0.01)
    assert not ha.outside_limits(angles).any()


def test_limit_report_names_how_far_out():
    angles = np.zeros(ha.NUM_DOFS)
    assert ha.limit_report(angles) == [] and not ha.outside_limits(angles)
    angles[DOF['index_pip_flexion']] = np.radians(-30.0)    # bent backwards: 30 deg below 0
    angles[DOF['pinky_mcp_abduction']] = np.radians(25.0)   # 5 deg past +20
    report = ha.limit_report(angles, 'left')
    assert [name for name, _ in report] == ['left_index_pip_flexion', 'left_pinky_mcp_abduction']
    np.testing.assert_allclose([e for _, e in report], [30.0, 5.0])
    assert ha.outside_limits(np.stack([angles, np.zeros(ha.NUM_DOFS)])).tolist() == [True, False]


def test_left_and_right_mirror():
    rng = np.random.default_rng(5)
    angles = rng.uniform(ha.LOWER, ha.UPPER)
    quat, offsets = ha.angles_to_pose(angles, side='right')
    rot = Rotation.from_quat(quat).as_matrix()
    left_quat = Rotation.from_matrix(sk.MIRROR @ rot @ sk.MIRROR).as_quat()
    np.testing.assert_allclose(ha.hand_angles(left_quat, offsets @ sk.MIRROR, 'left'), angles,
                               atol=1e-9)
    right = urdf_positions(load_urdf(hand_urdf('right')), 'right', angles)
    left = urdf_positions(load_urdf(hand_urdf('left')), 'left', angles)
    np.testing.assert_allclose(left, right @ sk.MIRROR, atol=1e-6)
    assert ha.dof_names('left') == [n.replace('right_', 'left_', 1) for n in ha.dof_names('right')]


@pytest.mark.parametrize('side', ['right', 'left'])
def test_urdf_names_limits_and_fk_agree_with_the_skeleton(side):
    robot = load_urdf(hand_urdf(side))
    assert robot.actuated_joint_names == ha.dof_names(side)
    assert set(sk.side_joint_names(side)) <= set(robot.link_map)
    assert robot.base_link == f'{side}_wrist'
    for name, dof in zip(ha.dof_names(side), ha.DOFS, strict=True):
        limit = robot.joint_map[name].limit
        np.testing.assert_allclose([limit.lower, limit.upper], [dof.lower, dof.upper], atol=1e-6)
    rng = np.random.default_rng(7)
    for angles in [np.zeros(ha.NUM_DOFS)] + list(rng.uniform(ha.LOWER, ha.UPPER, (3, ha.NUM_DOFS))):
        quat, offsets = ha.angles_to_pose(angles, side=side)
        np.testing.assert_allclose(urdf_positions(robot, side, angles), fk(quat, offsets),
                                   atol=1e-6)
    np.testing.assert_allclose(urdf_positions(robot, side, np.zeros(ha.NUM_DOFS)),
                               sk.REST_POSITIONS @ (sk.MIRROR if side == 'left' else np.eye(3)),
                               atol=1e-6)  # zero angles: the rest pose


def test_shipped_urdfs_are_the_generated_ones():
    for side in ('right', 'left'):
        assert (ROOT / 'urdf' / f'hand_{side}.urdf').read_text() == hand_urdf(side), \
            f'urdf/hand_{side}.urdf is stale: iknet-ros urdf --side {side} --out it'


def track_fk_error_mm(estimates) -> np.ndarray:
    """(N, 21) mm between each estimate's joints and the URDF FK of its published angles.

    Each estimate's URDF gets the track's bone lengths of that frame.
    """
    errors = []
    for est in estimates:
        robot = load_urdf(hand_urdf(est.side, bone_lengths_of(est.offsets)))
        wrist = np.eye(4)
        wrist[:3, :3] = Rotation.from_quat(est.quat_xyzw[0]).as_matrix()
        wrist[:3, 3] = est.offsets[0]
        angles = ha.hand_angles(est.quat_xyzw, est.offsets, est.side)
        got = urdf_positions(robot, est.side, angles, wrist)
        errors.append(np.linalg.norm(got - est.positions, axis=-1) * 1000.0)
    return np.array(errors)


def tracked(frames, sides=('right',), every=1):
    """Every `every`-th frame's estimates of the tracker on (F, 21, 3) keypoints."""
    tracker = HandTracker(device='cpu')
    out = []
    for f, xyz in enumerate(frames):
        hands = [HandKeypoints(side, xyz @ (sk.MIRROR if side == 'left' else np.eye(3)),
                               np.zeros((sk.NUM_JOINTS, 2)), 0.9) for side in sides]
        estimates = tracker.update(f / 30.0, hands).estimates
        if f % every == 0:
            out.extend(estimates)
    return out




def test_urdf_fk_at_the_published_angles_reproduces_the_real_track():
    path = require_real(REAL_LANDMARKS)
    frames = np.load(path) + np.array([0.0, 0.0, 0.5])  # (F, 21, 3), in front of a camera
    estimates = tracked(frames, every=10)
    errors = track_fk_error_mm(estimates)
    assert len(errors) > 60
    assert errors.max() < 1.0, f'URDF FK is {errors.max():.3f} mm off the published joints'


def test_urdf_fk_at_the_published_angles_reproduces_synthetic_tracks_of_both_hands():
    motion = generate_motion(1, 40, seed=21)
    frames = observe(motion.positions, 'realistic', seed=22).keypoints[0].double().numpy()
    estimates = tracked(frames, sides=('right', 'left'), every=4)
    assert {e.side for e in estimates} == {'right', 'left'}
    errors = track_fk_error_mm(estimates)
    assert errors.max() < 1.0, f'URDF FK is {errors.max():.3f} mm off the published joints'
    right = [ha.hand_angles(e.quat_xyzw, e.offsets, 'right') for e in estimates
             if e.side == 'right']
    left = [ha.hand_angles(e.quat_xyzw, e.offsets, 'left') for e in estimates
            if e.side == 'left']
    np.testing.assert_allclose(left, right, atol=1e-6)  # mirrored hands: the same angles


def test_urdf_command_writes_a_measured_hand(tmp_path, capsys):
    lengths = {name: 1.1 * m for name, m in rest_bone_lengths().items()}
    (tmp_path / 'bones.json').write_text(json.dumps(lengths))
    out = tmp_path / 'hand.urdf'
    assert cli.main(['urdf', '--side', 'left', '--bone-lengths', str(tmp_path / 'bones.json'),
                     '--out', str(out)]) == 0
    robot = load_urdf(out.read_text())
    at_rest = urdf_positions(robot, 'left', np.zeros(ha.NUM_DOFS))
    np.testing.assert_allclose(at_rest, 1.1 * sk.REST_POSITIONS @ sk.MIRROR, atol=1e-6)
    assert cli.main(['urdf']) == 0
    assert capsys.readouterr().out == hand_urdf('right')
    del lengths['index_tip']
    (tmp_path / 'bad.json').write_text(json.dumps(lengths))
    assert cli.main(['urdf', '--bone-lengths', str(tmp_path / 'bad.json')]) == 2
    assert 'index_tip' in capsys.readouterr().err
    assert cli.main(['urdf', '--bone-lengths', str(tmp_path / 'none.json')]) == 2
    assert 'not found' in capsys.readouterr().err
