"""Training and held-out data for the IKNets, streamed from the synthetic hand generator.

Hands move in front of random cameras (``synth.motion``), and the calibrated observation model
(``synth.mediapipe_model``) turns them into what keypoint_node publishes: MediaPipe's 3D
keypoints in the camera frame and the rays of its 2D landmarks, left hands mirrored into the
right-hand skeleton as the tracker does. Training seeds and the held-out seed are disjoint:
training draws seeds below ``HELD_OUT_SEED``, evaluation uses ``HELD_OUT_SEED`` and above.
"""
from dataclasses import dataclass

import numpy as np
import torch

from iknet_ros.hand import kinematics as kin
from iknet_ros.model.networks import HandWindow
from iknet_ros.synth.camera import project
from iknet_ros.synth.mediapipe_model import observe_mediapipe
from iknet_ros.synth.motion import generate_motion

HELD_OUT_SEED = 1_000_000_007
NO_BONES_FRACTION = 0.3   # windows of a track that has no bone estimate yet
BONE_SCALE_ERROR = 0.03   # log std of a track's bone estimate: the whole hand
BONE_ERROR = 0.04         # and each bone


@dataclass
class Observed:
    """What the detector reports of a batch of sequences (the models' raw input).

    With the truth where the detector's intrinsics put it; right-hand geometry (left hands
    mirrored).
    """

    keypoints: torch.Tensor  # (B, F, 21, 3) m, camera frame, MediaPipe's landmarks as placed
    rays: torch.Tensor       # (B, F, 21, 2) normalised image coordinates of the 2D landmarks
    guessed: torch.Tensor    # (B,) bool: intrinsics are a guess
    positions: torch.Tensor  # (B, F, 21, 3) m, the true joints as those intrinsics place them


def _rays(uv: np.ndarray, k: np.ndarray, left: np.ndarray) -> np.ndarray:
    """(B, F, 21, 2) pixels, (B, 3, 3) intrinsics -> rays, x mirrored for left hands."""
    focal, centre = k[:, None, None, [0, 1], [0, 1]], k[:, None, None, [0, 1], [2, 2]]
    rays = (uv - centre) / focal
    rays[..., 0] *= np.where(left, -1.0, 1.0)[:, None, None]
    return rays


def observe_in_camera(motion, level: str, seed) -> Observed:
    """MediaPipe-like detections of a `generate_motion` batch, as the tracker receives them.

    With guessed intrinsics the detector's camera frame is not the true one: the truth there is
    the true hand placed on the rays of its true pixels with the detector's intrinsics (exactly
    the truth when the intrinsics are right).
    """
    seen = observe_mediapipe(motion, level, seed)
    left, k = motion.left.numpy(), seen.K.numpy()
    true_uv = project(motion.camera_positions().double().numpy(),
                      motion.camera.K.numpy()[:, None, None])               # (B, F, 21, 2)
    true_rays = torch.as_tensor(_rays(true_uv, k, left), dtype=torch.float32)
    shape = motion.positions - motion.positions[..., :1, :]                 # (B, F, 21, 3)
    positions = shape + kin.place_on_rays(shape, true_rays)[..., None, :]
    rays = torch.as_tensor(_rays(seen.uv.double().numpy(), k, left), dtype=torch.float32)
    return Observed(seen.right_hand_xyz(), rays, seen.guessed, positions)


@dataclass
class Batch:
    """Windows of detections with the truth of each window's newest frame."""

    window: HandWindow        # (N, T, ...) the models' input
    local_rot: torch.Tensor   # (N, 21, 3, 3) true local rotations of the newest frame
    offsets: torch.Tensor     # (N, 21, 3) true bone offsets (metres)
    positions: torch.Tensor   # (N, 21, 3) true joint positions of the newest frame, camera frame

    def to(self, device):
        """The same batch on `device`."""
        return Batch(self.window.to(device), self.local_rot.to(device), self.offsets.to(device),
                     self.positions.to(device))

    def __len__(self):
        return self.local_rot.shape[0]

    def part(self, rows: slice):
        """The windows `rows` of this batch."""
        w = self.window
        return Batch(HandWindow(w.keypoints[rows], w.rays[rows], w.pad_mask[rows],
                                w.guessed[rows], w.bones[rows]),
                     self.local_rot[rows], self.offsets[rows], self.positions[rows])


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


