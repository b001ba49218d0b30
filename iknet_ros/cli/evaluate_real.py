"""`iknet-ros evaluate-real`: every method on real hands, side by side (evaluation.real)."""
import json
import math
import time
from pathlib import Path

from iknet_ros.cli import CliError
from iknet_ros.evaluation import REAL_METHODS as METHODS
from iknet_ros.paths import cache_dir, real_data_dir


def add_arguments(parser):
    """Arguments of `iknet-ros evaluate-real`."""
    parser.add_argument('--data', metavar='DIR', default=None,
                        help='real-data folder: gt_frames/, stereo/, videos/ (default: '
                             f'{real_data_dir()})')
    parser.add_argument('--json', metavar='FILE', help='also write the results as JSON')
    parser.add_argument('--plot', metavar='FILE.png',
                        help='also draw accuracy against jitter per dataset (PNG)')
    parser.add_argument('--methods', nargs='+', default=list(METHODS), metavar='METHOD',
                        help=f'methods to compare (default all: {" ".join(METHODS)})')
    parser.add_argument('--limit', type=int, default=None, metavar='N',
                        help='only the first N frames of each dataset (a quick run)')
    parser.add_argument('--cache', metavar='DIR', default=None,
                        help=f'where MediaPipe detections are cached (default: {cache_dir()}); '
                             "'none' to detect afresh without caching")
    parser.add_argument('--baseline', metavar='DIR', default=None,
                        help='baseline IKNet checkpoint (default: the shipped weights)')
    parser.add_argument('--sequence', metavar='DIR', default=None,
                        help='sequence IKNet checkpoint (default: the shipped weights)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda (the trackers)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')


def json_ready(value):
    """`value` with numpy scalars as Python numbers and NaN as null (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, 'item'):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args) -> int:
    """Evaluate, print a table per dataset, optionally write the JSON and the picture."""
    import torch

    from iknet_ros.evaluation.datasets import discover
    from iknet_ros.evaluation.real import evaluate_real, format_tables

    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown:
        raise CliError(f'unknown method(s) {", ".join(unknown)}; choose from '
                       f'{", ".join(METHODS)}')
    if args.limit is not None and args.limit < 3:
        raise CliError('--limit must be at least 3 frames')
    torch.set_num_threads(1)  # as iknet_node runs the trackers; MediaPipe has its own threads
    data = discover(args.data or real_data_dir())
    cache = None if args.cache == 'none' else Path(args.cache or cache_dir()).expanduser()
    start = time.perf_counter()
    results = evaluate_real(data, args.methods, args.limit, cache,
                            {'baseline': args.baseline, 'sequence': args.sequence},
                            args.device, progress=not args.no_progress)
    results['wall_s'] = round(time.perf_counter() - start, 1)
    print(format_tables(results))
    print(f'data {results["data"]}, commit {results["commit"][:12]}, {results["wall_s"]} s; '
          f'One Euro {results["method_settings"].get("one_euro", {}).get("setting")}')
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(json_ready(results), indent=2) + '\n')
        print(f'wrote {args.json}')
    if args.plot:
        from iknet_ros.viz.real_evaluation import plot_real_evaluation

        print(f'wrote {plot_real_evaluation(results, args.plot)}')
    return 0
