"""Per-hand tracks: a temporal window per hand side, sequence-IKNet inference, a steady skeleton.

The ROS node is a thin shell over `HandTracker.update`. Everything here runs without rclpy.

* One track per hand side. A track resets when its hand was missing longer than `reset_after`
  seconds or when stamps go backwards (a bag that loops).
* Left hands are mirrored into the right-hand skeleton for the model and mirrored back after.
* The published skeleton uses a robust estimate of the hand's shape (median over the track's first
  `bone_window` frames of bone lengths and of the palm layout, then held), so bones stay constant
  while the detections wobble; the wrist position is smoothed by a One Euro filter.
"""
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from iknet_ros.detect.types import HandKeypoints
from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.model.checkpoint import load_checkpoint
from iknet_ros.model.one_euro import OneEuroFilter

_PALM_CHILDREN = [j for j in range(1, sk.NUM_JOINTS) if sk.PARENTS[j] == sk.ROOT]
_REST_DIRECTIONS = sk.REST_OFFSETS / np.maximum(
    np.linalg.norm(sk.REST_OFFSETS, axis=-1, keepdims=True), 1e-9)
_PARENTS = np.array([max(p, 0) for p in sk.PARENTS])


@dataclass
class HandEstimate:
    """The tracker's answer for one hand in one frame (see the topic contract)."""

    side: str               # 'left' | 'right'
    quat_xyzw: np.ndarray   # (21, 4) local rotations (x, y, z, w); row 0 relative to the camera
    offsets: np.ndarray     # (21, 3) m, each joint's translation in its parent's frame; row 0 =
                            # the wrist position in the camera frame
    positions: np.ndarray   # (21, 3) m, camera frame: forward kinematics of the above
    attention: np.ndarray   # (layers, T) newest frame's attention over the window, head-averaged
    window_fill: int        # frames in the window so far (<= T)


@dataclass
class TrackerOutput:
    """What changed in one update."""

    estimates: list = field(default_factory=list)  # HandEstimate per hand seen in this frame
    lost: list = field(default_factory=list)       # sides dropped: missing longer than reset_after
    resets: dict = field(default_factory=dict)     # side -> why its track restarted this frame


class _Track:
    """The history of one hand side, kept in the right-hand (mirrored if left) convention."""

    def __init__(self, window: int, bone_window: int, stamp: float):
        self.frames = deque(maxlen=window)            # (21, 3) keypoints
        self.bone_lengths = deque(maxlen=bone_window)  # (21,) observed bone lengths
        self.palm = deque(maxlen=bone_window)          # (21, 3) wrist-frame palm vectors
        self.shape = None                              # (21, 3) offsets, held once estimated
        self.wrist = OneEuroFilter(30.0, min_cutoff=1.0, beta=20.0)
        self.last_stamp = stamp


def _mirror(side: str) -> np.ndarray:
    return sk.MIRROR if side == 'left' else np.eye(3)


def check_hand(hand: HandKeypoints):
    """Raise ValueError with a clear message when a hand's keypoints cannot be used."""
    xyz = np.asarray(hand.xyz)
    if xyz.shape != (sk.NUM_JOINTS, 3):
        raise ValueError(f'{hand.side} hand has keypoints of shape {xyz.shape}, '
                         f'expected ({sk.NUM_JOINTS}, 3)')
    if not np.isfinite(xyz).all():
        raise ValueError(f'{hand.side} hand has non-finite keypoints '
                         f'(joints {np.flatnonzero(~np.isfinite(xyz).all(1)).tolist()})')


