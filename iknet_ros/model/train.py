"""Training of the baseline or the sequence IKNet on streamed synthetic data.

Data come from the generator on a worker process (training seeds); every epoch ends with a
validation on the fixed held-out set. Writes DIR/model.safetensors, DIR/config.json,
DIR/history.json and DIR/optimizer.safetensors (for --resume; safetensors, never pickle).
"""
import json
import math
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from iknet_ros.model import data as hand_data
from iknet_ros.model.checkpoint import (
    CheckpointError,
    git_revision,
    load_checkpoint,
    save_checkpoint,
)
from iknet_ros.model.device import choose_device
from iknet_ros.model.metrics import (
    camera_mpjpe_mm,
    mpjpe_mm,
    placed_skeleton,
    predicted_positions,
    training_loss,
)
from iknet_ros.model.networks import build_model

# Defaults of a full run; each fits in well under 30 minutes on a 2-core machine.
# accel_weight: weight of the jitter term of the loss (metrics.training_loss)
DEFAULTS = {
    'baseline': {'epochs': 30, 'steps_per_epoch': 200, 'lr': 1e-3, 'accel_weight': 2.0,
                 'arguments': {}},
    'sequence': {'epochs': 30, 'steps_per_epoch': 200, 'lr': 1e-3, 'accel_weight': 5.0,
                 'arguments': {}},
}
BATCH = {'sequences': 32, 'frames': 48, 'triplets_per_sequence': 4, 'clean_fraction': 0.2}
VALIDATION = {'level': 'realistic', 'sequences': 48, 'frames': 64}


@torch.no_grad()
def validate(model, batch: hand_data.Batch, chunk: int = 4096) -> dict:
    """Held-out errors (mm) of `model` over all windows of `batch`.

    pose: wrist-aligned MPJPE of its rotations on the true bones; camera: MPJPE in the camera
    frame of the skeleton a track publishes from one frame (`metrics.placed_skeleton`).
    """
    model.eval()
    pose, camera = 0.0, 0.0
    for start in range(0, len(batch), chunk):
        part = batch.part(slice(start, start + chunk))
        out = model(part.window)
        n = len(part)
        pose += float(mpjpe_mm(predicted_positions(out['local_rot'], part.offsets),
                               part.positions)) * n
        camera += float(camera_mpjpe_mm(placed_skeleton(out['local_rot'], out['shape'],
                                                        part.window.rays[:, -1]),
                                        part.positions)) * n
    model.train()
    return {'val_mpjpe_mm': pose / len(batch), 'val_camera_mm': camera / len(batch)}


def _save_optimizer(path: Path, optimizer):
    state = optimizer.state_dict()
    tensors = {f'{pid}.{name}': torch.as_tensor(value).cpu().contiguous()
               for pid, entry in state['state'].items() for name, value in entry.items()}
    save_file(tensors, str(path))


def _load_optimizer(path: Path, optimizer):
    state = optimizer.state_dict()
    entries = {}
    for key, value in load_file(str(path)).items():
        pid, name = key.split('.', 1)
        entries.setdefault(int(pid), {})[name] = value
    state['state'] = entries
    optimizer.load_state_dict(state)


def train(kind: str, out, epochs: int = None, steps_per_epoch: int = None, lr: float = None,
          device: str = 'cpu', resume: bool = False, seed: int = 0, arguments: dict = None,
          accel_weight: float = None,
          batch_args: dict = None, validation: dict = None, workers: int = 1, progress=True):
    """Train a model of `kind` into folder `out`; return the history (list of epoch dicts)."""
    defaults = DEFAULTS[kind]
    epochs = epochs or defaults['epochs']
    steps_per_epoch = steps_per_epoch or defaults['steps_per_epoch']
    lr = lr or defaults['lr']
    accel_weight = defaults['accel_weight'] if accel_weight is None else accel_weight
    batch_args = {**BATCH, **(batch_args or {})}
    validation = {**VALIDATION, **(validation or {})}
    device = torch.device(choose_device(device))
    out = Path(out)
    history = []
    if resume:
        model, config = load_checkpoint(out, device=device)
        if config['kind'] != kind:
            raise CheckpointError(f'{out} holds a {config["kind"]} model, not {kind}')
        history = json.loads((out / 'history.json').read_text())
        seed = config['training']['seed']
    else:
        torch.manual_seed(seed)
        model = build_model(kind, **{**defaults['arguments'], **(arguments or {})}).to(device)
    window = model.config.window
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    if resume and (out / 'optimizer.safetensors').exists():
        _load_optimizer(out / 'optimizer.safetensors', optimizer)
    total_steps = epochs * steps_per_epoch

    def learning_rate(step):  # linear warm-up, then cosine decay to 5 %
        warm = min(1.0, (step + 1) / 200)
        return lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / total_steps)))

    held_out = hand_data.sliding_batch(hand_data.held_out_set(**validation), window).to(device)
    first_epoch = len(history)
    stream = hand_data.TrainingStream(window, base_seed=seed * 1_000_000,
                                      start=first_epoch * steps_per_epoch, **batch_args)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers,
                                         persistent_workers=workers > 0)
    batches = iter(loader)
    provenance = {'window': window, 'normalisation': 'wrist-centred, window-mean hand frame, '
                  'palm-length scale', 'training': {
                      'seed': seed, 'epochs': epochs, 'steps_per_epoch': steps_per_epoch,
                      'lr': lr, 'accel_weight': accel_weight, 'batch': batch_args,
                      'data': 'iknet_ros.synth.motion in synth.camera cameras, seen through '
                              'synth.mediapipe_model (realistic; clean fraction as in batch)',
                      'validation': validation, 'git_revision': git_revision()}}
    model.train()
    for epoch in range(first_epoch, epochs):
        started = time.monotonic()
        errors = []
        bar = tqdm(range(steps_per_epoch), desc=f'{kind} epoch {epoch + 1}/{epochs}',
                   disable=not progress, leave=False, unit='step')
        for i in bar:
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group['lr'] = learning_rate(step)
            batch = next(batches).to(device)
            loss, error = training_loss(model(batch.window), batch, accel=accel_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            errors.append(float(error))
            bar.set_postfix(mpjpe_mm=f'{sum(errors[-20:]) / len(errors[-20:]):.2f}')
        record = {'epoch': epoch + 1, 'train_mpjpe_mm': sum(errors) / len(errors),
                  **validate(model, held_out),
                  'seconds': time.monotonic() - started}
        history.append(record)
        if progress:
            tqdm.write(f'{kind} epoch {epoch + 1}/{epochs}: train {record["train_mpjpe_mm"]:.2f}'
                       f' mm, val {record["val_mpjpe_mm"]:.2f} mm, camera '
                       f'{record["val_camera_mm"]:.1f} mm ({record["seconds"]:.0f} s)')
        save_checkpoint(out, model, **provenance)
        _save_optimizer(out / 'optimizer.safetensors', optimizer)
        (out / 'history.json').write_text(json.dumps(history, indent=2) + '\n')
    return history
