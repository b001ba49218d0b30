"""Skeleton, kinematics, synthetic motion, the jitter-only noise and their commands (issue 3)."""
import json

import numpy as np
import pytest
import torch
from conftest import REAL_LANDMARKS, require_real
from scipy.spatial.transform import Rotation

from iknet_ros import cli
from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.synth import noise_stats as ns
from iknet_ros.synth.motion import MIN_JOINT_DEPTH, POSES, generate_motion
from iknet_ros.synth.observation import NOISE_LEVELS, observe


def _random_rotations(count, seed=0):
    """(count, 3, 3) float64 rotations, uniformly spread."""
    return torch.from_numpy(Rotation.random(count, random_state=seed).as_matrix())


@pytest.fixture(scope='module')
def motion():
    return generate_motion(8, 120, seed=7)


def test_fk_of_rest_pose_reproduces_rest_positions():
    local = torch.eye(3, dtype=torch.float64).expand(sk.NUM_JOINTS, 3, 3)
    _, positions = kin.forward_kinematics(local, kin.rest_offsets(torch.float64))
    np.testing.assert_allclose(positions.numpy(), sk.REST_POSITIONS, atol=1e-12)


def test_global_local_global_round_trip():
    local = _random_rotations(6 * sk.NUM_JOINTS).reshape(6, sk.NUM_JOINTS, 3, 3)
    global_rot = kin.local_to_global(local)
    torch.testing.assert_close(kin.global_to_local(global_rot), local)
    torch.testing.assert_close(kin.local_to_global(kin.global_to_local(global_rot)), global_rot)


def test_6d_rotation_round_trip():
    m = _random_rotations(500, seed=1)
    torch.testing.assert_close(kin.rot6d_to_matrix(kin.matrix_to_rot6d(m)), m)


def test_generated_shapes_and_dtypes(motion):
    assert motion.local_rot.shape == (8, 120, 21, 3, 3)
    assert motion.offsets.shape == (8, 21, 3)
    assert motion.root_position.shape == (8, 120, 3)
    assert motion.positions.shape == (8, 120, 21, 3)
    kinematic = (motion.local_rot, motion.offsets, motion.root_position, motion.positions)
    assert all(t.dtype == torch.float32 for t in kinematic)
    assert motion.camera.K.shape == (8, 3, 3) and motion.left.shape == motion.view.shape == (8,)
    depth = motion.positions[..., 2]
    assert depth.min() >= MIN_JOINT_DEPTH - 1e-6 and depth.max() < 1.5  # in front of the camera


def test_every_generated_rotation_respects_the_limits(motion):
    angles = kin.local_to_angles(motion.local_rot.double())[:, :, 1:]   # finger joints
    limits = torch.as_tensor(sk.JOINT_LIMITS_DEG[1:])
    assert (angles >= limits[..., 0] - 1e-3).all()
    assert (angles <= limits[..., 1] + 1e-3).all()
    # the named poses too, and they differ from each other
    for name, pose in POSES.items():
        assert ((pose >= sk.JOINT_LIMITS_DEG[..., 0]) & (pose <= sk.JOINT_LIMITS_DEG[..., 1])
                ).all(), name
    assert len({p.tobytes() for p in POSES.values()}) >= len(POSES) - 1  # count_1 == point


def test_motion_is_smooth_and_moves(motion):
    # fingers move (not a frozen pose) but never jump: tip speed below 3 m/s at 30 fps
    local = motion.positions - motion.positions[:, :, :1]
    step = (local[:, 1:] - local[:, :-1]).norm(dim=-1)
    assert step.max() < 0.1
    assert step.mean() > 1e-4


def test_same_seed_same_data_different_seed_differs():
    a = generate_motion(3, 40, seed=11)
    b = generate_motion(3, 40, seed=11)
    c = generate_motion(3, 40, seed=12)
    assert torch.equal(a.positions, b.positions) and torch.equal(a.local_rot, b.local_rot)
    assert not torch.allclose(a.positions, c.positions)
    oa, ob, oc = (observe(a.positions, seed=s) for s in (5, 5, 6))
    assert torch.equal(oa.keypoints, ob.keypoints) and torch.equal(oa.visible, ob.visible)
    assert not torch.equal(oa.keypoints, oc.keypoints)
    # a Generator works as a seed too
    d = generate_motion(3, 40, seed=np.random.default_rng(11))
    assert torch.equal(a.positions, d.positions)


