"""Per-hand tracks: a temporal window per hand side, sequence-IKNet inference, a steady skeleton.

The ROS node is a thin shell over `HandTracker.update`. Everything here runs without rclpy.

* One track per hand side. A track resets when its hand was missing longer than `reset_after`
  seconds, when stamps go backwards (a bag that loops) or when the wrist jumps farther than a
  hand moves in a frame (`MAX_WRIST_JUMP`: the keypoints changed coordinates).
* Left hands are mirrored into the right-hand skeleton for the model and mirrored back after.
* The published skeleton keeps the track's bone lengths constant (their mean over the track's
  first `bone_window` frames, then held) while MediaPipe's wobble by 2-6 mm (std) from frame to
  frame; the wrist position is smoothed by a One Euro filter.
* The IKNet's pose is anatomical: on real detections it bends fingers less sideways than
  MediaPipe does, up to 12 mm at the thumb tip. The slow part of that difference (below
  `detail_hz`) is added back so the skeleton follows the detected hand; a final One Euro
  filter (`smoothing_hz`) takes out the jitter that comes back with it. The bones are then aimed
  at the result (lengths held, twist from the IKNet), so rotations and skeleton stay consistent.
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
from iknet_ros.model.networks import model_arguments
from iknet_ros.model.runtime import inference_forward, traced
from iknet_ros.tracking.one_euro import OneEuroFilter

_PALM_CHILDREN = [j for j in range(1, sk.NUM_JOINTS) if sk.PARENTS[j] == sk.ROOT]
_REST_DIRECTIONS = sk.REST_OFFSETS / np.maximum(
    np.linalg.norm(sk.REST_OFFSETS, axis=-1, keepdims=True), 1e-9)
# m between two frames: farther is not the same hand moving (10 m/s at 30 fps) but a change of
# coordinates (hand-centred -> camera frame when camera_info arrives) or another hand
MAX_WRIST_JUMP = 0.3


@dataclass
class HandEstimate:
    """The tracker's answer for one hand in one frame (see the topic contract)."""

    side: str               # 'left' | 'right'
    quat_xyzw: np.ndarray   # (21, 4) local rotations (x, y, z, w); row 0 relative to the camera
    offsets: np.ndarray     # (21, 3) m, each joint's translation in its parent's frame; row 0 =
                            # the wrist position in the camera frame
    positions: np.ndarray   # (21, 3) m, camera frame: forward kinematics of the above
    attention: np.ndarray   # (layers, T) newest frame's attention over the window, head-averaged;
                            # (0, T) for a model without attention (the baseline)
    window_fill: int        # frames in the window so far (<= T)
    raw_quat_xyzw: np.ndarray = None  # (21, 4) the IKNet's own rotations, before the filters
    raw_positions: np.ndarray = None  # (21, 3) m, camera frame: FK of those on the track's
                                      # skeleton from the detected wrist (no filter at all)


@dataclass
class TrackerOutput:
    """What changed in one update."""

    estimates: list = field(default_factory=list)  # HandEstimate per hand seen in this frame
    lost: list = field(default_factory=list)       # sides dropped: missing longer than reset_after
    resets: dict = field(default_factory=dict)     # side -> why its track restarted this frame


class _Track:
    """The history of one hand side, kept in the right-hand (mirrored if left) convention."""

    def __init__(self, window: int, bone_window: int, stamp: float, detail_hz: float,
                 smoothing_hz: float):
        self.frames = deque(maxlen=window)            # (21, 3) keypoints
        self.bone_lengths = deque(maxlen=bone_window)  # (21,) observed bone lengths
        self.palm = deque(maxlen=bone_window)          # (21, 3) wrist-frame palm vectors
        self.shape = None                              # (21, 3) offsets, held once estimated
        self.wrist = OneEuroFilter(30.0, min_cutoff=1.0, beta=20.0)
        self.detail = OneEuroFilter(30.0, min_cutoff=detail_hz)     # detections - IKNet pose
        self.smooth = OneEuroFilter(30.0, min_cutoff=smoothing_hz)  # wrist-relative joints
        self.last_stamp = stamp
        self.dt = None                                 # s since the track's previous frame


