"""Training and held-out data for the IKNets, streamed from the synthetic hand generator.

The keypoints are MediaPipe-like detections (``synth.mediapipe_model``) of hands in front of
random cameras, left hands mirrored into the right-hand skeleton as the tracker does.

Training seeds and the held-out seed are disjoint: training draws seeds below
``HELD_OUT_SEED``, evaluation uses ``HELD_OUT_SEED`` and above.
"""
from dataclasses import dataclass

import numpy as np
import torch

from iknet_ros.synth.mediapipe_model import observe_mediapipe
from iknet_ros.synth.motion import generate_motion

HELD_OUT_SEED = 1_000_000_007


@dataclass
class Batch:
    """Windows of detections with the truth of each window's newest frame."""

    keypoints: torch.Tensor   # (N, T, 21, 3) metres, detections; newest frame last
    pad_mask: torch.Tensor    # (N, T) bool, True = padding before a track's first frame
    local_rot: torch.Tensor   # (N, 21, 3, 3) true local rotations of the newest frame
    offsets: torch.Tensor     # (N, 21, 3) true bone offsets (metres)
    positions: torch.Tensor   # (N, 21, 3) true joint positions of the newest frame (metres)

    def to(self, device):
        """The same batch on `device`."""
        return Batch(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def windows_ending_at(sequence: torch.Tensor, ends: torch.Tensor, window: int):
    """Cut windows out of sequences.

    sequence: (B, F, ...) per-frame data; ends: (B, K) index of each window's newest frame.
    Returns (windows (B*K, window, ...), pad_mask (B*K, window)): frames before a sequence's
    start are padding, exactly as in a track that has not yet seen `window` frames.
    """
    B, K = ends.shape
    offsets = torch.arange(-window + 1, 1)                      # (T,)
    index = ends[..., None] + offsets                           # (B, K, T)
    pad_mask = index < 0
    gathered = sequence[torch.arange(B)[:, None, None], index.clamp_min(0)]  # (B, K, T, ...)
    gathered = gathered * (~pad_mask).reshape(pad_mask.shape + (1,) * (sequence.dim() - 2))
    return gathered.flatten(0, 1), pad_mask.flatten(0, 1)


def make_batch(motion, keypoints, ends, window) -> Batch:
    """Windows ending at `ends` (B, K) of one generated set of sequences."""
    B, K = ends.shape
    windows, pad_mask = windows_ending_at(keypoints, ends, window)
    rows = torch.arange(B)[:, None].expand(B, K)
    return Batch(keypoints=windows, pad_mask=pad_mask,
                 local_rot=motion.local_rot[rows, ends].flatten(0, 1),
                 offsets=motion.offsets[:, None].expand(B, K, -1, -1).flatten(0, 1),
                 positions=motion.positions[rows, ends].flatten(0, 1))


def training_batch(seed: int, window: int, sequences: int = 32, frames: int = 48,
                   triplets_per_sequence: int = 4, clean_fraction: float = 0.2) -> Batch:
    """One training batch from fresh sequences: mostly `realistic` detections, some `clean`.

    Windows come in triplets ending at consecutive frames (e-2, e-1, e), so the loss can score
    the acceleration of the predictions (jitter), not only their error. About one triplet in
    six ends while the window is still filling up (padded).
    """
    if seed >= HELD_OUT_SEED:
        raise ValueError(f'training seeds must stay below the held-out seed {HELD_OUT_SEED}')
    rng = np.random.default_rng(seed)
    motion = generate_motion(sequences, frames, rng)
    n_clean = int(round(sequences * clean_fraction))
    clean = observe_mediapipe(motion, 'clean').right_hand_xyz()
    noisy = observe_mediapipe(motion, 'realistic', rng).right_hand_xyz()
    keypoints = torch.cat([clean[:n_clean], noisy[n_clean:]])
    shape = (sequences, triplets_per_sequence)
    filled = rng.integers(min(window + 1, frames - 1), frames, size=shape)
    filling = rng.integers(2, frames, size=shape)
    ends = np.where(rng.random(shape) < 1 / 6, filling, filled)
    ends = np.stack([ends - 2, ends - 1, ends], axis=-1).reshape(sequences, -1)  # (B, K*3)
    return make_batch(motion, keypoints, torch.as_tensor(ends), window)


class TrainingStream(torch.utils.data.IterableDataset):
    """Endless training batches, batch i from seed `base_seed + i` (reproducible, resumable)."""

    def __init__(self, window: int, base_seed: int, start: int = 0, **batch_args):
        super().__init__()
        self.window, self.base_seed, self.start, self.batch_args = window, base_seed, start, \
            batch_args

    def __iter__(self):
        torch.set_num_threads(1)
        step = self.start
        while True:
            yield training_batch(self.base_seed + step, self.window, **self.batch_args)
            step += 1


@dataclass
class HeldOutSet:
    """Whole held-out sequences: the truth and the detections at one noise level."""

    local_rot: torch.Tensor   # (S, F, 21, 3, 3)
    offsets: torch.Tensor     # (S, 21, 3)
    positions: torch.Tensor   # (S, F, 21, 3)
    keypoints: torch.Tensor   # (S, F, 21, 3)
    level: str


def held_out_set(level: str = 'realistic', sequences: int = 64, frames: int = 90) -> HeldOutSet:
    """The fixed held-out sequences (same motion at every noise level)."""
    motion = generate_motion(sequences, frames, HELD_OUT_SEED)
    keypoints = observe_mediapipe(motion, level, HELD_OUT_SEED + 1).right_hand_xyz()
    return HeldOutSet(motion.local_rot, motion.offsets, motion.positions, keypoints, level)


def sliding_batch(data: HeldOutSet, window: int) -> Batch:
    """Every frame of every held-out sequence as the newest frame of a window (S*F windows)."""
    S, F = data.keypoints.shape[:2]
    ends = torch.arange(F).expand(S, F)
    return make_batch(data, data.keypoints, ends, window)
