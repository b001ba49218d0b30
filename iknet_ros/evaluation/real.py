"""The real-data evaluation (`iknet-ros evaluate-real`): every method on real hands, side by side.

Three kinds of data, each measured its own way (datasets.py has the layout):

* ``gt_frames``: real images with 3D ground truth. Each frame is a new track: a fresh track fed
  ``still_frames`` copies of the frame 1/30 s apart (a hand held still for a full window), and
  the answer to the last copy is measured: wrist-aligned MPJPE, PA-MPJPE, root (wrist) error
  in the camera frame, per finger, with the detection rate and handedness accuracy.
* ``stereo``: every monocular method on each camera alone, against the stereo reference
  (stereo.py) in that camera, after one similarity transform per sequence and camera (the
  calibration's units are not metres): MPJPE in the camera frame, wrist-aligned, PA-MPJPE,
  acceleration error and lag.
* ``videos``: no ground truth: 2D reprojection error against MediaPipe's own 2D landmarks
  (relative to the palm length in the image), jitter (mean acceleration), bone-length std,
  joint-limit violations, coverage.

``mediapipe_offsets`` is fitted on the ground-truth frames: out of fold (k contiguous folds)
on those frames, on all of them for the other datasets.
"""
import numpy as np
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from iknet_ros.evaluation import methods as mt
from iknet_ros.evaluation.datasets import RealData
from iknet_ros.evaluation.detections import (
    DETECTOR_SETTINGS,
    Detections,
    detect_images,
    detect_video,
)
from iknet_ros.evaluation.metrics import (
    accel_error_mm,
    apply_similarity,
    consecutive_runs,
    joint_errors_mm,
    lag_frames,
    limit_violations,
    mean_or_nan,
    pa_mpjpe_mm,
    project,
    sequence_similarity,
    valid_frames,
    wrist_aligned,
)
from iknet_ros.evaluation.stereo import build_reference, reference_side_joints
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import SIDES
from iknet_ros.synth.calibration import calibration_split
from iknet_ros.tracking.summary import accel_sums_mm, bone_std_mm

FOLDS = 5
STEREO_METRICS = ('mpjpe_mm', 'mpjpe_wrist_mm', 'pa_mpjpe_mm', 'root_mm', 'accel_mm',
                  'lag_frames', 'coverage')
VIDEO_METRICS = ('tips_2d_rel_palm', 'joints_2d_px', 'tips_2d_px', 'accel_mm', 'bone_std_mm',
                 'limit_violation_rate', 'limit_joint_rate', 'coverage')
STILL_GAP_S = 10.0  # between two ground-truth frames: longer than any track's reset_after
FPS = 30.0
_MIDDLE_MCP = sk.JOINT_INDEX['middle_mcp']


# --- ground-truth frames --------------------------------------------------------------------

