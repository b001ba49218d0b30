"""Per-hand tracks: a temporal window per hand side, the IKNet, and the skeleton it publishes.

The ROS node is a thin shell over `HandTracker.update`; everything here runs without rclpy.

* One track per hand side. A track restarts when its hand was missing longer than `reset_after`
  seconds, when stamps go backwards (a bag that loops), when the wrist jumps farther than a hand
  moves in a frame (`MAX_WRIST_JUMP`: the keypoints changed coordinates) or when the model's
  answer is not finite. Keypoints that no hand could have are refused before they enter a track.
* Left hands are mirrored into the right-hand skeleton for the model and mirrored back after.
* The published skeleton is the model's: its rotations on the track's bones, placed in the
  camera where its joints fall on MediaPipe's 2D landmarks. The track's bones (`BoneEstimate`)
  are a running mean of the model's own metric skeleton (joint centres, not MediaPipe's
  landmarks), which becomes an exponential average of the last seconds: never frozen, and
  outlying frames count less. The model sees that estimate.
"""
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.hand.keypoints import HandKeypoints, best_per_side
from iknet_ros.model.checkpoint import load_checkpoint
from iknet_ros.model.device import choose_device
from iknet_ros.model.networks import HandWindow, model_arguments
from iknet_ros.model.runtime import inference_forward, traced

# m between two frames: farther is not the same hand moving (10 m/s at 30 fps) but a change of
# coordinates (hand-centred -> camera frame when camera_info arrives) or another hand
MAX_WRIST_JUMP = 0.3
PALM_LENGTH_RANGE = (0.02, 0.3)  # m, wrist -> middle MCP of any hand MediaPipe reports
MAX_HAND_EXTENT = 0.6            # m, the largest distance between two joints of one hand
MIN_DEPTH = 0.01                 # m, keypoints nearer the camera cannot be a hand in view
_MIDDLE_MCP = sk.JOINT_INDEX['middle_mcp']


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
    raw_positions: np.ndarray = None  # (21, 3) m, camera frame: the model's own skeleton of
                                      # this frame (its bones, not the track's), placed the same


@dataclass
class TrackerOutput:
    """What changed in one update."""

    estimates: list = field(default_factory=list)  # HandEstimate per hand seen in this frame
    lost: list = field(default_factory=list)       # sides dropped: missing longer than reset_after
    resets: dict = field(default_factory=dict)     # side -> why its track restarted this frame


class BoneEstimate:
    """A track's bone lengths and palm layout, from the model's skeleton of every frame so far.

    The mean of all frames until `time_constant` seconds' worth, then an exponential average of
    about that long: MediaPipe's hand-size error drifts slowly, so a long average beats any one
    frame, and a hand does not change size. A frame whose bones are far from the estimate (more
    than `outlier` in log ratio) counts proportionally less.
    """

    def __init__(self, time_constant: float = 10.0, outlier: float = 0.15):
        self.time_constant, self.outlier = time_constant, outlier
        self.lengths = None  # (21,) m
        self.palm = None     # (21, 3) joints relative to the wrist in the wrist's frame
        self.frames = 0

    def update(self, lengths: np.ndarray, palm: np.ndarray, dt: float):
        """Add one frame's (21,) bone lengths and (21, 3) palm layout, `dt` s after the last."""
        self.frames += 1
        if self.lengths is None:
            self.lengths, self.palm = lengths.copy(), palm.copy()
            return
        weight = max(1.0 / self.frames, min(1.0, max(dt, 0.0) / self.time_constant))
        log_ratio = np.log(np.maximum(lengths[1:], 1e-6) / self.lengths[1:])       # (20,)
        trust = np.minimum(1.0, self.outlier / np.maximum(np.abs(log_ratio), 1e-9))
        self.lengths[1:] *= np.exp(weight * trust * log_ratio)
        self.palm += weight * (palm - self.palm)

    def input(self) -> np.ndarray:
        """(21,) what the model sees: the bone lengths, or zeros before the first frame."""
        return np.zeros(sk.NUM_JOINTS) if self.lengths is None else self.lengths


