"""The synthetic held-out comparison in millimetres, side by side (`iknet-ros evaluate`).

For each noise level it reports the detections themselves, the detections smoothed by a One Euro
filter (minimal-hand's demo setting and one tuned on training seeds), and each model run with
sliding windows along every held-out sequence: wrist-aligned MPJPE (a model's rotations on the
true bones), MPJPE in the camera frame (the skeleton a track publishes from one frame: the
model's bones, placed on the 2D landmarks), jitter and joint-angle error.
"""
import itertools
from pathlib import Path

import torch
from tqdm import tqdm

from iknet_ros.hand import skeleton as sk
from iknet_ros.model import data as hand_data
from iknet_ros.model.checkpoint import default_checkpoint, load_checkpoint
from iknet_ros.model.metrics import (
    accel_error_mm,
    angle_error_deg,
    camera_mpjpe_mm,
    mpjpe_mm,
    placed_skeleton,
    predicted_positions,
)
from iknet_ros.synth.motion import generate_motion
from iknet_ros.tracking.one_euro import OneEuroFilter

LEVELS = ('realistic', 'clean')
FPS = 30.0
MINIMAL_HAND_ONE_EURO = {'min_cutoff': 4.0, 'beta': 0.0}
TUNING_SEED = 777  # a training seed (below data.HELD_OUT_SEED)


def one_euro(keypoints: torch.Tensor, min_cutoff: float, beta: float) -> torch.Tensor:
    """(S, F, 21, 3) detections -> the same smoothed causally along F by a One Euro filter."""
    filt = OneEuroFilter(FPS, min_cutoff, beta)
    return torch.stack([filt(frame) for frame in keypoints.unbind(1)], dim=1)


def tune_one_euro(sequences: int = 48, frames: int = 90) -> dict:
    """The One Euro setting with the lowest MPJPE on `realistic` training-seed sequences."""
    motion = generate_motion(sequences, frames, TUNING_SEED)
    keypoints = hand_data.observe_in_camera(motion, 'realistic', TUNING_SEED + 1).keypoints
    grid = itertools.product((0.25, 0.5, 1.0, 2.0, 4.0, 8.0), (0.0, 1.0, 3.0, 10.0, 30.0))
    scores = {(c, b): float(mpjpe_mm(one_euro(keypoints, c, b), motion.positions))
              for c, b in grid}
    min_cutoff, beta = min(scores, key=scores.get)
    return {'min_cutoff': min_cutoff, 'beta': beta}


@torch.no_grad()
def predict_sequences(model, data: hand_data.HeldOutSet, device, chunk: int = 4096):
    """Run `model` on a sliding window at every frame of every held-out sequence.

    Returns (local rotations (S, F, 21, 3, 3), camera-frame skeleton (S, F, 21, 3)).
    """
    S, F = data.positions.shape[:2]
    batch = hand_data.sliding_batch(data, model.config.window)
    rotations, skeletons = [], []
    for i in range(0, len(batch), chunk):
        part = batch.part(slice(i, i + chunk)).to(device)
        out = model(part.window)
        rotations.append(out['local_rot'].cpu())
        skeletons.append(placed_skeleton(out['local_rot'], out['shape'],
                                         part.window.rays[:, -1]).cpu())
    return (torch.cat(rotations).reshape(S, F, sk.NUM_JOINTS, 3, 3),
            torch.cat(skeletons).reshape(S, F, sk.NUM_JOINTS, 3))


def position_metrics(positions, truth, camera=None) -> dict:
    """MPJPE, acceleration error (and MPJPE in the camera frame) of sequences (S, F, 21, 3)."""
    metrics = {'mpjpe_mm': float(mpjpe_mm(positions, truth)),
               'accel_mm': float(accel_error_mm(positions, truth))}
    metrics['camera_mm'] = float(camera_mpjpe_mm(positions if camera is None else camera, truth))
    return metrics


def evaluate(checkpoints: dict, sequences: int = 64, frames: int = 90, device='cpu',
             progress=True) -> dict:
    """Metrics per noise level for the input, One Euro filters and each model in `checkpoints`.

    checkpoints: name -> loaded model. Returns the JSON layout of the evaluation contract.
    """
    tuned = tune_one_euro()
    results = {'noise': {}, 'sequences': sequences, 'frames': frames,
               'one_euro_settings': {'one_euro': MINIMAL_HAND_ONE_EURO, 'one_euro_tuned': tuned}}
    steps = tqdm(total=len(LEVELS) * (3 + len(checkpoints)), desc='evaluate', unit='run',
                 disable=not progress)
    for level in LEVELS:
        data = hand_data.held_out_set(level, sequences, frames)
        truth, keypoints = data.positions, data.observed.keypoints
        row = {'input': position_metrics(keypoints, truth)}
        steps.update()
        for name, setting in (('one_euro', MINIMAL_HAND_ONE_EURO), ('one_euro_tuned', tuned)):
            row[name] = position_metrics(one_euro(keypoints, **setting), truth)
            steps.update()
        for name, model in checkpoints.items():
            local_rot, camera = predict_sequences(model, data, device)
            positions = predicted_positions(local_rot, data.offsets[:, None])
            row[name] = {**position_metrics(positions, truth, camera),
                         'angle_deg': float(angle_error_deg(local_rot, data.local_rot))}
            steps.update()
        results['noise'][level] = row
    steps.close()
    return results


def format_table(results: dict) -> str:
    """A plain-text table of `evaluate`'s results."""
    lines = []
    for level, row in results['noise'].items():
        lines.append(f'{level:<10} {"MPJPE mm":>10} {"camera mm":>10} {"accel mm/f2":>12} '
                     f'{"angle deg":>10}')
        for name, m in row.items():
            angle = f'{m["angle_deg"]:10.2f}' if 'angle_deg' in m else f'{"-":>10}'
            lines.append(f'  {name:<16} {m["mpjpe_mm"]:8.2f} {m["camera_mm"]:10.2f} '
                         f'{m["accel_mm"]:12.3f} {angle}')
    return '\n'.join(lines)


def load_for_evaluation(folders, device) -> dict:
    """Load checkpoints, keyed by kind, or by folder name when several share a kind."""
    if not folders:
        folders = [default_checkpoint('baseline'), default_checkpoint('sequence')]
    loaded = [(Path(f), *load_checkpoint(f, device=device)) for f in folders]
    kinds = [config['kind'] for _, _, config in loaded]
    return {(config['kind'] if kinds.count(config['kind']) == 1 else folder.name): model
            for folder, model, config in loaded}
