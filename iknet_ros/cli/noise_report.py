"""`iknet-ros noise-report`: real vs synthetic MediaPipe errors (synth.calibration, noise_stats).

Three tables: the MediaPipe error model against real detections with 3D ground truth (the
model is fitted on the calibration half of gt_frames, the other half is held out), the real
videos' own jitter against a synthetic run, and the jitter-only model against the shared real
landmark file. ``--fit`` refits the model's parameter file from the calibration frames. The real
detections are MediaPipe run as keypoint_node runs it, cached like evaluate-real's.
"""
import json
from pathlib import Path

from iknet_ros.cli import CliError


def add_arguments(parser):
    """Options of ``iknet-ros noise-report``."""
    parser.add_argument('--json', metavar='FILE', help='write {"real": ..., "synthetic": ..., '
                        '"calibration": ..., "videos": ...}')
    parser.add_argument('--data', metavar='DIR', default=None,
                        help='real-data folder (default: ../shared/data/real or '
                             '$IKNET_ROS_REAL_DATA)')
    parser.add_argument('--cache', metavar='DIR', default=None,
                        help="MediaPipe's detections cache (default: as evaluate-real's)")
    parser.add_argument('--sequences', type=int, default=32,
                        help='synthetic sequences of 621 frames to measure (default 32)')
    parser.add_argument('--seed', type=int, default=0, help='synthetic data seed (default 0)')
    parser.add_argument('--level', default='realistic', help='noise level (default realistic)')
    parser.add_argument('--real', metavar='FILE', default=None,
                        help='real MediaPipe landmarks (default: the shared real-data file)')
    parser.add_argument('--draws', type=int, default=10,
                        help='simulations of each gt_frames pose for the calibration table')
    parser.add_argument('--fit', action='store_true',
                        help='refit the MediaPipe error model from the calibration frames first')
    parser.add_argument('--params', metavar='FILE', default=None,
                        help='parameter file to use (and with --fit to write; default: the '
                             'shipped synth/mediapipe_errors.json)')


def real_detections(data_dir, cache_dir):
    """(StillDetections of the ground-truth set, {video name: jitter input}) or None if absent."""
    import numpy as np

    from iknet_ros.evaluation.datasets import RealDataError, discover
    from iknet_ros.evaluation.detections import NO_HAND, detect_images, detect_video
    from iknet_ros.hand.keypoints import SIDES
    from iknet_ros.synth import calibration

    try:
        data = discover(data_dir)
    except RealDataError:
        return None
    sets = {gt.key: gt for gt in data.gt_frames}
    if calibration.GT_SET not in sets:
        return None
    gt = sets[calibration.GT_SET]
    found, _ = detect_images(gt.images, gt.K, cache_dir, gt.key, [gt.folder / 'gt.npz'])
    side = np.array([SIDES[s] if s != NO_HAND else '' for s in found.side[:, 0]])
    stills = calibration.still_detections(
        found.xyz[:, 0], found.world[:, 0], found.uv[:, 0], side, gt.joints_m[:, 0],
        gt.side[:, 0], gt.K, np.array([_image_size(p) for p in gt.images]))
    videos = {}
    for video in data.videos:
        if video.name in calibration.JITTER_VIDEOS:
            seen, _ = detect_video(video.path, video.intrinsics, cache_dir=cache_dir,
                                   name=video.key)
            ok = seen.side[:, 0] != NO_HAND
            videos[video.name] = {'world': seen.world[:, 0], 'uv': seen.uv[:, 0], 'detected': ok}
    return stills, videos


def _image_size(path) -> tuple:
    import cv2

    height, width = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).shape
    return width, height


def run(args) -> int:
    """Print the tables; optionally refit the parameter file and write the JSON."""
    from iknet_ros.paths import cache_dir, real_data_dir
    from iknet_ros.synth import calibration
    from iknet_ros.synth.mediapipe_model import PARAMETER_FILE, load_parameters
    from iknet_ros.synth.noise_stats import REAL_FILE_NAME, real_stats, report, synthetic_stats

    if args.sequences < 1 or args.draws < 1:
        raise CliError('--sequences and --draws must be at least 1')
    data_dir = Path(args.data) if args.data else real_data_dir()
    real = real_detections(data_dir, Path(args.cache) if args.cache else cache_dir())
    params_file = Path(args.params) if args.params else PARAMETER_FILE
    if args.fit:
        if real is None:
            raise CliError(f'--fit needs the real ground-truth frames {calibration.GT_SET} of '
                           f'{data_dir}, which are absent')
        stills, videos = real
        calibration_frames, _ = calibration.calibration_split(len(stills.frame))
        fit_on = stills.subset(calibration_frames)
        params = calibration.fit_parameters(fit_on)
        params['temporal'] = calibration.fit_temporal(params, videos)
        source = ('MediaPipe 0.10.21 (bundled models) through iknet_ros.detect.detector as '
                  'keypoint_node runs it, one fresh detector per still frame '
                  '(iknet_ros.evaluation.detections)')
        params = {'about': params.pop('about'),
                  'provenance': calibration.provenance(fit_on, source, len(stills.frame)),
                  **params}
        print(f'wrote {calibration.write_parameters(params, params_file)} (fitted on '
              f'{calibration.GT_SET} frames {calibration_frames[0]}-{calibration_frames[-1]})')
    params = load_parameters(params_file) if params_file.is_file() else None
    if params is None:
        raise CliError(f'no parameter file {params_file}; make one with --fit')

    results = {}
    if real is None:
        print(f'real ground-truth frames not available: {calibration.GT_SET} of {data_dir} is '
              'absent; reporting synthetic only')
        results['calibration'], videos = None, {}
    else:
        stills, videos = real
        results['calibration'] = calibration.calibration_table(stills, params, args.draws,
                                                               args.seed)
        print('MediaPipe error model vs real MediaPipe on gt_frames (3D ground truth; fitted on '
              'the calibration frames only):')
        print(calibration.calibration_report(results['calibration']))
    results['videos'] = calibration.video_table(videos, seed=args.seed + 1, level=args.level)
    print('\nMediaPipe\'s own jitter, real videos vs the generator (mm, mm/frame^2, palm lengths):')
    print(calibration.video_report(results['videos']))

    landmarks = real_stats(args.real)
    if landmarks is None:
        print(f'\nreal data not available: {args.real or REAL_FILE_NAME} is absent; '
              'reporting synthetic only')
    synthetic = synthetic_stats(args.sequences, seed=args.seed, level=args.level)
    print('\njitter-only model (synth.observation) vs the real landmark file, wrist frame:')
    print(report(landmarks, synthetic))
    results = {'real': landmarks, 'synthetic': synthetic, **results}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0