class _Track:
    """The history of one hand side, kept in the right-hand (mirrored if left) convention."""

    def __init__(self, window: int, stamp: float, bone_time_constant: float):
        self.keypoints = deque(maxlen=window)  # (21, 3) m
        self.rays = deque(maxlen=window)       # (21, 2) normalised image coordinates
        self.guessed = True
        self.bones = BoneEstimate(bone_time_constant)
        self.last_stamp = stamp
        self.dt = 0.0                           # s since the track's previous frame


def check_hand(hand: HandKeypoints):
    """Raise ValueError with a clear message when a hand's keypoints cannot be a hand in view.

    Only finite input within the bounds of a real hand reaches a track: coordinates of any size
    would otherwise reach the model and the numerical solvers behind it.
    """
    xyz, rays = np.asarray(hand.xyz), np.asarray(hand.rays)
    if xyz.shape != (sk.NUM_JOINTS, 3) or rays.shape != (sk.NUM_JOINTS, 2):
        raise ValueError(f'{hand.side} hand has keypoints of shape {xyz.shape} and rays of '
                         f'shape {rays.shape}, expected ({sk.NUM_JOINTS}, 3) and '
                         f'({sk.NUM_JOINTS}, 2)')
    if not (np.isfinite(xyz).all() and np.isfinite(rays).all()):
        raise ValueError(f'{hand.side} hand has non-finite keypoints')
    palm = float(np.linalg.norm(xyz[_MIDDLE_MCP] - xyz[sk.ROOT]))
    if not PALM_LENGTH_RANGE[0] <= palm <= PALM_LENGTH_RANGE[1]:
        raise ValueError(f'{hand.side} hand has a palm (wrist to middle MCP) of {palm:.3f} m, '
                         f'outside {PALM_LENGTH_RANGE} m: its points are degenerate')
    extent = float(np.ptp(xyz, axis=0).max())
    if extent > MAX_HAND_EXTENT:
        raise ValueError(f'{hand.side} hand spans {extent:.2f} m, more than a hand can')
    if xyz[:, 2].min() < MIN_DEPTH:
        raise ValueError(f'{hand.side} hand is not in front of the camera (a joint at depth '
                         f'{xyz[:, 2].min():.3f} m; keypoints must be in the camera frame)')


def _publish(local_rot: torch.Tensor, lengths: torch.Tensor, palm: torch.Tensor,
             rays: torch.Tensor):
    """(21, 3, 3) rotations, (21,) bones, (21, 3) palm, (21, 2) rays -> (offsets, positions).

    The published skeleton: the rotations on the track's bones (wrist at the origin), then moved
    to where its joints lie on the rays of MediaPipe's 2D landmarks.
    """
    offsets = kin.skeleton_offsets(lengths, palm)                          # (21, 3)
    positions = kin.forward_kinematics(local_rot, offsets)[1]              # (21, 3), wrist 0
    root = kin.place_on_rays(positions, rays)                              # (3,)
    return offsets, positions + root


