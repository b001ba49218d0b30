"""Hands in front of pinhole cameras and the MediaPipe error model and its fit (issue 14)."""
import json

import numpy as np
import pytest
import torch
from conftest import REAL_DATA

from iknet_ros import cli
from iknet_ros.hand import skeleton as sk
from iknet_ros.synth import calibration as cal
from iknet_ros.synth import camera as cam
from iknet_ros.synth import mediapipe_model as mp
from iknet_ros.synth.motion import HAND_DEPTH_RANGE, MIN_JOINT_DEPTH, VIEW_NAMES, generate_motion


@pytest.fixture(scope='module')
def detections_cache(tmp_path_factory):
    """One MediaPipe run of the real inputs for this module's tests."""
    return tmp_path_factory.mktemp('detections')


@pytest.fixture(scope='module')
def real(detections_cache):
    """MediaPipe's detections of the shared gt_frames and jitter videos, or skip with why."""
    from iknet_ros.cli.noise_report import real_detections

    found = real_detections(REAL_DATA, detections_cache)
    if found is None:
        pytest.skip(f'real data not available: {REAL_DATA}/{cal.GT_SET} is absent')
    return found


@pytest.fixture(scope='module')
def motion():
    return generate_motion(48, 60, seed=21)


@pytest.fixture(scope='module')
def stills():
    """Single frames of many generated hands, simulated as the still frames are (no failures)."""
    m = generate_motion(300, 1, seed=4)
    left = m.left.numpy()
    k = m.camera.K.numpy()
    sim = mp.simulate_detections(m.positions.double().numpy(), left, k, k,
                                 m.camera.image_size.numpy(), np.random.default_rng(0),
                                 failures=False)
    return m, {key: value[:, 0] for key, value in sim.items()}


def still_detections(m, sim) -> cal.StillDetections:
    """Simulated detections of single-frame hands, packed like the real ones."""
    left = m.left.numpy()
    n = len(left)
    side = np.where(left, 'left', 'right')
    return cal.StillDetections(world=sim['world'], uv=sim['uv'], xyz=sim['xyz'],
                               detected=np.ones(n, bool), side=side,
                               truth=m.camera_positions().double().numpy()[:, 0], true_side=side,
                               K=m.camera.K.numpy(), image_size=m.camera.image_size.numpy(),
                               frame=np.arange(n))


# --- cameras and placement ---------------------------------------------------------------------

def test_random_cameras_look_like_real_ones():
    rng = np.random.default_rng(0)
    c = cam.sample_cameras(rng, 400)
    k, size = c.K.numpy(), c.image_size.numpy()
    assert {tuple(s) for s in size} == set(cam.IMAGE_SIZES)
    fov = np.degrees(2 * np.arctan(size[:, 0] / 2 / k[:, 0, 0]))
    assert fov.min() >= 45 - 1e-6 and fov.max() <= 90 + 1e-6
    assert np.abs(k[:, :2, 2] / size - 0.5).max() < 0.2            # principal point near centre
    assert 0.35 < c.guessed.float().mean() < 0.65
    guessed = c.guessed.numpy()
    np.testing.assert_allclose(c.detector_K.numpy()[~guessed], k[~guessed])
    # a guessed camera's detector has video_source's pinhole guess: 65 deg, centred
    guess = c.detector_K.numpy()[guessed]
    np.testing.assert_allclose(guess[:, :2, 2], size[guessed] / 2)
    np.testing.assert_allclose(np.degrees(2 * np.arctan(size[guessed, 0] / 2 / guess[:, 0, 0])),
                               65.0)


def test_vectorised_placement_equals_the_detectors():
    detector = pytest.importorskip('iknet_ros.detect.detector')
    from iknet_ros.hand.keypoints import Intrinsics

    rng = np.random.default_rng(1)
    world = rng.normal(0, 0.04, size=(6, 21, 3))
    k = cam.intrinsics_matrix(rng.uniform(300, 1200, 6), rng.uniform(300, 1200, 6),
                              rng.uniform(200, 700, 6), rng.uniform(200, 500, 6))
    truth = world + np.array([0.05, -0.02, 0.5])
    uv = cam.project(truth, k[:, None]) + rng.normal(0, 3, size=(6, 21, 2))
    xyz, ok = cam.place_in_camera(world, uv, k)
    assert ok.all()
    for i in range(6):
        expected = detector.place_in_camera(world[i], uv[i], Intrinsics(
            k[i, 0, 0], k[i, 1, 1], k[i, 0, 2], k[i, 1, 2]))
        np.testing.assert_allclose(xyz[i], expected, atol=1e-9)
    # behind the camera: the detector's own refusal
    _, ok = cam.place_in_camera(world, cam.project(truth * [1, 1, -1], k[:, None]), k)
    assert not ok.any()