def test_true_bone_lengths_are_constant_along_a_sequence(motion):
    lengths = kin.bone_lengths(motion.positions)                      # (B, F, 21)
    assert (lengths - lengths[:, :1]).abs().max() < 1e-6
    expected = motion.offsets.norm(dim=-1)[:, None]                   # (B, 1, 21)
    assert (lengths - expected).abs().max() < 1e-6


def test_clean_observation_equals_the_truth(motion):
    obs = observe(motion.positions, 'clean', seed=3)
    assert torch.equal(obs.keypoints, motion.positions)
    assert obs.visible.all()


def test_realistic_observation_misses_and_repeats_frames():
    m = generate_motion(16, 300, seed=2)
    obs = observe(m.positions, 'realistic', seed=2)
    assert obs.keypoints.shape == m.positions.shape and obs.visible.shape == (16, 300)
    assert obs.visible[:, 0].all() and not obs.visible.all()
    b, t = torch.nonzero(~obs.visible)[0].tolist()
    assert torch.equal(obs.keypoints[b, t], obs.keypoints[b, t - 1])
    error = (obs.keypoints - m.positions).norm(dim=-1)
    assert 0.5e-3 < error.mean() < 10e-3  # millimetres, not centimetres


def test_unknown_noise_level_is_named():
    with pytest.raises(ValueError, match=r"'foggy'.*clean.*realistic"):
        observe(torch.zeros(1, 2, 21, 3), 'foggy')
    assert {'clean', 'realistic'} <= set(NOISE_LEVELS)


@pytest.fixture(scope='module')
def synthetic_stats():
    return ns.synthetic_stats(sequences=16, seed=0)


@pytest.mark.parametrize('key', ['bone_rel_std_pct', 'accel_mm', 'resid_mm_mean', 'resid_mm_p95'])
def test_realistic_statistics_match_design_figures(synthetic_stats, key):
    # DESIGN.md's figures of real MediaPipe output; holds without the real file
    ratio = synthetic_stats[key] / ns.REAL_REFERENCE[key]
    assert 0.65 <= ratio <= 1.35, f'{key}: synthetic {synthetic_stats[key]:.2f}'


def test_realistic_statistics_match_the_real_file(synthetic_stats):
    require_real(REAL_LANDMARKS)
    real = ns.real_stats(REAL_LANDMARKS)
    for key, value in ns.REAL_REFERENCE.items():
        assert real[key] == pytest.approx(value, rel=0.03), key  # the file DESIGN.md measured
        assert 0.65 <= synthetic_stats[key] / real[key] <= 1.35, key


def test_wrist_frame_statistics_ignore_global_motion(motion):
    # statistics are measured in a frame from the hand itself: moving the camera changes nothing
    clean = ns.noise_stats(ns.to_wrist_frame(motion.positions.numpy()))
    assert clean['bone_rel_std_pct'] < 1e-3
    turned = motion.positions.double() @ _random_rotations(1, seed=4)[0].T + 0.3
    moved = ns.noise_stats(ns.to_wrist_frame(turned.numpy()))
    for key, value in clean.items():
        assert moved[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key


def test_noise_report_writes_json(tmp_path, capsys):
    out = tmp_path / 'report.json'
    assert cli.main(['noise-report', '--json', str(out), '--sequences', '2']) == 0
    report = json.loads(out.read_text())
    keys = {'bone_rel_std_pct', 'accel_mm', 'resid_mm_mean', 'resid_mm_p95'}
    assert keys <= set(report['synthetic'])
    if REAL_LANDMARKS.exists():
        assert keys <= set(report['real'])
    assert 'synthetic' in capsys.readouterr().out


def test_noise_report_without_real_file(tmp_path, capsys):
    out = tmp_path / 'report.json'
    missing = tmp_path / 'absent.npy'
    assert cli.main(['noise-report', '--json', str(out), '--sequences', '1',
                     '--real', str(missing)]) == 0
    assert json.loads(out.read_text())['real'] is None
    assert 'real data not available' in capsys.readouterr().out


def test_plot_skeleton_writes_png(tmp_path):
    out = tmp_path / 'skeleton.png'
    assert cli.main(['plot', 'skeleton', '--out', str(out), '--seed', '1']) == 0
    data = out.read_bytes()
    assert data.startswith(b'\x89PNG') and len(data) > 20_000