def _aimed_skeleton(local_rot: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor):
    """(21, 3, 3) pose, (21, 3) target joints, (21,) bone lengths -> (rotations, joints).

    Each joint on its bone of the held length, aimed at the target; the pose's bones turned onto
    them (keeping the pose's twist), so FK of the rotations gives those joints.
    """
    fitted = kin.hold_bone_lengths(target, lengths)
    return kin.aim_bones(local_rot, fitted), fitted


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
    """Turns detected keypoints, frame after frame, into joint rotations and a skeleton.

    The IKNet is `model` (a built baseline or sequence IKNet) when given, else the checkpoint
    folder `checkpoint` of either kind (None: the shipped sequence IKNet).
    """

    def __init__(self, checkpoint=None, device: str = 'auto', reset_after: float = 0.5,
                 bone_window: int = 30, detail_hz: float = 3.0, smoothing_hz: float = 6.0,
                 model: torch.nn.Module = None):
        device = choose_device(device)
        if reset_after <= 0 or bone_window < 1:
            raise ValueError('reset_after must be > 0 s and bone_window >= 1 frame')
        if detail_hz <= 0 or smoothing_hz <= 0:
            raise ValueError('detail_hz and smoothing_hz must be > 0 Hz')
        self.device = device
        if model is not None:
            self.model = model.to(device).eval()
            self.config = {'kind': model.kind, 'arguments': model_arguments(model),
                           'checkpoint': None}
        else:
            self.model, self.config = load_checkpoint(checkpoint, 'sequence', device)
        self.window = self.model.config.window
        self._forward = inference_forward(self.model)  # traced on a CPU: half the overhead
        # the skeleton fit runs on the CPU in float64 whatever the model's device: traced too
        rot = torch.eye(3, dtype=torch.float64).expand(sk.NUM_JOINTS, 3, 3)  # (21, 3, 3)
        offsets = torch.from_numpy(sk.REST_OFFSETS)                         # (21, 3)
        lengths = offsets.norm(dim=-1)                                      # (21,)
        self._pose = traced(kin.forward_kinematics, (rot, offsets), 'forward kinematics')
        self._aim = traced(_aimed_skeleton, (rot, offsets, lengths), 'skeleton fit')
        self.reset_after = reset_after
        self.bone_window = bone_window
        self.filters_hz = (detail_hz, smoothing_hz)
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
        best = best_per_side(hands)
        if not best:
            return out
        tracks = []
        for side, hand in best.items():
            xyz = np.asarray(hand.xyz, dtype=np.float64) @ _mirror(side).T
            track = self.tracks.get(side)
            jump = np.linalg.norm(xyz[sk.ROOT] - track.frames[-1][sk.ROOT]) if track else 0.0
            if jump > MAX_WRIST_JUMP:
                out.resets[side] = (f'wrist jumped {jump:.2f} m in one frame (keypoints now in '
                                    'another frame, e.g. once camera_info arrived?)')
                track = None
            if track is None:
                track = self.tracks[side] = _Track(self.window, self.bone_window, stamp,
                                                   *self.filters_hz)
                out.resets.setdefault(side, 'new track')
            track.frames.append(xyz)
            track.dt, track.last_stamp = stamp - track.last_stamp, stamp
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
        local_rot, attention = self._forward(torch.from_numpy(windows).to(self.device),
                                             torch.from_numpy(pad_mask).to(self.device))
        local_rot = local_rot.double().cpu().numpy()                          # (N, 21, 3, 3)
        attention = attention[:, :, :, -1].mean(2).float().cpu().numpy()     # (N, L, T)
        estimates = []
        for i, (side, track, xyz) in enumerate(tracks):
            rot, offsets, positions, pose = self._follow_detections(track, local_rot[i], xyz)
            root = track.wrist(xyz[sk.ROOT], track.dt)
            m = _mirror(side)
            rot = m @ rot @ m                                               # back to this side
            quat = Rotation.from_matrix(rot).as_quat(canonical=True)          # (21, 4) xyzw
            raw_quat = Rotation.from_matrix(m @ local_rot[i] @ m).as_quat(canonical=True)
            offsets = offsets @ m.T
            offsets[sk.ROOT] = root @ m.T
            estimates.append(HandEstimate(
                side=side, quat_xyzw=quat, offsets=offsets, positions=(positions + root) @ m.T,
                attention=attention[i], window_fill=len(track.frames), raw_quat_xyzw=raw_quat,
                raw_positions=(pose + xyz[sk.ROOT]) @ m.T))
        return estimates

    def _follow_detections(self, track: _Track, local_rot: np.ndarray, xyz: np.ndarray):
        """The IKNet pose on the track's skeleton, brought onto the detections' slow detail.

        local_rot: (21, 3, 3) the IKNet's rotations; xyz: (21, 3) this frame's detections.
        Returns local rotations (21, 3, 3), offsets (21, 3) and wrist-relative positions
        (21, 3): bones of the track's held lengths aimed at the smoothed target, so FK of the
        rotations and offsets gives those positions; and the IKNet's own pose on the track's
        skeleton (21, 3), wrist-relative, before the filters.
        """
        shape = self._shape(track, local_rot[sk.ROOT], xyz)
        local_rot_t = torch.from_numpy(local_rot)
        pose = self._pose(local_rot_t, torch.from_numpy(shape))[1].numpy()   # (21, 3), wrist 0
        detected = xyz - xyz[sk.ROOT]
        target = track.smooth(pose + track.detail(detected - pose, track.dt), track.dt)
        rot, fitted = self._aim(local_rot_t, torch.from_numpy(target),
                                torch.from_numpy(np.linalg.norm(shape, axis=-1)))
        rot, fitted = rot.numpy(), fitted.numpy()
        offsets = shape.copy()  # finger bones along the rest directions; the palm as fitted
        offsets[_PALM_CHILDREN] = fitted[_PALM_CHILDREN] @ rot[sk.ROOT]
        return rot, offsets, fitted, pose

    @staticmethod
    def _shape(track: _Track, wrist_rot: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """(21, 3) offsets: mean bone lengths and mean palm layout (wrist frame).

        Estimated over the track's first `bone_window` frames, then held until the track
        restarts: MediaPipe's bone lengths change with the pose, and a hand does not change size.
        The mean, not the median: on the real video it is 0.5 mm closer to the detections over
        the whole run (MediaPipe's length errors are skewed, not outliers).
        """
        if track.shape is not None:
            return track.shape
        track.bone_lengths.append(np.linalg.norm(xyz - xyz[sk.PARENT_INDEX], axis=-1))
        track.palm.append((xyz - xyz[sk.ROOT]) @ wrist_rot)
        lengths = np.mean(np.stack(track.bone_lengths), axis=0)                 # (21,)
        palm = np.mean(np.stack(track.palm), axis=0)                            # (21, 3)
        offsets = _REST_DIRECTIONS * lengths[:, None]
        offsets[_PALM_CHILDREN] = palm[_PALM_CHILDREN] / np.linalg.norm(
            palm[_PALM_CHILDREN], axis=-1, keepdims=True) * lengths[_PALM_CHILDREN, None]
        offsets[sk.ROOT] = 0.0
        if len(track.palm) == track.palm.maxlen:
            track.shape = offsets
        return offsets.copy()