def test_clean_landmarks_placed_on_clean_pixels_give_back_the_truth(motion):
    truth = motion.camera_positions().double().numpy()                # (B, F, 21, 3)
    k = motion.camera.K.numpy()[:, None, None]
    uv = cam.project(truth, k)
    world = truth - truth.mean(-2, keepdims=True)                     # hand-centred, unrotated
    placed, ok = cam.place_in_camera(world, uv, k[:, 0])
    assert ok.all()
    np.testing.assert_allclose(placed, truth, atol=1e-9)
    # with only the pinhole guess the hand lands elsewhere along its rays, same shape
    guessed = motion.camera.guessed.numpy()
    off, _ = cam.place_in_camera(world, uv, motion.camera.detector_K.numpy()[:, None])
    assert np.abs(off[guessed] - truth[guessed]).max() > 0.01
    np.testing.assert_allclose(off - off[..., :1, :], truth - truth[..., :1, :], atol=1e-9)


def test_hands_sit_in_front_of_the_camera_mostly_in_the_image(motion):
    truth = motion.camera_positions()
    assert truth[..., 2].min() >= MIN_JOINT_DEPTH - 1e-6
    centre = truth.mean(-2)[..., 2]
    assert centre.max() <= HAND_DEPTH_RANGE[1] + 1e-6 and centre.median() < 0.8
    seen = mp.observe_mediapipe(motion, 'clean')
    inside = seen.in_image.float().mean()
    assert 0.8 < inside < 1.0  # most joints in the image, some off it


def test_joints_off_the_image_are_flagged_and_still_reported():
    m = generate_motion(64, 30, seed=8)
    seen = mp.observe_mediapipe(m, 'realistic', seed=8)
    off = ~seen.in_image & seen.visible[..., None]
    assert off.any(), 'no detected frame with a joint off the image'
    truth_uv = cam.project(m.camera_positions().double().numpy(), m.camera.K.numpy()[:, None, None])
    size = m.camera.image_size.numpy()[:, None, None]
    outside = ((truth_uv < 0) | (truth_uv >= size)).any(-1)
    assert np.array_equal(outside, ~seen.in_image.numpy())
    assert torch.isfinite(seen.xyz[off]).all() and torch.isfinite(seen.uv[off]).all()


# --- motion: views, sides, sizes -----------------------------------------------------------------

def test_views_face_the_camera_as_named():
    m = generate_motion(400, 1, seed=5)
    frame = mp.palm_frame(m.positions.double().numpy())[:, 0]         # right-hand geometry
    ray = mp.unit(m.positions.double().numpy()[:, 0].mean(1))
    distal = (frame[..., 0] * ray).sum(-1)                            # + : fingers point away
    dorsal = (frame[..., 2] * ray).sum(-1)                            # + : palm to the camera
    view = np.array(VIEW_NAMES)[m.view.numpy()]
    assert dorsal[view == 'palm'].mean() > 0.6 and dorsal[view == 'back'].mean() < -0.6
    assert np.abs(dorsal[view == 'edge']).mean() < 0.5
    assert distal[view == 'pointing'].mean() < -0.6 and distal[view == 'fist_front'].mean() < -0.6
    assert distal[view == 'egocentric'].mean() > 0.5 and dorsal[view == 'egocentric'].mean() < 0
    assert set(view) == set(VIEW_NAMES)


def test_left_hands_are_mirrored_right_hand_skeletons(motion):
    left = motion.left
    assert 0 < left.sum() < len(left)
    true = motion.camera_positions()
    torch.testing.assert_close(true[left], motion.positions[left] * torch.tensor([-1.0, 1, 1]))
    torch.testing.assert_close(true[~left], motion.positions[~left])
    # a left hand in the camera frame has left-hand geometry: its x-distal, y-radial frame
    # turns the other way round
    frame = mp.palm_frame(true.double().numpy())
    normal = np.cross(frame[..., 0], frame[..., 1])
    dorsal_rh = mp.mirror_x(mp.palm_frame(motion.positions.double().numpy())[..., 2],
                            left.numpy())
    handed = (normal * dorsal_rh).sum(-1)                             # +1 right, -1 left
    assert (np.sign(handed) == np.where(left.numpy(), -1, 1)[:, None]).all()


