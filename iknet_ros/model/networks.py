"""The two IKNets: the per-frame baseline (an MLP) and the sequence IKNet (a Transformer encoder).

Both share one convention, so every comparison between them is like for like:

* input (`HandWindow`): a window of T frames of MediaPipe's 21 keypoints in the camera frame
  (metres, right-hand convention: left hands mirrored), the rays of its 2D landmarks
  (normalised image coordinates), whether the intrinsics behind them are a guess, and the track's
  bone-length estimate; frames before a track's window fills are padding (``pad_mask``);
* `window_features` makes the 3D keypoints wrist-centred, rotated into one canonical hand frame
  for the whole window and scaled by the palm length, and gives the network what it needs to undo
  MediaPipe's camera-dependent errors: how that hand frame sits in the camera (depth errors are
  along the camera axis), where the 2D landmarks disagree with the 3D ones, the track's bones;
* output for the newest frame: local rotations of all 21 joints (the wrist row in the camera
  frame) and the network's own skeleton (``shape``: metric joint positions relative to the wrist
  in camera axes, on joint centres rather than MediaPipe's landmark convention), both from
  corrections to the newest frame's positions and to their closed-form (swing) IK (`refine`).

Style after nanoGPT's model.py: dataclass configs, one readable module, shape comments.
"""
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from iknet_ros.hand import kinematics as kin
from iknet_ros.hand import skeleton as sk
from iknet_ros.model import MODEL_KINDS

NUM_ARTICULATED = len(sk.ARTICULATED)  # 16 joints with a meaningful rotation
_ARTICULATED = torch.tensor(sk.ARTICULATED)
_WRIST, _MIDDLE_MCP = sk.JOINT_INDEX['wrist'], sk.JOINT_INDEX['middle_mcp']
_MIN_DEPTH = 0.05  # m: keypoints nearer the camera than this are not projected


@dataclass
class HandWindow:
    """A batch of windows of one hand's detections, newest frame last (the models' input)."""

    keypoints: torch.Tensor  # (B, T, 21, 3) m, camera frame, MediaPipe's landmarks as placed
    rays: torch.Tensor       # (B, T, 21, 2) normalised image coordinates of its 2D landmarks
    pad_mask: torch.Tensor   # (B, T) bool, True where a frame is padding
    guessed: torch.Tensor    # (B,) bool, True when the intrinsics behind rays are a guess
    bones: torch.Tensor      # (B, 21) m, the track's bone lengths (row 0 unused); 0 = none yet

    def tensors(self) -> tuple:
        """The fields in the models' positional order (for tracing)."""
        return self.keypoints, self.rays, self.pad_mask, self.guessed, self.bones

    def to(self, device):
        """The same window on `device`."""
        return HandWindow(*(t.to(device) for t in self.tensors()))


def normalize_window(keypoints: torch.Tensor, pad_mask: torch.Tensor):
    """Canonicalise a window of detections.

    keypoints: (B, T, 21, 3) metres; pad_mask: (B, T) bool, True where a frame is padding.
    Returns (x (B, T, 21, 3) normalised with padding zeroed, frame (B, 3, 3), scale (B,)): the
    hand frame comes from the window's mean pose so that it does not jitter with a single frame.
    """
    valid = (~pad_mask).to(keypoints.dtype)[..., None, None]             # (B, T, 1, 1)
    centred = (keypoints - keypoints[..., _WRIST:_WRIST + 1, :]) * valid  # (B, T, 21, 3)
    count = valid.sum(dim=1).clamp_min(1)                                 # (B, 1, 1)
    mean_pose = centred.sum(dim=1) / count                                # (B, 21, 3)
    frame = kin.wrist_frame(mean_pose)                                    # (B, 3, 3)
    palm = centred[..., _MIDDLE_MCP, :].norm(dim=-1)                      # (B, T)
    scale = (palm * valid[..., 0, 0]).sum(1) / count[:, 0, 0]             # (B,)
    scale = scale.clamp_min(1e-3)
    x = centred @ frame[:, None] / scale[:, None, None, None]             # (B, T, 21, 3)
    return x, frame, scale