class HandTracker:
    """Turns detected keypoints, frame after frame, into joint rotations and a skeleton.

    `model` (a loaded IKNet of either kind) replaces the checkpoint: the real-data evaluation
    runs the baseline and the closed-form IK (an untrained model: zero correction) through this
    same code.
    """

    def __init__(self, checkpoint=None, device: str = 'auto', reset_after: float = 0.5,
                 bone_time_constant: float = 10.0, model=None):
        device = choose_device(device)
        if not reset_after > 0 or not bone_time_constant > 0:
            raise ValueError('reset_after and bone_time_constant must be > 0 s')
        self.device = device
        if model is None:
            model, self.config = load_checkpoint(checkpoint, 'sequence', device)
        else:
            model = model.to(device).eval()
            self.config = {'kind': model.kind, 'arguments': model_arguments(model),
                           'checkpoint': None}
        self.model = model
        self.window = max(model.config.window, 1)
        self._forward = inference_forward(model)  # traced on a CPU: half the overhead
        # the skeleton runs on the CPU in float64 whatever the model's device: traced too
        rot = torch.eye(3, dtype=torch.float64).expand(sk.NUM_JOINTS, 3, 3)  # (21, 3, 3)
        lengths = torch.from_numpy(np.linalg.norm(sk.REST_OFFSETS, axis=-1))  # (21,)
        palm = torch.from_numpy(sk.REST_POSITIONS)                             # (21, 3)
        rays = palm[:, :2] / (palm[:, 2:] + 0.5)                               # (21, 2)
        self._publish = traced(_publish, (rot, lengths, palm, rays), 'skeleton')
        self.reset_after = reset_after
        self.bone_time_constant = bone_time_constant
        self.tracks = {}

    def reset(self):
        """Forget every track (the next frames come from another input)."""
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
        tracks = []
        for side, hand in best_per_side(hands).items():
            m = sk.mirror(side)
            xyz = np.asarray(hand.xyz, dtype=np.float64) @ m.T
            rays = np.asarray(hand.rays, dtype=np.float64) * [m[0, 0], 1.0]  # x mirrored too
            track = self.tracks.get(side)
            jump = np.linalg.norm(xyz[sk.ROOT] - track.keypoints[-1][sk.ROOT]) if track else 0.0
            if jump > MAX_WRIST_JUMP:
                out.resets[side] = (f'wrist jumped {jump:.2f} m in one frame (keypoints now in '
                                    'another frame, e.g. once camera_info arrived?)')
                track = None
            if track is None:
                track = self.tracks[side] = _Track(self.window, stamp, self.bone_time_constant)
                out.resets.setdefault(side, 'new track')
            track.keypoints.append(xyz)
            track.rays.append(rays)
            track.guessed = hand.guessed
            track.dt, track.last_stamp = stamp - track.last_stamp, stamp
            tracks.append((side, track))
        if tracks:
            out.estimates = self._estimate(tracks, out.resets)
        return out

    def _window(self, tracks) -> HandWindow:
        T = self.window
        keypoints = np.zeros((len(tracks), T, sk.NUM_JOINTS, 3), dtype=np.float32)
        rays = np.zeros((len(tracks), T, sk.NUM_JOINTS, 2), dtype=np.float32)
        pad_mask = np.ones((len(tracks), T), dtype=bool)
        for i, (_, track) in enumerate(tracks):
            n = len(track.keypoints)
            keypoints[i, T - n:] = np.stack(track.keypoints)
            rays[i, T - n:] = np.stack(track.rays)
            pad_mask[i, T - n:] = False
        guessed = np.array([track.guessed for _, track in tracks])
        bones = np.stack([track.bones.input() for _, track in tracks]).astype(np.float32)
        return HandWindow(*(torch.from_numpy(a).to(self.device)
                            for a in (keypoints, rays, pad_mask, guessed, bones)))

    @torch.inference_mode()
    def _estimate(self, tracks, resets: dict) -> list:
        local_rot, shape, attention = self._forward(*self._window(tracks).tensors())
        local_rot = local_rot.double().cpu().numpy()                          # (N, 21, 3, 3)
        shape = shape.double().cpu().numpy()                                  # (N, 21, 3)
        attention = attention[:, :, :, -1].mean(2).float().cpu().numpy()     # (N, L, T)
        estimates = []
        for i, (side, track) in enumerate(tracks):
            if not (np.isfinite(local_rot[i]).all() and np.isfinite(shape[i]).all()):
                del self.tracks[side]
                resets[side] = 'the model gave a non-finite answer: track restarted'
                continue
            track.bones.update(np.linalg.norm(shape[i] - shape[i][sk.PARENT_INDEX], axis=-1),
                               shape[i] @ local_rot[i, sk.ROOT], track.dt)
            rays = torch.from_numpy(track.rays[-1])
            offsets, positions = (t.numpy() for t in self._publish(
                torch.from_numpy(local_rot[i]), torch.from_numpy(track.bones.lengths),
                torch.from_numpy(track.bones.palm), rays))
            raw = shape[i] + kin.place_on_rays(torch.from_numpy(shape[i]), rays).numpy()
            if not (np.isfinite(positions).all() and positions[:, 2].min() > 0.0):
                positions += track.keypoints[-1][sk.ROOT] - positions[sk.ROOT]  # MediaPipe's
            m = sk.mirror(side)
            rot = m @ local_rot[i] @ m                                      # back to this side
            offsets = offsets @ m.T
            offsets[sk.ROOT] = positions[sk.ROOT] @ m.T
            estimates.append(HandEstimate(
                side=side, quat_xyzw=Rotation.from_matrix(rot).as_quat(canonical=True),
                offsets=offsets, positions=positions @ m.T, attention=attention[i],
                window_fill=len(track.keypoints), raw_positions=raw @ m.T))
        return estimates