def test_a_mirrored_observation_is_the_observation_of_the_mirrored_hand():
    m = generate_motion(6, 20, seed=3)
    positions, k = m.positions.double().numpy(), m.camera.K.numpy()
    size = m.camera.image_size.numpy()
    right, left = (mp.simulate_detections(positions, np.full(6, side), k, k, size,
                                          np.random.default_rng(9))
                   for side in (False, True))
    np.testing.assert_allclose(left['xyz'], mp.mirror_x(right['xyz'], np.ones(6, bool)),
                               atol=1e-9)
    cx = k[:, None, None, 0, 2]
    np.testing.assert_allclose(left['uv'][..., 0], 2 * cx - right['uv'][..., 0], atol=1e-6)
    np.testing.assert_allclose(left['uv'][..., 1], right['uv'][..., 1], atol=1e-9)


def test_adult_hand_sizes():
    offsets = sk.SubjectModel().sample_offsets(np.random.default_rng(2), 4000)
    # the blend towards MediaPipe's proportions changes lengths a little; the scale dominates
    size = np.linalg.norm(offsets, axis=-1).sum(-1) / np.linalg.norm(sk.REST_OFFSETS,
                                                                     axis=-1).sum()
    assert 0.97 < np.median(size) < 1.03
    assert 0.06 < size.std() < 0.1
    assert size.min() > 0.8 * 0.85 and size.max() < 1.2 * 1.15


# --- the observation model -----------------------------------------------------------------------

def test_observation_shapes_dtypes_and_levels(motion):
    b, f = motion.positions.shape[:2]
    for level in mp.LEVELS:
        seen = mp.observe_mediapipe(motion, level, seed=1)
        assert seen.xyz.shape == (b, f, 21, 3) and seen.xyz.dtype == torch.float32
        assert seen.uv.shape == (b, f, 21, 2) and seen.uv.dtype == torch.float32
        assert seen.visible.shape == seen.wrong_side.shape == (b, f)
        assert seen.in_image.shape == (b, f, 21)
        assert seen.K.shape == seen.true_K.shape == (b, 3, 3) and seen.image_size.shape == (b, 2)
        assert seen.guessed.shape == seen.left.shape == (b,)
        assert torch.isfinite(seen.xyz).all() and torch.isfinite(seen.uv).all()
    with pytest.raises(ValueError, match=r"'foggy'.*clean.*realistic.*high"):
        mp.observe_mediapipe(motion, 'foggy')


def test_the_clean_level_is_the_truth(motion):
    seen = mp.observe_mediapipe(motion, 'clean')
    torch.testing.assert_close(seen.xyz, motion.camera_positions())
    uv = cam.project(motion.camera_positions().double().numpy(), motion.camera.K.numpy()[:, None,
                                                                                          None])
    np.testing.assert_allclose(seen.uv.numpy(), uv, rtol=1e-6, atol=1e-3)
    assert seen.visible.all() and not seen.wrong_side.any()
    torch.testing.assert_close(seen.right_hand_xyz(), motion.positions)


def test_same_seed_same_detections_other_seed_other(motion):
    a, b = (mp.observe_mediapipe(motion, 'realistic', seed=5) for _ in range(2))
    c = mp.observe_mediapipe(motion, 'realistic', seed=6)
    assert torch.equal(a.xyz, b.xyz) and torch.equal(a.visible, b.visible)
    assert not torch.equal(a.xyz, c.xyz)
    d = mp.observe_mediapipe(motion, 'realistic', seed=np.random.default_rng(5))
    assert torch.equal(a.xyz, d.xyz)