FRAME_3D = sk.NUM_JOINTS * 3          # canonical 3D keypoints of a frame
FRAME_2D = sk.NUM_JOINTS * 2 + 2      # where the 2D landmarks disagree with the 3D, and the ray
CONTEXT = 6 + 1 + 1 + sk.NUM_JOINTS   # hand frame (6D), guessed, has bones, bones (palm units)


def window_features(window: HandWindow, use_rays: bool):
    """The network's inputs of a window.

    Returns (frames (B, T, FRAME_3D [+ FRAME_2D]), context (B, CONTEXT), x (B, T, 21, 3),
    frame (B, 3, 3), scale (B,)). A frame's 2D part is the gap between its 2D landmarks and the
    projection of its 3D keypoints (palm lengths at the hand's depth; MediaPipe places the 3D
    hand to close it, so what is left is shape disagreement) and the wrist's ray.
    """
    x, frame, scale = normalize_window(window.keypoints, window.pad_mask)
    valid = (~window.pad_mask).to(x.dtype)[..., None]                       # (B, T, 1)
    parts = [x.flatten(2)]
    if use_rays:
        depth = window.keypoints[..., 2:].clamp_min(_MIN_DEPTH)              # (B, T, 21, 1)
        projected = window.keypoints[..., :2] / depth                        # (B, T, 21, 2)
        gap = (window.rays - projected) * depth[..., :1, :] / scale[:, None, None, None]
        parts += [gap.flatten(2) * valid, window.rays[..., _WRIST, :] * valid]
    has_bones = (window.bones[:, 1:] > 0).all(-1, keepdim=True).to(x.dtype)  # (B, 1)
    bones = window.bones / scale[:, None] * has_bones                        # (B, 21)
    context = torch.cat([kin.matrix_to_rot6d(frame), window.guessed.to(x.dtype)[:, None],
                         has_bones, bones], dim=-1)                          # (B, CONTEXT)
    return torch.cat(parts, dim=-1), context, x, frame, scale


OUTPUT_SIZE = sk.NUM_JOINTS * 3 + NUM_ARTICULATED * 6  # position corrections + 6D corrections


def refine(output: torch.Tensor, newest: torch.Tensor, frame: torch.Tensor, scale: torch.Tensor):
    """Turn the network's output into the newest frame's rotations and skeleton.

    output: (B, 21*3 + 16*6) a position correction per joint (normalised units) and a 6D rotation
    correction per articulated joint; newest: (B, 21, 3) the newest frame, normalised; frame:
    (B, 3, 3) the window's hand frame; scale (B,) its palm length. Returns (local rotations
    (B, 21, 3, 3), the wrist row in the camera frame; shape (B, 21, 3) m, camera axes, wrist at
    0). The network corrects the newest frame's positions, the closed-form swing IK turns them
    into rotations, and the 6D term adds twist and plausibility: predicting corrections rather
    than rotations lets a small network reach millimetre precision.
    """
    B = output.shape[0]
    corrected = newest + output[:, :sk.NUM_JOINTS * 3].view(B, sk.NUM_JOINTS, 3)  # (B, 21, 3)
    rot6d = output[:, sk.NUM_JOINTS * 3:].view(B, NUM_ARTICULATED, 6)
    local = kin.swing_ik(corrected)                                       # (B, 21, 3, 3)
    correction = kin.rot6d_to_matrix(rot6d)                               # (B, 16, 3, 3)
    idx = _ARTICULATED.to(output.device)
    local = local.index_copy(1, idx, local[:, idx] @ correction)
    wrist = (frame @ local[:, _WRIST])[:, None]                           # (B, 1, 3, 3)
    shape = corrected @ frame.transpose(-1, -2) * scale[:, None, None]    # (B, 21, 3)
    return torch.cat([wrist, local[:, 1:]], dim=1), shape


