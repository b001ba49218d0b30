"""The jitter-only observation model: true joint positions -> noisy keypoints in the same frame.

The shipped weights were trained on it and several tests feed it to the tracker; the model of
MediaPipe's real, mostly systematic errors in front of a camera is ``synth.mediapipe_model``.

MediaPipe's metric landmarks wobble in ways a network must learn to see through: bones stretch and
shrink from frame to frame, depth (camera z) is much less certain than the image-plane position,
the error is temporally correlated (it drifts rather than flickers), a joint or a finger sometimes
jumps for a frame or two, and now and then the detector misses a frame. The ``realistic`` level is
calibrated against real MediaPipe output (see ``noise_stats`` and ``iknet-ros noise-report``).
"""
from dataclasses import dataclass, replace

import numpy as np
import scipy.signal
import torch

from iknet_ros.hand import skeleton as sk


@dataclass(frozen=True)
class NoiseConfig:
    """Parameters of the observation model (lengths in mm, probabilities per frame)."""

    joint_sigma_mm: tuple = (0.0, 0.0, 0.0)  # correlated per-joint noise std along camera x, y, z
    joint_rho: float = 0.0                   # AR(1) coefficient per frame of that noise
    burst_sigma: float = 0.0                 # log-std of a slow envelope on it (hard moments)
    depth_scale: tuple = (1.0,) * 5          # noise multiplier by chain depth (wrist .. tip)
    bone_sigma: float = 0.0                  # relative std of each bone's length wobble
    bone_rho: float = 0.0                    # AR(1) coefficient per frame of the bone wobble
    scale_sigma: float = 0.0                 # relative std of the whole hand's scale wobble
    glitch_prob: float = 0.0                 # chance per frame that a finger jumps
    glitch_mm: float = 0.0                   # std of a glitch's jump per axis
    missing_prob: float = 0.0                # chance per frame that the detector misses

    def scaled(self, factor: float) -> 'NoiseConfig':
        """The same model with every magnitude and probability multiplied by `factor`."""
        return replace(self, joint_sigma_mm=tuple(factor * s for s in self.joint_sigma_mm),
                       bone_sigma=factor * self.bone_sigma, scale_sigma=factor * self.scale_sigma,
                       glitch_prob=factor * self.glitch_prob, glitch_mm=factor * self.glitch_mm,
                       missing_prob=factor * self.missing_prob)


# calibrated with `iknet-ros noise-report` against real MediaPipe landmarks (see noise_stats)
_REALISTIC = NoiseConfig(joint_sigma_mm=(0.28, 0.28, 0.85), joint_rho=0.82, burst_sigma=0.9,
                         depth_scale=(1.0, 1.0, 1.6, 2.8, 4.3), bone_sigma=0.015, bone_rho=0.9,
                         scale_sigma=0.01, glitch_prob=0.01, glitch_mm=8.0, missing_prob=0.005)

NOISE_LEVELS = {
    'clean': NoiseConfig(),
    'low': _REALISTIC.scaled(0.5),
    'realistic': _REALISTIC,
    'high': _REALISTIC.scaled(1.5),
}


@dataclass
class Observation:
    """Detector-like keypoints of a batch of sequences."""

    keypoints: torch.Tensor  # (B, F, 21, 3) metres, same frame as the input positions
    visible: torch.Tensor    # (B, F) bool; False = missed, keypoints repeat the last visible frame


def _ancestors() -> np.ndarray:
    """(21, 21) with [j, k] = 1 when bone k (ending at joint k) lies on the path wrist -> j."""
    a = np.zeros((sk.NUM_JOINTS, sk.NUM_JOINTS), dtype=np.float32)
    for j in range(1, sk.NUM_JOINTS):
        k = j
        while k > 0:
            a[j, k] = 1.0
            k = sk.PARENTS[k]
    return a


_ANCESTORS = _ancestors()
_DEPTH = np.asarray(sk.CHAIN_DEPTH)


