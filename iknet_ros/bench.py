"""`iknet-ros bench`: speed and memory figures, printed and saved as JSON.

Timings live here and never in tests. Sections: data generation rate, batch-1 model forward
latency (1 thread and the default threads), and the live pipeline (node latency, frames per
second on the real video against MediaPipe alone, memory).
"""
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from iknet_ros.cli import CliError


def percentiles(samples_s) -> dict:
    """p50 / p95 in milliseconds of a list of durations in seconds."""
    ms = 1000 * np.asarray(samples_s)
    return {'p50': round(float(np.percentile(ms, 50)), 3),
            'p95': round(float(np.percentile(ms, 95)), 3)}


def time_forward(model, keypoints, pad_mask, iterations: int, threads: int) -> dict:
    """Batch-1 forward latency of `model` with `threads` torch threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for _ in range(20):
                model(keypoints, pad_mask)
            samples = []
            for _ in range(iterations):
                start = time.perf_counter()
                model(keypoints, pad_mask)
                samples.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return percentiles(samples)


def bench_models(checkpoints=None, iterations: int = 300) -> dict:
    """Forward latency of the shipped (or given) baseline and sequence models at batch 1."""
    from iknet_ros.model import data as hand_data
    from iknet_ros.model.checkpoint import default_checkpoint, load_checkpoint
    from iknet_ros.model.networks import inference_forward

    default_threads = torch.get_num_threads()
    held_out = hand_data.held_out_set('realistic', sequences=1, frames=40)
    results = {}
    for folder in checkpoints or [default_checkpoint('baseline'), default_checkpoint('sequence')]:
        model, config = load_checkpoint(folder)
        window, pad_mask = hand_data.windows_ending_at(held_out.keypoints, torch.tensor([[39]]),
                                                       model.config.window)
        one = time_forward(model, window, pad_mask, iterations, threads=1)
        many = time_forward(model, window, pad_mask, iterations, threads=default_threads)
        results[config['kind']] = {**one, 'window': model.config.window,
                                   'default_threads': {'threads': default_threads, **many}}
        if config['kind'] == 'sequence':  # what iknet_node runs on a CPU
            results['sequence']['traced'] = time_forward(inference_forward(model), window,
                                                         pad_mask, iterations, threads=1)
    return results


def bench_generation(frames: int = 60_000) -> dict:
    """Synthetic motion + realistic observation, frames per second on one core."""
    from iknet_ros.hand.motion import generation_rate

    return {'frames_per_s_one_core': round(generation_rate(num_frames=frames, threads=1))}


def machine() -> dict:
    """What the figures were measured on."""
    import os

    return {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
            'python': platform.python_version(), 'torch': torch.__version__}


def add_arguments(parser):
    """Arguments of `iknet-ros bench`."""
    parser.add_argument('--json', metavar='FILE', help='also write the figures as JSON')
    parser.add_argument('--iterations', type=int, default=300, help='timed forwards per model')
    parser.add_argument('--checkpoint', nargs='*', default=None, metavar='DIR',
                        help='model checkpoints (default: the shipped weights)')
    parser.add_argument('--only', nargs='*', default=None,
                        choices=['generation', 'models', 'pipeline'],
                        help='run only these sections (default: all)')
    parser.add_argument('--frames', type=int, default=300,
                        help='pipeline: video frames per measurement')


def run(args) -> int:
    """Entry point of `iknet-ros bench`."""
    if args.iterations < 1 or args.frames < 1:
        raise CliError('--iterations and --frames must be positive')
    if args.json:  # before minutes of measuring: its folder is made, or the path named
        try:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CliError(f'cannot write --json {args.json}: {error}') from error
    sections = set(args.only or ['generation', 'models', 'pipeline'])
    results = {'machine': machine()}
    if 'generation' in sections:
        results['generation'] = bench_generation()
        print(f'generation: {results["generation"]["frames_per_s_one_core"]} frames/s (1 core)')
    if 'models' in sections:
        results['model_forward_ms'] = bench_models(args.checkpoint, args.iterations)
        for kind, figures in results['model_forward_ms'].items():
            many = figures['default_threads']
            print(f'{kind} forward (batch 1, T={figures["window"]}): 1 thread p50 '
                  f'{figures["p50"]:.2f} ms p95 {figures["p95"]:.2f} ms; {many["threads"]} '
                  f'threads p50 {many["p50"]:.2f} ms p95 {many["p95"]:.2f} ms' +
                  (f'; traced (iknet_node), 1 thread p50 {figures["traced"]["p50"]:.2f} ms '
                   f'p95 {figures["traced"]["p95"]:.2f} ms' if 'traced' in figures else ''))
    if 'pipeline' in sections:
        from iknet_ros.ros.pipeline_bench import bench_pipeline

        results.update(bench_pipeline(args.frames))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0
