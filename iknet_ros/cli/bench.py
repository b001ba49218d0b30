"""`iknet-ros bench`: speed and memory figures, printed and saved as JSON (iknet_ros.bench).

Sections: data generation rate, batch-1 model forward latency (1 thread and the default
threads), and the live pipeline (node latency, frames per second on the real video against
MediaPipe alone, CPU per frame, memory). Timings live here and never in tests.
"""
import json
from pathlib import Path

from iknet_ros.cli import CliError

SECTIONS = ('generation', 'models', 'pipeline')


def add_arguments(parser):
    """Arguments of `iknet-ros bench`."""
    parser.add_argument('--json', metavar='FILE', help='also write the figures as JSON')
    parser.add_argument('--iterations', type=int, default=300, help='timed forwards per model')
    parser.add_argument('--checkpoint', nargs='*', default=None, metavar='DIR',
                        help='model checkpoints (default: the shipped weights)')
    parser.add_argument('--only', nargs='*', default=None, choices=SECTIONS,
                        help='run only these sections (default: all)')
    parser.add_argument('--frames', type=int, default=300,
                        help='pipeline: video frames per measurement')
    parser.add_argument('--messages', type=int, default=150,
                        help='pipeline: keypoint clouds per latency measurement')


def run(args) -> int:
    """Measure the chosen sections, print them, optionally write the JSON."""
    if args.iterations < 1 or args.frames < 1 or args.messages < 20:
        raise CliError('--iterations and --frames must be positive, --messages at least 20')
    if args.json:  # before minutes of measuring: its folder is made, or the path named
        try:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CliError(f'cannot write --json {args.json}: {error}') from error
    from iknet_ros.bench import models

    sections = set(args.only or SECTIONS)
    results = {'machine': models.machine()}
    if 'generation' in sections:
        results['generation'] = models.bench_generation()
        print(f'generation: {results["generation"]["frames_per_s_one_core"]} frames/s (1 core)')
    if 'models' in sections:
        results['tracker_update_ms'] = models.bench_tracker()
        print(f'tracker update, one hand, 1 thread: p50 {results["tracker_update_ms"]["p50"]:.2f}'
              f' ms, p95 {results["tracker_update_ms"]["p95"]:.2f} ms')
        results['model_forward_ms'] = models.bench_models(args.checkpoint, args.iterations)
        for kind, figures in results['model_forward_ms'].items():
            many = figures['default_threads']
            print(f'{kind} forward (batch 1, T={figures["window"]}): 1 thread p50 '
                  f'{figures["p50"]:.2f} ms p95 {figures["p95"]:.2f} ms; {many["threads"]} '
                  f'threads p50 {many["p50"]:.2f} ms p95 {many["p95"]:.2f} ms' +
                  (f'; traced (iknet_node), 1 thread p50 {figures["traced"]["p50"]:.2f} ms '
                   f'p95 {figures["traced"]["p95"]:.2f} ms' if 'traced' in figures else ''))
    if 'pipeline' in sections:
        from iknet_ros.bench.pipeline import bench_pipeline

        results.update(bench_pipeline(args.frames, args.messages))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0