def identity_head(d_in: int) -> nn.Linear:
    """Output layer that starts at 'no correction': zero weights, zero shift, identity 6D."""
    head = nn.Linear(d_in, OUTPUT_SIZE)
    nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.zero_()
        head.bias[sk.NUM_JOINTS * 3:] = torch.tensor([1.0, 0, 0, 0, 1.0, 0]).repeat(
            NUM_ARTICULATED)
    return head


def frame_mlp(d_in: int, hidden: int, layers: int) -> nn.Sequential:
    """Per-frame encoder: `d_in` features -> `hidden` (Linear, LayerNorm, GELU)."""
    dims = [d_in] + [hidden] * layers
    blocks = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        blocks += [nn.Linear(a, b), nn.LayerNorm(b), nn.GELU()]
    return nn.Sequential(*blocks)


def frame_size(use_rays: bool) -> int:
    """Features per frame with or without the 2D landmarks."""
    return FRAME_3D + (FRAME_2D if use_rays else 0)


@dataclass
class BaselineConfig:
    """Construction arguments of the per-frame IKNet."""

    hidden: int = 512
    layers: int = 4
    window: int = 1  # the baseline sees the newest frame only
    use_rays: bool = True  # see the 2D landmarks (the 2D ablation turns it off)


class BaselineIKNet(nn.Module):
    """IKNet after Zhou et al. (CVPR 2020): an MLP from one frame's joints to joint rotations."""

    kind = 'baseline'

    def __init__(self, config: BaselineConfig):
        super().__init__()
        self.config = config
        self.body = frame_mlp(frame_size(config.use_rays) + CONTEXT, config.hidden, config.layers)
        self.head = identity_head(config.hidden)

    def forward(self, window: HandWindow, need_attention=False):
        """HandWindow -> dict(local_rot (B, 21, 3, 3), shape (B, 21, 3), attention?).

        Its attention, for a like-for-like interface, is all on the newest frame: (B, 1, 1, 1, 1).
        """
        newest = HandWindow(window.keypoints[:, -1:], window.rays[:, -1:],
                            window.pad_mask[:, -1:], window.guessed, window.bones)
        frames, context, x, frame, scale = window_features(newest, self.config.use_rays)
        output = self.head(self.body(torch.cat([frames[:, -1], context], dim=-1)))  # (B, 159)
        local_rot, shape = refine(output, x[:, -1], frame, scale)
        out = {'local_rot': local_rot, 'shape': shape}
        if need_attention:
            out['attention'] = torch.ones(x.shape[0], 1, 1, 1, 1, dtype=x.dtype, device=x.device)
        return out


@dataclass
class SequenceConfig:
    """Construction arguments of the sequence IKNet (one token per frame)."""

    window: int = 4  # chosen by the window-length ablation on the real evaluation (README)
    frame_hidden: int = 256  # per-frame encoder width (an MLP like the baseline's body)
    frame_layers: int = 2
    d_model: int = 96
    heads: int = 4
    layers: int = 2
    mlp_ratio: int = 2
    dropout: float = 0.0
    use_rays: bool = True  # see the 2D landmarks (the 2D ablation turns it off)