def match_detections(detections: Detections, K: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(N, H) the detection slot of each ground-truth hand, -1 where none matches.

    K: (N, 3, 3) intrinsics, truth: (N, H, 21, 3) camera-frame joints. Greedy by the mean 2D
    distance of the landmarks to the projected truth; a detection farther than the truth's
    palm length (px) is another hand.
    """
    truth_uv = np.einsum('nij,nhkj->nhki', K, truth)
    truth_uv = truth_uv[..., :2] / truth_uv[..., 2:]                        # (N, H, 21, 2)
    palm_px = np.linalg.norm(truth_uv[..., _MIDDLE_MCP, :] - truth_uv[..., 0, :], axis=-1)
    slots = np.full(truth.shape[:2], -1)
    for f in range(len(truth)):
        distance = np.linalg.norm(detections.uv[f][None] - truth_uv[f][:, None],
                                  axis=-1).mean(-1)                        # (H, M)
        distance[:, detections.side[f] < 0] = np.inf
        for _ in range(min(distance.shape)):
            h, m = np.unravel_index(np.argmin(distance), distance.shape)
            if not distance[h, m] < palm_px[f, h]:
                break
            slots[f, h] = m
            distance[h, :], distance[:, m] = np.inf, np.inf
    return slots


def held_still(detections: Detections, copies: int) -> tuple:
    """(stream, answers): each frame repeated `copies` times 1/30 s apart, frames far apart.

    answers (N,) index the last copy of each frame in the stream.
    """
    n = detections.frames
    stamps = (np.arange(n)[:, None] * STILL_GAP_S + np.arange(copies)[None] / FPS).ravel()
    fields = {k: np.repeat(v, copies, axis=0) for k, v in detections.arrays().items()
              if k != 'stamps'}
    return Detections(stamps=stamps, **fields), np.arange(n) * copies + copies - 1


def out_of_fold_offsets(keypoints, sides, truth, folds: int = FOLDS) -> np.ndarray:
    """(n, 21, 3) mediapipe_offsets joints, each fold's offsets fitted on the other folds.

    Folds are contiguous blocks (neighbouring frames of a recording are alike).
    """
    out = np.full_like(keypoints, np.nan)
    folds = min(folds, len(keypoints))
    if folds < 2:
        return out
    for block in np.array_split(np.arange(len(keypoints)), folds):
        train = np.setdiff1d(np.arange(len(keypoints)), block)
        offsets = mt.fit_offsets(keypoints[train], sides[train], truth[train])
        for side in SIDES:
            rows = block[sides[block] == side]
            out[rows] = mt.apply_offsets(keypoints[rows], side, offsets)
    return out


def gt_metrics(joints: np.ndarray, truth: np.ndarray) -> dict:
    """Ground-truth frame metrics of (n, 21, 3) joints against (n, 21, 3) truth."""
    ok = valid_frames(joints, truth)
    joints, truth = joints[ok], truth[ok]
    aligned = joint_errors_mm(wrist_aligned(joints), wrist_aligned(truth))  # (n, 21)
    per_finger = {finger: mean_or_nan(aligned[:, 1 + 4 * f:5 + 4 * f])
                  for f, finger in enumerate(sk.FINGERS)}
    return {'mpjpe_wrist_mm': mean_or_nan(aligned), 'pa_mpjpe_mm': pa_mpjpe_mm(joints, truth),
            'root_mm': mean_or_nan(joint_errors_mm(joints[:, sk.ROOT], truth[:, sk.ROOT])),
            'mpjpe_wrist_mm_per_finger': per_finger, 'hands_evaluated': int(ok.sum())}


def evaluate_gt_frames(gt, methods, settings: dict, limit=None, cache_dir=None,
                       progress: bool = True) -> tuple:
    """({key: results entry}, fit data) of one gt_frames set; fit data: (keypoints, sides, truth).

    Two entries: every frame (``mediapipe_offsets`` out of fold), and the held-out half of
    `calibration_split` (``mediapipe_offsets`` fitted on the calibration half), the figures of
    frames the synthetic observation model was not calibrated on.
    """
    n = len(gt.images) if limit is None else min(limit, len(gt.images))
    detections, from_cache = detect_images(gt.images[:n], gt.K[:n], cache_dir, gt.key,
                                           [gt.folder / 'gt.npz'], progress)
    truth_all = gt.joints_m[:n]
    slots = match_detections(detections, gt.K[:n], truth_all)
    frame, hand = np.argwhere(slots >= 0).T                                 # matched hands
    slot = slots[frame, hand]
    sides = np.array([SIDES[s] for s in detections.side[frame, slot]], dtype=str)
    keypoints = detections.xyz[frame, slot]                                 # (m, 21, 3)
    truth = truth_all[frame, hand]                                          # (m, 21, 3)
    stream, answers = held_still(detections, settings['still_frames'])
    outputs = _run(stream, [m for m in methods if m != 'mediapipe_offsets'], settings,
                   gt.key, progress)
    calibration, held_out = calibration_split(n)
    entries = {}
    for key, frames in ((gt.key, np.arange(n)), (f'{gt.key}/held_out', held_out)):
        rows = np.isin(frame, frames)                                       # hands of `frames`
        in_frames = np.isin(np.arange(n), frames)
        common = {'detection_rate': rows.sum() / slots[in_frames].size,
                  'handedness_accuracy': mean_or_nan(sides[rows] == gt.side[:n][
                      frame[rows], hand[rows]])}
        entry = {'kind': 'gt_frames', 'frames': int(len(frames)),
                 'frame_range': [int(frames[0]), int(frames[-1]) + 1] if len(frames) else [],
                 'hands': int(slots[in_frames].size), 'detections_cached': from_cache,
                 **common, 'methods': {}}
        for method in methods:
            if method == 'mediapipe_offsets':
                if key == gt.key:
                    joints = out_of_fold_offsets(keypoints, sides, truth)
                else:
                    fit = np.isin(frame, calibration)
                    offsets = mt.fit_offsets(keypoints[fit], sides[fit], truth[fit])
                    joints = np.full_like(keypoints, np.nan)
                    for side in SIDES:
                        these = np.flatnonzero(sides == side)
                        joints[these] = mt.apply_offsets(keypoints[these], side, offsets)
            else:
                at = outputs[method].take(answers[frame])
                joints = np.stack([at.positions[s][i] for i, s in enumerate(sides)]) \
                    if len(sides) else np.zeros((0, sk.NUM_JOINTS, 3))
            entry['methods'][method] = {**common, **gt_metrics(joints[rows], truth[rows])}
        entries[key] = entry
    return entries, (keypoints, sides, truth)


# --- stereo ---------------------------------------------------------------------------------

def stereo_metrics(joints: np.ndarray, reference: np.ndarray) -> dict:
    """Stereo metrics of (F, 21, 3) camera-frame joints against the (F, 21, 3) reference.

    One similarity transform (`sequence_similarity`, over every frame both have) takes the
    joints onto the reference first; every distance is then in the reference's metres. The lag
    is that of the hand's articulation (wrist-aligned joints): the camera-frame trajectories of
    monocular methods are dominated by their depth errors.
    """
    ok = valid_frames(joints, reference)
    if ok.sum() < 3:
        return {**dict.fromkeys(STEREO_METRICS, float('nan')), 'frames_evaluated': int(ok.sum())}
    transform = sequence_similarity(joints[ok], reference[ok])
    moved = np.where(ok[:, None, None], apply_similarity(transform, joints), np.nan)
    a, b = moved[ok], reference[ok]
    return {'mpjpe_mm': mean_or_nan(joint_errors_mm(a, b)),
            'mpjpe_wrist_mm': mean_or_nan(joint_errors_mm(wrist_aligned(a), wrist_aligned(b))),
            'pa_mpjpe_mm': pa_mpjpe_mm(a, b),
            'root_mm': mean_or_nan(joint_errors_mm(a[:, sk.ROOT], b[:, sk.ROOT])),
            'accel_mm': accel_error_mm(moved, reference),
            'lag_frames': lag_frames(wrist_aligned(moved), wrist_aligned(reference)),
            'similarity_scale': float(transform[0]),
            'similarity_rotation_deg': float(np.degrees(
                Rotation.from_matrix(transform[1]).magnitude())),
            'coverage': float(ok.sum() / valid_frames(reference).sum()),
            'frames_evaluated': int(ok.sum())}


def evaluate_stereo(pair, methods, settings: dict, limit=None, cache_dir=None,
                    progress: bool = True) -> dict:
    """{dataset key: results entry} for each camera of one stereo set."""
    detections, cached = {}, {}
    for name, video in pair.videos.items():
        detections[name], cached[name] = detect_video(
            video, pair.cameras[name].intrinsics, limit, cache_dir, pair.key(name), progress)
    reference = build_reference(pair, detections)
    entries = {}
    for name in list(pair.cameras)[:2]:
        in_camera = reference.in_camera(pair.cameras[name])
        outputs = _run(detections[name], methods, settings, pair.key(name), progress)
        entry = {'kind': 'stereo', 'frames': detections[name].frames,
                 'detections_cached': cached[name], 'reference': reference.residual,
                 'methods': {}}
        for method, output in outputs.items():
            joints = reference_side_joints(output, reference.sides[name])
            entry['methods'][method] = stereo_metrics(joints, in_camera)
        entries[pair.key(name)] = entry
    return entries


# --- videos ---------------------------------------------------------------------------------

def video_metrics(output, detections: Detections) -> dict:
    """Metrics without ground truth of one method's output over a video's detections."""
    detected = mt.detected_by_side(detections)
    K = detections.camera(0).matrix  # a video has one camera
    errors, relative, runs, bones, violations = [], [], [], [], []
    with_output = np.zeros(detections.frames, dtype=bool)
    for side in SIDES:
        joints, uv = output.positions[side], detected[side][1]
        ok = valid_frames(joints, uv)
        if not ok.any():
            continue
        with_output |= valid_frames(joints)
        error = np.linalg.norm(project(joints[ok], K) - uv[ok], axis=-1)      # (n, 21) px
        palm_px = np.linalg.norm(uv[ok][:, _MIDDLE_MCP] - uv[ok][:, sk.ROOT], axis=-1)
        errors.append(error)
        relative.append(error[:, list(sk.TIPS)] / palm_px[:, None])
        runs += [wrist_aligned(joints[run]) for run in consecutive_runs(valid_frames(joints))]
        bones.append(sk.bone_lengths(joints[valid_frames(joints)]))
        violations.append(limit_violations(output.rotations(side)[valid_frames(joints)]))
    if not errors:
        return {**dict.fromkeys(VIDEO_METRICS, float('nan')), 'coverage': 0.0}
    accel_sum, accel_count = accel_sums_mm(runs)
    errors = np.concatenate(errors)
    return {'tips_2d_rel_palm': mean_or_nan(np.concatenate(relative)),
            'joints_2d_px': mean_or_nan(errors),
            'tips_2d_px': mean_or_nan(errors[:, list(sk.TIPS)]),
            'accel_mm': accel_sum / accel_count if accel_count else float('nan'),
            'bone_std_mm': bone_std_mm(bones),
            'limit_violation_rate': mean_or_nan(np.concatenate(violations).any(-1)),
            'limit_joint_rate': mean_or_nan(np.concatenate(violations)),
            'coverage': float(with_output.mean())}


def evaluate_video(video, methods, settings: dict, limit=None, cache_dir=None,
                   progress: bool = True) -> dict:
    """The results entry of one video."""
    detections, from_cache = detect_video(video.path, video.intrinsics, limit, cache_dir,
                                          video.key, progress)
    outputs = _run(detections, methods, settings, video.key, progress)
    hands = (detections.side >= 0).any(axis=1)
    return {'kind': 'videos', 'frames': detections.frames, 'detections_cached': from_cache,
            'frames_with_hand': int(hands.sum()),
            'intrinsics': 'from yaml' if video.intrinsics else 'guess_intrinsics',
            'methods': {m: video_metrics(o, detections) for m, o in outputs.items()}}


# --- the whole run --------------------------------------------------------------------------

def _run(detections: Detections, methods, settings: dict, name: str, progress: bool) -> dict:
    """Run the methods over one input, with a progress bar over the tracker frames."""
    tracker_runs = len({m.removesuffix('_raw') for m in methods if m in mt.TRACKER_METHODS})
    with tqdm(total=detections.frames * tracker_runs, desc=f'methods {name}', unit='frame',
              disable=not progress or not tracker_runs, leave=False) as bar:
        return mt.run_methods(detections, methods, settings.get('one_euro'),
                              settings.get('offsets'), settings['trackers'], bar)


def prepare_methods(methods, checkpoints: dict, device: str) -> dict:
    """The One Euro setting, the trackers, and what each method runs with (for the JSON).

    The trackers are made once for the whole run (tracing a model takes about a second) and
    restarted for every input.
    """
    from iknet_ros.evaluation.synthetic import tune_one_euro
    from iknet_ros.model.checkpoint import default_checkpoint, read_config

    settings = {'trackers': mt.make_trackers(methods, checkpoints, device), 'described': {}}
    described = settings['described']
    if 'one_euro' in methods:
        settings['one_euro'] = tune_one_euro()
        described['one_euro'] = {'setting': settings['one_euro'], 'chosen_by':
                                 'evaluation.synthetic.tune_one_euro (synthetic training seeds)'}
    windows = [8]
    for kind in ('baseline', 'sequence'):
        folder = checkpoints.get(kind) or default_checkpoint(kind)
        config = read_config(folder)
        windows.append(config['arguments'].get('window', 1))
        for method in methods:
            if method.removesuffix('_raw') == kind:
                described[method] = {'checkpoint': str(folder), 'kind': config['kind'],
                                     'arguments': config['arguments'],
                                     'training': config.get('training', {})}
    if 'ik' in methods:
        described['ik'] = {'model': 'a freshly built sequence IKNet (zero-initialised head: '
                                    'closed-form swing IK), through the tracker'}
    settings['still_frames'] = max(windows)
    return settings


def evaluate_real(data: RealData, methods=mt.METHODS, limit: int = None, cache_dir=None,
                  checkpoints: dict = None, device: str = 'cpu', progress: bool = True) -> dict:
    """Every method on every dataset of `data`: the JSON layout of ``evaluate-real``."""
    from iknet_ros.model.checkpoint import git_revision

    unknown = sorted(set(methods) - set(mt.METHODS))
    if unknown:
        raise ValueError(f'unknown methods {unknown}; choose from {", ".join(mt.METHODS)}')
    methods = [m for m in mt.METHODS if m in methods]
    settings = prepare_methods(methods, checkpoints or {}, device)
    results = {'data': str(data.folder), 'commit': git_revision(), 'methods': methods,
               'detector': DETECTOR_SETTINGS, 'limit': limit, 'device': device,
               'method_settings': settings['described'], 'datasets': {}}
    fits = []
    for gt in data.gt_frames:
        entries, fit = evaluate_gt_frames(gt, methods, settings, limit, cache_dir, progress)
        results['datasets'].update(entries)
        fits.append(fit)
    if 'mediapipe_offsets' in methods:
        hands = sum(len(fit[0]) for fit in fits)
        if hands:
            settings['offsets'] = mt.fit_offsets(*(np.concatenate(parts) for parts in zip(
                *fits, strict=True)))
            results['method_settings']['mediapipe_offsets'] = {
                'fitted_on': [gt.key for gt in data.gt_frames], 'hands': hands,
                'gt_frames': f'out of fold, {FOLDS} contiguous folds',
                'offsets_per_palm': np.round(settings['offsets'], 4).tolist()}
        else:
            results['method_settings']['mediapipe_offsets'] = {
                'skipped': 'no ground-truth frames with a detected hand to fit it on'}
    for pair in data.stereo:
        results['datasets'].update(evaluate_stereo(pair, methods, settings, limit, cache_dir,
                                                   progress))
    for video in data.videos:
        results['datasets'][video.key] = evaluate_video(video, methods, settings, limit,
                                                        cache_dir, progress)
    return results


# --- the printed table ----------------------------------------------------------------------

# kind -> (column title, metric key, format, scale)
COLUMNS = {
    'gt_frames': [('det %', 'detection_rate', '.1f', 100), ('side %', 'handedness_accuracy',
                                                           '.1f', 100),
                  ('MPJPE-w', 'mpjpe_wrist_mm', '.2f', 1), ('PA', 'pa_mpjpe_mm', '.2f', 1),
                  ('root', 'root_mm', '.2f', 1)]
    + [(finger, f'per_finger.{finger}', '.2f', 1) for finger in sk.FINGERS],
    'stereo': [('MPJPE', 'mpjpe_mm', '.2f', 1), ('MPJPE-w', 'mpjpe_wrist_mm', '.2f', 1),
               ('PA', 'pa_mpjpe_mm', '.2f', 1), ('accel', 'accel_mm', '.2f', 1),
               ('lag', 'lag_frames', '.2f', 1), ('cover %', 'coverage', '.1f', 100)],
    'videos': [('tips/palm', 'tips_2d_rel_palm', '.3f', 1), ('2D px', 'joints_2d_px', '.2f', 1),
               ('accel', 'accel_mm', '.2f', 1), ('bone std', 'bone_std_mm', '.2f', 1),
               ('limits %', 'limit_violation_rate', '.1f', 100),
               ('joints %', 'limit_joint_rate', '.1f', 100),
               ('cover %', 'coverage', '.1f', 100)],
}
UNITS = {'gt_frames': 'mm; each frame a fresh track held still',
         'stereo': 'mm, accel mm/frame^2, lag frames (+ = behind); against the stereo reference',
         'videos': 'tips/palm: 2D tip error / palm length; accel mm/frame^2; bone std mm'}


def _value(metrics: dict, key: str):
    if key.startswith('per_finger.'):
        return metrics.get('mpjpe_wrist_mm_per_finger', {}).get(key.split('.', 1)[1])
    return metrics.get(key)


def format_tables(results: dict) -> str:
    """One plain-text table per dataset: a row per method, a column per metric."""
    lines = []
    for key, entry in results['datasets'].items():
        columns = COLUMNS[entry['kind']]
        extra = ''
        if entry['kind'] == 'stereo':
            r = entry['reference']
            extra = (f'; reference: {r["frames_triangulated"]} frames, reprojection '
                     f'{r["reprojection_px"]:.2f} px (raw {r["reprojection_px_raw"]:.2f}), raw '
                     f'bone std {r["raw_bone_std_mm"]:.2f} mm')
        lines.append(f'{key} ({entry["frames"]} frames; {UNITS[entry["kind"]]}{extra})')
        lines.append(f'  {"method":<18}' + ''.join(f'{title:>10}' for title, *_ in columns))
        for method, metrics in entry['methods'].items():
            cells = []
            for _, name, fmt, scale in columns:
                value = _value(metrics, name)
                cells.append(f'{value * scale:>10{fmt}}' if value is not None
                             and np.isfinite(value) else f'{"-":>10}')
            lines.append(f'  {method:<18}' + ''.join(cells))
        lines.append('')
    return '\n'.join(lines)
