"""`iknet-ros noise-report`: real vs synthetic MediaPipe errors (synth.calibration, noise_stats).

Three tables: the MediaPipe error model against real detections with 3D ground truth (the
model is fitted on the calibration half of gt_frames, the evaluation half is held out), the
real videos' own jitter against a synthetic run, and the jitter-only model against the shared
real landmark file. ``--fit`` refits the model's parameter file from the calibration frames.
"""
import json
from pathlib import Path

from iknet_ros.cli import CliError


def add_arguments(parser):
    """Options of ``iknet-ros noise-report``."""
    parser.add_argument('--json', metavar='FILE', help='write {"real": ..., "synthetic": ..., '
                        '"calibration": ..., "videos": ...}')
    parser.add_argument('--sequences', type=int, default=32,
                        help='synthetic sequences of 621 frames to measure (default 32)')
    parser.add_argument('--seed', type=int, default=0, help='synthetic data seed (default 0)')
    parser.add_argument('--level', default='realistic', help='noise level (default realistic)')
    parser.add_argument('--real', metavar='FILE', default=None,
                        help='real MediaPipe landmarks (default: the shared real-data file)')
    parser.add_argument('--detections', metavar='DIR', default=None,
                        help='cached real MediaPipe detections (default: ../research/mp_errors '
                             'beside the checkout)')
    parser.add_argument('--draws', type=int, default=10,
                        help='simulations of each gt_frames pose for the calibration table')
    parser.add_argument('--fit', action='store_true',
                        help='refit the MediaPipe error model from the calibration frames first')
    parser.add_argument('--params', metavar='FILE', default=None,
                        help='parameter file to use (and with --fit to write; default: the '
                             'shipped synth/mediapipe_errors.json)')


def run(args) -> int:
    """Print the tables; optionally refit the parameter file and write the JSON."""
    from iknet_ros.synth import calibration
    from iknet_ros.synth.mediapipe_model import PARAMETER_FILE, load_parameters
    from iknet_ros.synth.noise_stats import REAL_FILE_NAME, real_stats, report, synthetic_stats

    if args.sequences < 1 or args.draws < 1:
        raise CliError('--sequences and --draws must be at least 1')
    folder = args.detections or calibration.DEFAULT_RESEARCH_CACHE
    cache = calibration.load_research_cache(folder)
    params_file = Path(args.params) if args.params else PARAMETER_FILE
    if args.fit:
        if cache is None:
            raise CliError(f'--fit needs the real detections and ground truth: {folder} or '
                           'the shared gt_frames are absent')
        stills = cache['gt_frames'].subset(calibration.CALIBRATION_FRAMES)
        params = calibration.fit_parameters(stills)
        params['temporal'] = calibration.fit_temporal(params, cache['videos'])
        source = (f'MediaPipe 0.10.21 (bundled models) through iknet_ros.detect.detector, one '
                  f'fresh detector per still frame; the error study\'s cache ({Path(folder).name}/'
                  'gt_detections.npz, video_*.npz; detector of commit bd79cde)')
        params = {'about': params.pop('about'),
                  'provenance': calibration.provenance(stills, source), **params}
        print(f'wrote {calibration.write_parameters(params, params_file)} (fitted on gt_frames '
              f'{calibration.CALIBRATION_FRAMES.start}-{calibration.CALIBRATION_FRAMES.stop - 1})')
    params = load_parameters(params_file) if params_file.is_file() else None
    if params is None:
        raise CliError(f'no parameter file {params_file}; make one with --fit')

    results = {}
    if cache is None:
        print(f'real detections not available: {folder} or the shared gt_frames are absent; '
              'reporting synthetic only')
        results['calibration'] = None
        videos = {}
    else:
        results['calibration'] = calibration.calibration_table(cache['gt_frames'], params,
                                                               args.draws, args.seed)
        print('MediaPipe error model vs real MediaPipe on gt_frames (3D ground truth; fitted on '
              'the calibration frames only):')
        print(calibration.calibration_report(results['calibration']))
        videos = cache['videos']
    results['videos'] = calibration.video_table(videos, seed=args.seed + 1, level=args.level)
    print('\nMediaPipe\'s own jitter, real videos vs the generator (mm, mm/frame^2, palm lengths):')
    print(calibration.video_report(results['videos']))

    real = real_stats(args.real)
    if real is None:
        print(f'\nreal data not available: {args.real or REAL_FILE_NAME} is absent; '
              'reporting synthetic only')
    synthetic = synthetic_stats(args.sequences, seed=args.seed, level=args.level)
    print('\njitter-only model (synth.observation) vs the real landmark file, wrist frame:')
    print(report(real, synthetic))
    results = {'real': real, 'synthetic': synthetic, **results}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0