def test_realistic_errors_are_mostly_systematic_and_high_is_larger(motion):
    truth = motion.camera_positions()
    errors = {}
    for level in ('realistic', 'high'):
        seen = mp.observe_mediapipe(motion, level, seed=2)
        aligned = (seen.xyz - seen.xyz[..., :1, :]) - (truth - truth[..., :1, :])
        errors[level] = aligned[seen.visible].norm(dim=-1)[:, 1:].mean()
        # centimetres, not millimetres, and slow: frame-to-frame change far below the error
        step = (aligned[:, 1:] - aligned[:, :-1])[seen.visible[:, 1:] & seen.visible[:, :-1]]
        assert step.norm(dim=-1).mean() < 0.25 * errors[level]
    assert 0.012 < errors['realistic'] < 0.05
    assert errors['high'] > 1.2 * errors['realistic']


def test_rotation_error_is_mostly_out_of_plane_and_scale_near_the_fitted_mean(stills):
    m, sim = stills
    left = m.left.numpy()
    truth = m.camera_positions().double().numpy()[:, 0]
    stats = cal.error_statistics(sim['xyz'], sim['uv'], truth, m.camera.K.numpy(), left)
    assert stats['rotation axis |cos| to ray'] < 0.4      # isotropic axes would give 0.5
    assert 8.0 < stats['rotation error deg'] < 25.0
    params = mp.load_parameters()
    fitted = np.exp(params['log_scale']['mean'])
    assert stats['scale ratio mean'] == pytest.approx(fitted, abs=0.03)
    assert stats['palm ratio'] > 1.1                      # MediaPipe's MCPs sit distal
    assert 5.0 < stats['PA-MPJPE mm'] < 16.0


def test_fit_recovers_the_parameters_from_simulated_detections(stills):
    m, sim = stills
    truth = mp.load_parameters()
    fitted = cal.fit_parameters(still_detections(m, sim), draws=1)
    o3, o3_true = np.array(fitted['o3_palm']), np.array(truth['o3_palm'])
    assert np.abs(o3 - o3_true).mean() < 0.01            # palm lengths: under 1 mm
    o2, o2_true = np.array(fitted['o2_palm']), np.array(truth['o2_palm'])
    assert np.abs(o2 - o2_true)[:, :2].mean() < 0.01      # the image plane part is well set
    # biased low by the few per cent the joint noise lengthens the bones (in s)
    assert fitted['relief_lambda'] == pytest.approx(truth['relief_lambda'], abs=0.05)
    # the joint noise's median offsets by chain depth read as a slight 2D stretch
    np.testing.assert_allclose(fitted['kappa_2d'], truth['kappa_2d'], atol=0.02)
    assert fitted['log_scale']['mean'] == pytest.approx(truth['log_scale']['mean'], abs=0.02)
    assert fitted['depth_bias_m'] == pytest.approx(truth['depth_bias_m'], abs=0.01)


def test_misses_and_wrong_sides_come_in_short_runs_at_their_rates():
    m = generate_motion(64, 300, seed=12)
    seen = mp.observe_mediapipe(m, 'realistic', seed=12)
    const = mp.load_parameters()['constants']
    missed = ~seen.visible.numpy()
    assert const['misses']['rate'] < missed.mean() < 3 * const['misses']['rate'] + 0.03
    starts = (missed[:, 1:] & ~missed[:, :-1]).sum()
    assert missed.sum() / max(starts, 1) > 2.0             # bursts, not single frames
    assert 0.3 * const['wrong_side']['rate'] < seen.wrong_side.float().mean() \
        < 3 * const['wrong_side']['rate']
    b, t = np.argwhere(missed[:, 1:] & ~missed[:, :-1])[0]
    assert torch.equal(seen.xyz[b, t + 1], seen.xyz[b, t])  # a miss repeats the last frame


def test_smooth_noise_has_unit_variance_and_its_autocorrelation():
    x = mp.smooth_noise(np.random.default_rng(0), (4000, 80), 0.8)
    assert x.std() == pytest.approx(1.0, abs=0.03)
    for lag in (1, 5, 10):
        rho = (x[:, :-lag] * x[:, lag:]).mean()
        assert rho == pytest.approx(mp.smooth_autocorrelation(0.8, lag), abs=0.03)


# --- the calibration tables ----------------------------------------------------------------------

TABLE_KEYS = {'root error mm', 'root depth error mean mm', 'root depth error sd mm',
              'wrist-aligned MPJPE mm', 'wrist-aligned z RMS mm', 'wrist-aligned x,y RMS mm',
              'PA-MPJPE mm', 'rotation error deg', 'rotation axis |cos| to ray',
              'scale ratio mean', 'scale ratio sd', 'bone ratio sd', 'palm ratio',
              '2D error px', '2D error px median', 'landmark offset mm',
              'landmark offset |synthetic - real| mm', 'miss rate %', 'wrong side rate %'}


