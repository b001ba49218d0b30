"""MediaPipe Hands' errors in front of a camera: true hands -> what keypoint_node publishes.

Against real 3D ground truth MediaPipe's error is mostly systematic and structured, not jitter:
its landmarks follow their own convention (MCPs towards the fingertips), its 3D world hand is
turned out of the image plane, flattened in depth and mis-sized, and its camera-frame keypoints
come from the detector's translation-only placement of that world hand onto its own 2D landmarks,
so the depth error emerges from the shape error as it does in reality. The model and its fit are
the ones of the measurement in ``synth.calibration`` (REPORT section 4 of the error study); the
fitted values are in ``mediapipe_errors.json``. Work happens in right-hand geometry (a left hand is
the mirror image, camera x flipped) and in palm lengths L (wrist - middle MCP).

Per sequence and frame (B, F), vectorised:
 1. 3D convention: G3 = G + L R o3 (R: the true palm frame, x distal, y radial, z dorsal).
 2. World hand W = s C(Q (G3 - mean G3)) + eps: Q a rotation drawn in the viewing-ray basis (mostly
    out of the image plane, larger when the back of the hand faces the camera), C compresses the
    camera-z relief, s a log-normal scale, eps per-joint noise by chain depth, correlated with the
    parent joint's, with outlier episodes.
 3. 2D landmarks: uv = m + kappa (p - m) + Lpx (c + gamma eps_lateral / L + n), p the projection of
    the 2D convention G + L R o2, m its centroid, c a common shift, n per-joint noise.
 4. xyz = the detector's placement of W onto uv with the intrinsics it has, shifted along the ray.
 5. Time: every random part is AR(1) with its measured coefficient plus a white share; misses
    and wrong handedness come in short episodes.
"""
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.signal
import scipy.special
import torch
from scipy.spatial.transform import Rotation

from iknet_ros.hand import skeleton as sk
from iknet_ros.synth.camera import in_image, place_in_camera, project
from iknet_ros.synth.observation import ar1_noise

PARAMETER_FILE = Path(__file__).with_name('mediapipe_errors.json')
# level -> factor on every random magnitude and rate ('clean': the truth itself)
LEVELS = {'clean': 0.0, 'realistic': 1.0, 'high': 1.5}
CHAIN_DEPTH = np.asarray(sk.CHAIN_DEPTH)
PALM_JOINTS = (0, 1, 5, 9, 13, 17)   # wrist, thumb CMC and the MCPs


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def load_parameters(path=None) -> dict:
    """The fitted parameters (default: the shipped ``mediapipe_errors.json``)."""
    return _load(str(path or PARAMETER_FILE))


# --- geometry (numpy, right-hand geometry) -----------------------------------------------------

