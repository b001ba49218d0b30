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


def time_calls(function, args: tuple, iterations: int, threads: int) -> dict:
    """p50 / p95 of `function(*args)` with `threads` torch threads, after a warm-up."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for _ in range(20):
                function(*args)
            samples = []
            for _ in range(iterations):
                start = time.perf_counter()
                function(*args)
                samples.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return percentiles(samples)


def _held_out_window(window: int):
    """One held-out window of `window` frames ending at a sequence's 40th frame (batch 1)."""
    from iknet_ros.model import data as hand_data

    batch = hand_data.sliding_batch(hand_data.held_out_set('realistic', sequences=1, frames=40),
                                    window)
    return batch.part(slice(39, 40)).window


def bench_models(checkpoints=None, iterations: int = 300) -> dict:
    """Forward latency of the shipped (or given) baseline and sequence models at batch 1."""
    from iknet_ros.model.checkpoint import default_checkpoint, load_checkpoint
    from iknet_ros.model.runtime import inference_forward

    default_threads = torch.get_num_threads()
    results = {}
    for folder in checkpoints or [default_checkpoint('baseline'), default_checkpoint('sequence')]:
        model, config = load_checkpoint(folder)
        window = _held_out_window(model.config.window)
        one = time_calls(model, (window,), iterations, threads=1)
        many = time_calls(model, (window,), iterations, threads=default_threads)
        results[config['kind']] = {**one, 'window': model.config.window,
                                   'default_threads': {'threads': default_threads, **many}}
        if config['kind'] == 'sequence':  # what iknet_node runs on a CPU
            results['sequence']['traced'] = time_calls(inference_forward(model),
                                                       window.tensors(), iterations, threads=1)
    return results


def bench_tracker(frames: int = 300) -> dict:
    """One tracker update of one hand (the model and the skeleton), 1 thread: p50 / p95."""
    from iknet_ros.hand.keypoints import HandKeypoints
    from iknet_ros.synth.camera import synthetic_hands
    from iknet_ros.tracking.tracker import HandTracker

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        xyz, uv, rays, _ = synthetic_hands(frames)
        tracker = HandTracker(device='cpu')
        samples = []
        for i in range(frames):
            hand = HandKeypoints('right', xyz[i], uv[i], 0.99, rays=rays[i], guessed=False)
            start = time.perf_counter()
            tracker.update(i / 30.0, [hand])
            samples.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return {**percentiles(samples[20:]), 'frames': frames}


def bench_generation(frames: int = 60_000) -> dict:
    """Synthetic motion + realistic observation, frames per second on one core."""
    from iknet_ros.synth.motion import generation_rate

    return {'frames_per_s_one_core': round(generation_rate(num_frames=frames, threads=1))}


def machine() -> dict:
    """What the figures were measured on."""
    return {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
            'python': platform.python_version(), 'torch': torch.__version__}