def ar1_noise(rng, shape, rho, axis=1) -> np.ndarray:
    """Unit-variance float32 AR(1) noise along `axis` (stationary from the first frame)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    if rho <= 0.0:
        return white
    first = [slice(None)] * len(shape)
    first[axis] = slice(0, 1)
    # start in the stationary distribution so the first frames are not quieter
    white[tuple(first)] /= np.sqrt(1.0 - rho * rho)
    out = scipy.signal.lfilter([np.sqrt(1.0 - rho * rho)], [1.0, -rho], white, axis=axis)
    return out.astype(np.float32)


def observe(positions: torch.Tensor, level: str = 'realistic', seed=0) -> Observation:
    """Turn true positions (B, F, 21, 3) metres into detector-like keypoints at a noise level."""
    if level not in NOISE_LEVELS:
        raise ValueError(f'unknown noise level {level!r}; valid levels: '
                         f'{", ".join(sorted(NOISE_LEVELS))}')
    cfg = NOISE_LEVELS[level]
    rng = np.random.default_rng(seed)
    true = positions.detach().cpu().numpy().astype(np.float32, copy=False)  # (B, F, 21, 3)
    b, f = true.shape[:2]
    if cfg == NoiseConfig():
        return Observation(positions.clone(),
                           torch.ones(b, f, dtype=torch.bool, device=positions.device))

    # bone-length wobble: rescale each bone (and the whole hand) and rebuild the chains
    bones = true - true[:, :, sk.PARENT_INDEX]                                  # (B, F, 21, 3)
    scale = 1.0 + cfg.bone_sigma * ar1_noise(rng, (b, f, sk.NUM_JOINTS), cfg.bone_rho) \
        + cfg.scale_sigma * ar1_noise(rng, (b, f, 1), cfg.bone_rho)          # (B, F, 21)
    bones = bones * scale[..., None]
    noisy = true[:, :, :1] + np.einsum('jk,bfkc->bfjc', _ANCESTORS, bones)

    # per-joint noise, larger along depth and towards the fingertips (as in MediaPipe's),
    # temporally correlated
    ramp = np.asarray(cfg.depth_scale, dtype=np.float32)[_DEPTH]        # (21,)
    sigma = np.asarray(cfg.joint_sigma_mm, dtype=np.float32) / 1000.0   # (3,)
    noise = ar1_noise(rng, (b, f, sk.NUM_JOINTS, 3), cfg.joint_rho) * sigma
    if cfg.burst_sigma > 0.0:
        # some stretches (fast motion, edge-on views) are noisier than others; mean factor 1
        envelope = np.exp(cfg.burst_sigma * ar1_noise(rng, (b, f), 0.97) - cfg.burst_sigma ** 2 / 2)
        noise *= envelope[:, :, None, None]
    noisy += noise * ramp[:, None]

    # glitches: a finger (from a random joint to its tip) jumps for one or two frames
    glitch = rng.random((b, f)) < cfg.glitch_prob
    glitch[:, 1:] |= glitch[:, :-1] & (rng.random((b, f - 1)) < 0.5)
    finger = rng.integers(0, 5, size=(b, f, 1))
    first = rng.integers(1, 5, size=(b, f, 1))
    joints = (np.asarray(sk.FINGER_OF_JOINT)[None, None] == finger) & (_DEPTH[None, None] >= first)
    jump = rng.standard_normal((b, f, 1, 3), dtype=np.float32) * (cfg.glitch_mm / 1000.0)
    noisy += (glitch[..., None] & joints)[..., None] * jump

    # missed frames repeat the last visible one (the first frame is always seen)
    visible = rng.random((b, f)) >= cfg.missing_prob
    visible[:, 0] = True
    last = np.maximum.accumulate(np.where(visible, np.arange(f)[None], 0), axis=1)  # (B, F)
    noisy = np.take_along_axis(noisy, last[:, :, None, None], axis=1)
    keypoints = torch.as_tensor(noisy, dtype=positions.dtype).to(positions.device)
    return Observation(keypoints, torch.as_tensor(visible).to(positions.device))