class SelfAttention(nn.Module):
    """Multi-head self-attention over the frames that also hands back its weights."""

    def __init__(self, config: SequenceConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x, pad_mask):
        """x (B, T, C), pad_mask (B, T) -> (y (B, T, C), attention (B, H, T, T))."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.heads)  # (B, H, T, T)
        scores = scores.masked_fill(pad_mask[:, None, None, :], float('-inf'))
        attention = scores.softmax(dim=-1)
        y = (attention @ v).transpose(1, 2).reshape(B, T, C)              # (B, T, C)
        return self.proj(y), attention


class Block(nn.Module):
    """Pre-norm Transformer encoder block."""

    def __init__(self, config: SequenceConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(nn.Linear(config.d_model, config.mlp_ratio * config.d_model),
                                 nn.GELU(),
                                 nn.Linear(config.mlp_ratio * config.d_model, config.d_model),
                                 nn.Dropout(config.dropout))

    def forward(self, x, pad_mask):
        """x (B, T, C) -> (x (B, T, C), attention (B, H, T, T))."""
        y, attention = self.attn(self.ln_1(x), pad_mask)
        x = x + y
        x = x + self.mlp(self.ln_2(x))
        return x, attention


def pad_front(window: HandWindow, length: int) -> HandWindow:
    """The last `length` frames of a window, padded at the front like an unfilled track."""
    keypoints, rays, pad_mask = (t[:, -length:] for t in (window.keypoints, window.rays,
                                                          window.pad_mask))
    missing = length - keypoints.shape[1]
    if missing > 0:
        keypoints = F.pad(keypoints, (0, 0, 0, 0, missing, 0))
        rays = F.pad(rays, (0, 0, 0, 0, missing, 0))
        pad_mask = F.pad(pad_mask, (missing, 0), value=True)
    return HandWindow(keypoints, rays, pad_mask, window.guessed, window.bones)


class SequenceIKNet(nn.Module):
    """Transformer encoder over a window of frames; reads the newest frame's rotations out.

    Each frame is encoded by a small MLP (one token per frame) and the window's context (its hand
    frame in the camera, the track's bones) is added to every token; the Transformer mixes the
    tokens over time; the head reads the newest token together with the newest frame's own
    features, so the temporal path adds context to, and never has to relay, the current frame.
    """

    kind = 'sequence'

    def __init__(self, config: SequenceConfig):
        super().__init__()
        self.config = config
        self.encoder = frame_mlp(frame_size(config.use_rays), config.frame_hidden,
                                 config.frame_layers)
        self.embed = nn.Linear(config.frame_hidden, config.d_model)
        self.embed_context = nn.Linear(CONTEXT, config.d_model)
        self.position = nn.Parameter(torch.zeros(config.window, config.d_model))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = identity_head(config.d_model + config.frame_hidden + CONTEXT)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, window: HandWindow, need_attention=False):
        """HandWindow -> dict(local_rot (B, 21, 3, 3), shape (B, 21, 3), attention?).

        attention, on request: (B, layers, heads, T, T) from the same forward pass.
        """
        window = pad_front(window, self.config.window)
        frames, context, x, frame, scale = window_features(window, self.config.use_rays)
        features = self.encoder(frames)                                    # (B, T, hidden)
        h = self.embed(features) + self.embed_context(context)[:, None] + self.position
        attentions = []
        for block in self.blocks:
            h, attention = block(h, window.pad_mask)                        # (B, T, C)
            attentions.append(attention)
        newest = torch.cat([self.ln_f(h[:, -1]), features[:, -1], context], dim=-1)
        local_rot, shape = refine(self.head(newest), x[:, -1], frame, scale)
        out = {'local_rot': local_rot, 'shape': shape}
        if need_attention:
            out['attention'] = torch.stack(attentions, dim=1)             # (B, L, H, T, T)
        return out


MODELS = {'baseline': (BaselineIKNet, BaselineConfig), 'sequence': (SequenceIKNet, SequenceConfig)}
assert tuple(MODELS) == MODEL_KINDS


def build_model(kind: str, **kwargs) -> nn.Module:
    """Construct a model by kind ('baseline' or 'sequence') from its construction arguments."""
    if kind not in MODELS:
        raise ValueError(f'unknown model kind {kind!r}; expected one of {sorted(MODELS)}')
    model_class, config_class = MODELS[kind]
    return model_class(config_class(**kwargs))


def model_arguments(model: nn.Module) -> dict:
    """The construction arguments of `model`, to save beside its weights."""
    return asdict(model.config)