def track_bones(offsets: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(N, 21) a track's bone estimate as the model sees it: the truth with a track's error.

    Some windows get none (zeros), as at a track's first frame.
    """
    lengths = offsets.norm(dim=-1)                                         # (N, 21)
    n = lengths.shape[0]
    error = rng.normal(0, BONE_SCALE_ERROR, (n, 1)) + rng.normal(0, BONE_ERROR, lengths.shape)
    bones = lengths * torch.as_tensor(np.exp(error), dtype=lengths.dtype)
    none = torch.as_tensor(rng.random(n) < NO_BONES_FRACTION)
    return torch.where(none[:, None], torch.zeros_like(bones), bones)


def make_batch(motion, observed: Observed, ends, window, rng) -> Batch:
    """Windows ending at `ends` (B, K) of one generated set of sequences."""
    B, K = ends.shape
    keypoints, pad_mask = windows_ending_at(observed.keypoints, ends, window)
    rays, _ = windows_ending_at(observed.rays, ends, window)
    rows = torch.arange(B)[:, None].expand(B, K)
    offsets = motion.offsets[:, None].expand(B, K, -1, -1).flatten(0, 1)
    guessed = observed.guessed[:, None].expand(B, K).flatten()
    return Batch(HandWindow(keypoints, rays, pad_mask, guessed, track_bones(offsets, rng)),
                 local_rot=motion.local_rot[rows, ends].flatten(0, 1), offsets=offsets,
                 positions=observed.positions[rows, ends].flatten(0, 1))


def training_batch(seed: int, window: int, sequences: int = 32, frames: int = 48,
                   triplets_per_sequence: int = 4, clean_fraction: float = 0.2) -> Batch:
    """One training batch from fresh sequences: mostly `realistic` observations, some `clean`.

    Windows come in triplets ending at consecutive frames (e-2, e-1, e), so the loss can score
    the acceleration of the predictions (jitter), not only their error. About one triplet in
    six ends while the window is still filling up (padded).
    """
    if seed >= HELD_OUT_SEED:
        raise ValueError(f'training seeds must stay below the held-out seed {HELD_OUT_SEED}')
    rng = np.random.default_rng(seed)
    motion = generate_motion(sequences, frames, rng)
    n_clean = int(round(sequences * clean_fraction))
    clean, noisy = observe_in_camera(motion, 'clean', rng), observe_in_camera(motion, 'realistic',
                                                                             rng)
    observed = Observed(*(torch.cat([a[:n_clean], b[n_clean:]]) for a, b in zip(
        (clean.keypoints, clean.rays, clean.guessed, clean.positions),
        (noisy.keypoints, noisy.rays, noisy.guessed, noisy.positions), strict=True)))
    shape = (sequences, triplets_per_sequence)
    filled = rng.integers(min(window + 1, frames - 1), frames, size=shape)
    filling = rng.integers(2, frames, size=shape)
    ends = np.where(rng.random(shape) < 1 / 6, filling, filled)
    ends = np.stack([ends - 2, ends - 1, ends], axis=-1).reshape(sequences, -1)  # (B, K*3)
    return make_batch(motion, observed, torch.as_tensor(ends), window, rng)


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
    positions: torch.Tensor   # (S, F, 21, 3) camera frame
    observed: Observed        # (S, F, ...)
    level: str


def held_out_set(level: str = 'realistic', sequences: int = 64, frames: int = 90) -> HeldOutSet:
    """The fixed held-out sequences (same motion at every noise level)."""
    motion = generate_motion(sequences, frames, HELD_OUT_SEED)
    observed = observe_in_camera(motion, level, HELD_OUT_SEED + 1)
    return HeldOutSet(motion.local_rot, motion.offsets, observed.positions, observed, level)


def sliding_batch(data: HeldOutSet, window: int) -> Batch:
    """Every frame of every held-out sequence as the newest frame of a window (S*F windows).

    The track's bone estimate is the truth with a track's error, drawn from a fixed seed.
    """
    S, F = data.observed.keypoints.shape[:2]
    ends = torch.arange(F).expand(S, F)
    return make_batch(data, data.observed, ends, window, np.random.default_rng(HELD_OUT_SEED))

