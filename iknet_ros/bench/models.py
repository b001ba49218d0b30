"""Model figures for `iknet-ros bench`: data generation rate, batch-1 forward latency.

Timings live here and never in tests.
"""
import os
import platform
import time

import numpy as np
import torch


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
    from iknet_ros.model.runtime import inference_forward

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
    from iknet_ros.synth.motion import generation_rate

    return {'frames_per_s_one_core': round(generation_rate(num_frames=frames, threads=1))}


def machine() -> dict:
    """What the figures were measured on."""
    return {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
            'python': platform.python_version(), 'torch': torch.__version__}