def unit(v) -> np.ndarray:
    """(..., 3) vectors -> the same, unit length."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def palm_frame(points) -> np.ndarray:
    """(..., 21, 3) -> (..., 3, 3) palm frame, columns x distal, y radial, z dorsal.

    x wrist -> middle MCP, y pinky -> index MCP (orthogonalised), z = x cross y (dorsal for
    right-hand geometry): the frame the errors were measured in. Unlike
    ``kinematics.wrist_frame`` it keeps no correction to the reference hand's rest pose, so it
    means the same for every hand.
    """
    x = unit(points[..., 9, :] - points[..., 0, :])
    y = points[..., 5, :] - points[..., 17, :]
    y = unit(y - (y * x).sum(-1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def palm_length(points) -> np.ndarray:
    """(..., 21, 3) -> (...) wrist to middle MCP distance."""
    return np.linalg.norm(points[..., 9, :] - points[..., 0, :], axis=-1)


def ray_basis(centre) -> np.ndarray:
    """(..., 3) a point -> (..., 3, 3) columns e1 ~ camera x, e2 ~ camera y, e3 the ray to it."""
    e3 = unit(centre)
    e1 = unit(np.cross(np.array([0.0, 1.0, 0.0]), e3))
    return np.stack([e1, np.cross(e3, e1), e3], axis=-1)


def bone_directions(points) -> np.ndarray:
    """(..., 21, 3) -> (..., 21, 3) unit parent -> joint directions (the wrist row is NaN)."""
    with np.errstate(invalid='ignore'):
        return unit(points - points[..., sk.PARENT_INDEX, :])


def mirror_x(points, left) -> np.ndarray:
    """(B, ..., 3) points with the x sign flipped where the (B,) `left` is set."""
    sign = np.where(np.asarray(left), -1.0, 1.0).reshape((-1,) + (1,) * (points.ndim - 1))
    out = np.array(points, dtype=np.float64)
    out[..., 0] *= sign[..., 0]
    return out


# --- random processes along frames (axis 1) ----------------------------------------------------

def smooth_noise(rng, shape, phi: float) -> np.ndarray:
    """Unit-variance noise along frames (axis 1) that drifts smoothly: a double-pole AR(2).

    Two AR(1) filters in a row: unlike one AR(1) its frame-to-frame change shrinks with
    (1 - phi), not sqrt(1 - phi), so slow errors do not add jitter. Starts stationary.
    """
    a = [1.0, -2.0 * phi, phi * phi]
    gain = np.sqrt((1.0 - phi * phi) ** 3 / (1.0 + phi * phi))
    rho1 = 2.0 * phi / (1.0 + phi * phi)
    first = list(shape)
    first[1] = 1
    y1 = rng.standard_normal(first, dtype=np.float32)                 # y[-1], y[-2] stationary
    y2 = rho1 * y1 + np.sqrt(1.0 - rho1 * rho1) * rng.standard_normal(first, dtype=np.float32)
    state = np.concatenate([-a[1] * y1 - a[2] * y2, -a[2] * y1], axis=1)
    white = rng.standard_normal(shape, dtype=np.float32)
    return scipy.signal.lfilter(np.float32([gain]), np.float32(a), white, axis=1, zi=state)[0]


def smooth_autocorrelation(phi: float, lag) -> np.ndarray:
    """Autocorrelation of `smooth_noise` at `lag` frames."""
    lag = np.asarray(lag, dtype=np.float64)
    return phi ** lag * (1.0 + lag * (1.0 - phi * phi) / (1.0 + phi * phi))


def correlated_noise(rng, shape, phi: float, white_share: float = 0.0) -> np.ndarray:
    """Unit-variance noise along frames: smooth drift (`smooth_noise`) plus a white share.

    The white share is the frame-to-frame jitter, the smooth part the slowly varying error.
    """
    noise = smooth_noise(rng, shape, phi) if phi > 0.0 else \
        rng.standard_normal(shape, dtype=np.float32)
    if 0.0 < white_share < 1.0:
        noise = np.sqrt(1.0 - white_share) * noise + np.sqrt(white_share) * \
            rng.standard_normal(shape, dtype=np.float32)
    return noise


def episodes(rng, shape, rate, phi: float) -> np.ndarray:
    """Bool (B, F, ...) on for a share `rate` (broadcasts with shape) of the frames, in runs.

    A unit AR(1) process above its (1 - rate) quantile: the closer `phi` is to 1, the longer
    the runs (about 2 frames at phi 0.9 and rate 1 %, 6 at 0.985 and 2.4 %).
    """
    rate = np.asarray(rate, dtype=np.float64)
    return ar1_noise(rng, shape, phi) > scipy.special.ndtri(1.0 - np.clip(rate, 1e-12, 1.0))


def mixture_noise(rng, shape, mixture: dict, depth_index, factor: float, phi: float,
                  white_share: float, outlier_phi: float) -> np.ndarray:
    """(B, F, J, A) core-Gaussian + outlier-episode noise, parameters by chain depth and axis.

    mixture: {'median', 'sd_core', 'p_out', 'sd_out'}, each (5, A); depth_index (J,).
    """
    median, core, p_out, sd_out = (np.asarray(mixture[k])[depth_index]
                                   for k in ('median', 'sd_core', 'p_out', 'sd_out'))
    outlier = episodes(rng, shape, np.minimum(factor * p_out, 0.5), outlier_phi)
    sd = factor * np.where(outlier, sd_out, core)
    return median + sd * correlated_noise(rng, shape, phi, white_share)


def chain_correlated(fresh, directions, rho_along: float, rho_across: float) -> np.ndarray:
    """(..., 21, 3) independent joint noise -> each joint's correlated with its parent's.

    Along the bone with `rho_along`, across it with `rho_across` (MediaPipe regresses every
    joint, so errors do not add up down a finger, but neighbours err together). One depth of
    the five fingers at a time.
    """
    eps = fresh.copy()
    for depth in range(1, 5):
        joints = slice(depth, sk.NUM_JOINTS, 4)
        parent = eps[..., :1, :] if depth == 1 else eps[..., slice(depth - 1, None, 4), :]
        u, own = directions[..., joints, :], fresh[..., joints, :]
        along_parent = (parent * u).sum(-1, keepdims=True)
        along_own = (own * u).sum(-1, keepdims=True)
        eps[..., joints, :] = (
            (rho_along * along_parent + np.sqrt(1 - rho_along ** 2) * along_own) * u
            + rho_across * (parent - along_parent * u)
            + np.sqrt(1 - rho_across ** 2) * (own - along_own * u))
    return eps


# --- the model ---------------------------------------------------------------------------------

def simulate_detections(positions, left, k, detector_k, image_size, rng, factor: float = 1.0,
                        params: dict = None, failures: bool = True) -> dict:
    """MediaPipe's detections of true hands (numpy arrays throughout).

    positions (B, F, 21, 3) true joints in right-hand geometry (a left hand mirrored);
    left (B,) bool; k, detector_k (B, 3, 3) the true intrinsics and those the detector places
    with; image_size (B, 2) (width, height); factor scales every random part (1 = realistic);
    failures: misses and wrong sides.
    Returns, in the true camera frame: world (B, F, 21, 3) MediaPipe's hand-centred world
    landmarks, uv (B, F, 21, 2) px, xyz (B, F, 21, 3) placed, visible (B, F), wrong_side (B, F),
    placed (B, F) (the placement succeeded), in_image (B, F, 21) (of the true projection).
    """
    params = params or load_parameters()
    const = params['constants']
    time = params['temporal']
    g = np.asarray(positions, dtype=np.float64)
    left = np.asarray(left, dtype=bool)
    k = np.asarray(k, dtype=np.float64)[:, None]                      # (B, 1, 3, 3)
    b, f = g.shape[:2]
    truth = mirror_x(g, left)                                         # true camera frame
    truth_uv = project(truth, k[:, :, None])                          # (B, F, 21, 2)
    joints_in_image = in_image(truth_uv, np.asarray(image_size)[:, None, None])

    frame = palm_frame(g)                                             # (B, F, 3, 3)
    palm = palm_length(g)[..., None, None]                            # (B, F, 1, 1)
    axes_t = np.swapaxes(frame, -1, -2)                               # rows: palm axes
    g3 = g + palm * (np.asarray(params['o3_palm']) @ axes_t)         # + L R o3
    centroid = g.mean(-2)                                             # (B, F, 3)
    # back of the hand to the camera (0 palm or edge on, 1 fully back): larger global errors
    back = np.clip((frame[..., 2] * unit(centroid)).sum(-1) * -1.0, 0.0, 1.0)[..., None]

    # global rotation in the viewing-ray basis, mostly about axes across the ray
    rot = params['rotation_deg']
    sd = np.asarray(rot['sd']) * np.ones((b, f, 3))
    back_sd = const['back_of_hand']['rotation_perp_sd_deg']
    sd[..., :2] += back * np.maximum(back_sd - sd[..., :2], 0.0)
    z = correlated_noise(rng, (b, f, 3), time['rotation']['phi'], time['rotation']['white_share'])
    w_ray = np.radians(np.asarray(rot['mean']) + factor * sd * z)
    w = (ray_basis(centroid) @ w_ray[..., None])[..., 0]
    q = Rotation.from_rotvec(w.reshape(-1, 3)).as_matrix().reshape(b, f, 3, 3)
    shape = (g3 - g3.mean(-2, keepdims=True)) @ np.swapaxes(q, -1, -2)
    shape[..., 2] *= params['relief_lambda']
    scale = params['log_scale']
    scale_sd = scale['sd'] + back[..., 0] * max(const['back_of_hand']['log_scale_sd']
                                                - scale['sd'], 0.0)
    log_s = scale['mean'] - scale['noise_inflation'] + factor * scale_sd * correlated_noise(
        rng, (b, f), time['log_scale']['phi'], time['log_scale']['white_share'])
    world = np.exp(log_s)[..., None, None] * shape

    # per-joint (articulation) noise in camera axes, correlated along each finger
    art = time['articulation']
    fresh = mixture_noise(rng, (b, f, sk.NUM_JOINTS, 3), params['articulation_m'], CHAIN_DEPTH,
                          factor, art['phi'], art['white_share'], time['outlier_phi'])
    eps = chain_correlated(fresh, bone_directions(g3), params['rho_along_bone'],
                           params['rho_across_bone'])
    world += eps

    # 2D landmarks: their own convention, shrink, a common shift, coupling to the 3D noise
    two = params['image_2d']
    p = project(g + palm * (np.asarray(params['o2_palm']) @ axes_t), k[:, :, None])
    centre = p.mean(-2, keepdims=True)
    palm_px = palm[..., 0] * k[..., 0, 0, None] / g[..., :1, 2]      # (B, F, 1)
    lateral = (eps[..., :2] - eps[..., :2].mean(-2, keepdims=True)) / palm
    t2 = time['image_2d']
    n = mixture_noise(rng, (b, f, sk.NUM_JOINTS, 2), two, CHAIN_DEPTH, factor, t2['phi'],
                      t2['white_share'], time['outlier_phi'])
    n -= n.mean(-2, keepdims=True)
    shift = factor * np.asarray(two['shift_sd']) * correlated_noise(rng, (b, f, 1, 2), t2['phi'],
                                                                    t2['white_share'])
    uv = centre + np.asarray(params['kappa_2d']) * (p - centre) + palm_px[..., None] * (
        shift + np.asarray(two['gamma']) * lateral + n)

    # to the true camera frame, then the detector's own placement with the intrinsics it has
    world = mirror_x(world, left)
    cx = k[..., 0, 2][..., None]                                      # (B, 1, 1)
    uv[..., 0] = np.where(left[:, None, None], 2.0 * cx - uv[..., 0], uv[..., 0])
    xyz, placed = place_in_camera(world, uv, np.asarray(detector_k, dtype=np.float64)[:, None])
    with np.errstate(invalid='ignore'):
        xyz += params['depth_bias_m'] * unit(xyz.mean(-2, keepdims=True))
    xyz = np.where(placed[..., None, None], xyz,
                   world - world.mean(-2, keepdims=True) + truth.mean(-2, keepdims=True))

    # no detection: a miss, a failed placement, or most of the palm outside the image
    palm_seen = joints_in_image[..., PALM_JOINTS].sum(-1) >= const['min_palm_joints_in_image']
    visible, wrong = placed & palm_seen, np.zeros((b, f), dtype=bool)
    if failures:
        visible &= ~episodes(rng, (b, f), factor * const['misses']['rate'],
                             const['misses']['phi'])
        wrong = visible & episodes(rng, (b, f), factor * const['wrong_side']['rate'],
                                   const['wrong_side']['phi'])
    return dict(world=world, uv=uv, xyz=xyz, visible=visible, wrong_side=wrong, placed=placed,
                in_image=joints_in_image)


@dataclass
class MediaPipeObservation:
    """What keypoint_node would publish for each frame of a batch of sequences."""

    xyz: torch.Tensor          # (B, F, 21, 3) float32 m, camera frame, MediaPipe's landmarks
    uv: torch.Tensor           # (B, F, 21, 2) float32 px
    visible: torch.Tensor      # (B, F) bool: a hand was detected (else xyz, uv repeat the last)
    wrong_side: torch.Tensor   # (B, F) bool: detected, labelled as the other hand
    in_image: torch.Tensor     # (B, F, 21) bool: the joint's true projection is in the image
    K: torch.Tensor            # (B, 3, 3) float64, the intrinsics the detector placed with
    true_K: torch.Tensor       # (B, 3, 3) float64, the camera's true intrinsics
    image_size: torch.Tensor   # (B, 2) int64, (width, height) px
    guessed: torch.Tensor      # (B,) bool: K is video_source's pinhole guess
    left: torch.Tensor         # (B,) bool: a left hand

    def right_hand_xyz(self) -> torch.Tensor:
        """(B, F, 21, 3) xyz with left hands mirrored, as the tracker hands them to the model."""
        sign = torch.where(self.left, -1.0, 1.0).to(self.xyz.dtype)[:, None, None]
        return torch.cat([self.xyz[..., :1] * sign[..., None], self.xyz[..., 1:]], dim=-1)


def _repeat_last_visible(values, visible) -> np.ndarray:
    """(B, F, ...) values, each frame not visible replaced by the last visible one (or frame 0)."""
    f = visible.shape[1]
    last = np.maximum.accumulate(np.where(visible, np.arange(f)[None], 0), axis=1)   # (B, F)
    rows, frames = np.nonzero(~visible)
    values[rows, frames] = values[rows, last[rows, frames]]          # `last` frames are visible
    return values


def observe_mediapipe(motion, level: str = 'realistic', seed=0,
                      params: dict = None) -> MediaPipeObservation:
    """MediaPipe-like detections of a `generate_motion` batch at a level of `LEVELS`.

    'clean' is the truth (xyz the true joints, uv their projections, every frame visible);
    'realistic' the fitted model; 'high' every random part 1.5 times as large. `seed` is an int
    or a Generator.
    """
    if level not in LEVELS:
        raise ValueError(f'unknown noise level {level!r}; valid levels: {", ".join(LEVELS)}')
    camera, left = motion.camera, motion.left.numpy()
    k = camera.K.numpy()
    if LEVELS[level] == 0.0:
        xyz = motion.camera_positions().double().numpy()
        uv = project(xyz, k[:, None, None])
        visible = np.ones(xyz.shape[:2], dtype=bool)
        wrong = np.zeros_like(visible)
        joints_in_image = in_image(uv, camera.image_size.numpy()[:, None, None])
    else:
        seen = simulate_detections(motion.positions.numpy(), left, k, camera.detector_K.numpy(),
                                   camera.image_size.numpy(), np.random.default_rng(seed),
                                   LEVELS[level], params)
        xyz = _repeat_last_visible(seen['xyz'], seen['visible'])
        uv = _repeat_last_visible(seen['uv'], seen['visible'])
        visible, wrong, joints_in_image = seen['visible'], seen['wrong_side'], seen['in_image']
    return MediaPipeObservation(
        torch.as_tensor(xyz, dtype=torch.float32), torch.as_tensor(uv, dtype=torch.float32),
        torch.as_tensor(visible), torch.as_tensor(wrong), torch.as_tensor(joints_in_image),
        camera.detector_K, camera.K, camera.image_size, camera.guessed, motion.left)