def test_calibration_table_keys_on_simulated_detections():
    m = generate_motion(350, 1, seed=6)
    k = m.camera.K.numpy()
    sim = mp.simulate_detections(m.positions.double().numpy(), m.left.numpy(), k, k,
                                 m.camera.image_size.numpy(), np.random.default_rng(1),
                                 failures=False)
    data = still_detections(m, {key: value[:, 0] for key, value in sim.items()})
    table = cal.calibration_table(data, mp.load_parameters(), draws=2)
    assert set(table) == {'calibration', 'evaluation'}
    for split in table.values():
        assert set(split['rows']) == TABLE_KEYS
        for row in split['rows'].values():
            assert {'real', 'synthetic', 'synthetic_sd', 'ratio'} <= set(row)
        # the model against itself
        assert split['rows']['PA-MPJPE mm']['ratio'] == pytest.approx(1.0, abs=0.1)
    assert 'ratio' in cal.calibration_report(table)


def test_jitter_table_of_synthetic_runs():
    table = cal.video_table({}, sequences=2, frames=40)
    assert set(table) == {'synthetic', 'synthetic_clean'}
    keys = {'accel_mm', 'resid_mm_mean', 'resid_mm_p95', 'bone_sd_mm', 'accel_2d_palm'}
    assert all(set(row) == keys for row in table.values())
    assert table['synthetic_clean']['bone_sd_mm'] < 1e-3
    assert table['synthetic']['accel_mm'] > 5 * table['synthetic_clean']['accel_mm']


def test_the_shipped_parameters_name_their_source_and_the_held_out_frames():
    params = mp.load_parameters()
    source = params['provenance']
    assert 'gt_frames/handgraph_dev' in source['ground_truth']
    assert source['calibration_frames'].startswith('0-174')
    assert '175-349' in source['calibration_frames']
    assert np.shape(params['o3_palm']) == (21, 3) and np.shape(params['o2_palm']) == (21, 3)


def test_real_calibration_table_and_the_fit_use_only_the_calibration_frames(real):
    stills, _ = real
    calibration, held_out = cal.calibration_split(len(stills.frame))
    assert list(calibration) == list(range(175)) and list(held_out) == list(range(175, 350))
    table = cal.calibration_table(stills, mp.load_parameters(), draws=2)
    assert set(table['evaluation']['rows']) == TABLE_KEYS
    # the fitted model holds on the held-out half too, within 30 % on the main errors
    for key in ('root error mm', 'wrist-aligned MPJPE mm', 'PA-MPJPE mm', '2D error px'):
        assert 0.7 < table['evaluation']['rows'][key]['ratio'] < 1.3, key
    # the shipped offsets are those of the calibration half
    refit = cal.fit_parameters(stills.subset(calibration), draws=1)
    shipped = mp.load_parameters()
    np.testing.assert_allclose(refit['o3_palm'], shipped['o3_palm'], atol=1e-4)


def test_noise_report_without_the_real_detections(tmp_path, capsys):
    out = tmp_path / 'report.json'
    (tmp_path / 'empty').mkdir()
    assert cli.main(['noise-report', '--json', str(out), '--sequences', '1', '--draws', '1',
                     '--data', str(tmp_path / 'empty')]) == 0
    report = json.loads(out.read_text())
    assert report['calibration'] is None
    assert {'synthetic', 'synthetic_clean'} <= set(report['videos'])
    assert 'real ground-truth frames not available' in capsys.readouterr().out


def test_noise_report_fit_writes_a_parameter_file(real, detections_cache, tmp_path, capsys):
    params = tmp_path / 'errors.json'
    out = tmp_path / 'report.json'
    assert cli.main(['noise-report', '--fit', '--params', str(params), '--json', str(out),
                     '--sequences', '1', '--draws', '1', '--cache', str(detections_cache)]) == 0
    fitted = json.loads(params.read_text())
    assert fitted['provenance']['calibration_frames'].startswith('0-174')
    report = json.loads(out.read_text())
    assert set(report['calibration']['calibration']['rows']) == TABLE_KEYS
    assert 'right_hand_720p' in report['videos']
    assert 'evaluation frames 175-349' in capsys.readouterr().out
