"""`iknet-ros noise-report`: real vs synthetic keypoint noise statistics (synth.noise_stats)."""
import json
from pathlib import Path

from iknet_ros.cli import CliError


def add_arguments(parser):
    """Options of ``iknet-ros noise-report``."""
    parser.add_argument('--json', metavar='FILE', help='write {"real": ..., "synthetic": ...}')
    parser.add_argument('--sequences', type=int, default=32,
                        help='synthetic sequences of 621 frames to measure (default 32)')
    parser.add_argument('--seed', type=int, default=0, help='synthetic data seed (default 0)')
    parser.add_argument('--level', default='realistic', help='noise level (default realistic)')
    parser.add_argument('--real', metavar='FILE', default=None,
                        help='real MediaPipe landmarks (default: the shared real-data file)')


def run(args) -> int:
    """Print real vs synthetic noise statistics; optionally write them as JSON."""
    from iknet_ros.synth.noise_stats import REAL_FILE_NAME, real_stats, report, synthetic_stats

    if args.sequences < 1:
        raise CliError('--sequences must be at least 1')
    real = real_stats(args.real)
    if real is None:
        print(f'real data not available: {args.real or REAL_FILE_NAME} is absent; '
              'reporting synthetic only')
    synthetic = synthetic_stats(args.sequences, seed=args.seed, level=args.level)
    print(report(real, synthetic))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({'real': real, 'synthetic': synthetic}, indent=2)
                                   + '\n')
        print(f'wrote {args.json}')
    return 0