class HandTracker:
    """Turns detected keypoints, frame after frame, into joint rotations and a skeleton."""

    def __init__(self, checkpoint=None, device: str = 'auto', reset_after: float = 0.5,
                 bone_window: int = 30):
        if device == 'auto':
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise ValueError("device 'cuda' requested but torch sees no CUDA device")
        if reset_after <= 0 or bone_window < 1:
            raise ValueError('reset_after must be > 0 s and bone_window >= 1 frame')
        self.device = device
        self.model, self.config = load_checkpoint(checkpoint, 'sequence', device)
        self.window = self.model.config.window
        self.reset_after = reset_after
        self.bone_window = bone_window
        self.tracks = {}

    def update(self, stamp: float, hands: list) -> TrackerOutput:
        """Add one frame's detections (time `stamp`, seconds) and estimate every hand in it."""
        for hand in hands:
            check_hand(hand)
        out = TrackerOutput()
        for side, track in list(self.tracks.items()):
            if stamp - track.last_stamp > self.reset_after:
                del self.tracks[side]
                out.lost.append(side)
            elif stamp < track.last_stamp:
                del self.tracks[side]
                out.resets[side] = (f'stamp went backwards by {track.last_stamp - stamp:.3f} s '
                                    '(bag loop?)')
        best = {}
        for hand in hands:  # one hand per side: keep the most confident
            if hand.side not in best or hand.score > best[hand.side].score:
                best[hand.side] = hand
        if not best:
            return out
        tracks = []
        for side, hand in best.items():
            track = self.tracks.get(side)
            if track is None:
                track = self.tracks[side] = _Track(self.window, self.bone_window, stamp)
                out.resets.setdefault(side, 'new track')
            xyz = np.asarray(hand.xyz, dtype=np.float64) @ _mirror(side).T
            track.frames.append(xyz)
            track.bone_lengths.append(np.linalg.norm(xyz - xyz[_PARENTS], axis=-1))
            track.last_stamp = stamp
            tracks.append((side, track, xyz))
        out.estimates = self._estimate(tracks)
        return out

    @torch.inference_mode()
    def _estimate(self, tracks) -> list:
        T = self.window
        windows = np.zeros((len(tracks), T, sk.NUM_JOINTS, 3), dtype=np.float32)
        pad_mask = np.ones((len(tracks), T), dtype=bool)
        for i, (_, track, _) in enumerate(tracks):
            n = len(track.frames)
            windows[i, T - n:] = np.stack(track.frames)
            pad_mask[i, T - n:] = False
        out = self.model(torch.from_numpy(windows).to(self.device),
                         torch.from_numpy(pad_mask).to(self.device), need_attention=True)
        local_rot = out['local_rot'].double().cpu().numpy()                   # (N, 21, 3, 3)
        attention = out['attention'][:, :, :, -1].mean(2).float().cpu().numpy()  # (N, L, T)
        estimates = []
        for i, (side, track, xyz) in enumerate(tracks):
            offsets = self._shape(track, local_rot[i, sk.ROOT], xyz)
            root = track.wrist(torch.from_numpy(xyz[sk.ROOT])).numpy()
            _, positions = kin.forward_kinematics(torch.from_numpy(local_rot[i]),
                                                  torch.from_numpy(offsets),
                                                  torch.from_numpy(root))
            m = _mirror(side)
            rot = m @ local_rot[i] @ m                                      # back to this side
            quat = kin.matrix_to_quat_xyzw(torch.from_numpy(rot)).numpy()
            offsets = offsets @ m.T
            offsets[sk.ROOT] = root @ m.T
            estimates.append(HandEstimate(
                side=side, quat_xyzw=quat.astype(np.float64), offsets=offsets,
                positions=positions.numpy() @ m.T, attention=attention[i],
                window_fill=len(track.frames)))
        return estimates

    @staticmethod
    def _shape(track: _Track, wrist_rot: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """(21, 3) robust offsets: median bone lengths and median palm layout (wrist frame).

        Estimated over the track's first `bone_window` frames, then held until the track
        restarts: MediaPipe's bone lengths drift with the pose, and a hand does not change size.
        """
        if track.shape is not None:
            return track.shape
        track.palm.append((xyz - xyz[sk.ROOT]) @ wrist_rot)
        lengths = np.median(np.stack(track.bone_lengths), axis=0)               # (21,)
        offsets = _REST_DIRECTIONS * lengths[:, None]
        offsets[_PALM_CHILDREN] = np.median(np.stack(track.palm), axis=0)[_PALM_CHILDREN]
        offsets[sk.ROOT] = 0.0
        if len(track.palm) == track.palm.maxlen:
            track.shape = offsets
        return offsets.copy()
