"""The two IKNets: the per-frame baseline (an MLP) and the sequence IKNet (a Transformer encoder).

Both share one convention, so every comparison between them is like for like:

* input: a window of T frames of 21 detected joint positions (metres, any camera frame), the
  newest frame last; frames before the window fills are padding, flagged by ``pad_mask``;
* `normalize_window` makes it wrist-centred, rotated into one canonical hand frame for the whole
  window (from the window's mean pose, so it does not jitter with a single frame) and scaled by
  the palm length;
* output: local rotations of all 21 joints for the newest frame, from corrections to the newest
  frame's positions and to their closed-form (swing) IK (`refine`); the wrist row is its rotation
  in the input's (camera) frame, the tips are the identity.

Style after nanoGPT's model.py: a dataclass config, one readable module, shape comments.
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


def normalize_window(keypoints: torch.Tensor, pad_mask: torch.Tensor):
    """Canonicalise a window of detections.

    keypoints: (B, T, 21, 3) metres; pad_mask: (B, T) bool, True where a frame is padding.
    Returns (x (B, T, 21, 3) normalised with padding zeroed, frame (B, 3, 3), scale (B,)).
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


OUTPUT_SIZE = sk.NUM_JOINTS * 3 + NUM_ARTICULATED * 6  # position corrections + 6D corrections


def refine(output: torch.Tensor, newest: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Turn the network's output into local rotations of the newest frame.

    output: (B, 21*3 + 16*6) a position correction per joint (normalised units) and a 6D rotation
    correction per articulated joint; newest: (B, 21, 3) the newest frame, normalised;
    frame: (B, 3, 3) the window's hand frame. Returns (B, 21, 3, 3) local rotations, the wrist
    row in the input's (camera) frame. The network denoises the newest frame's positions, the
    closed-form swing IK turns them into rotations, and the 6D term adds twist and plausibility;
    predicting corrections rather than rotations lets a small network reach millimetre precision.
    """
    B = output.shape[0]
    delta_position = output[:, :sk.NUM_JOINTS * 3].view(B, sk.NUM_JOINTS, 3)
    rot6d = output[:, sk.NUM_JOINTS * 3:].view(B, NUM_ARTICULATED, 6)
    local = kin.swing_ik(newest + delta_position)                        # (B, 21, 3, 3)
    correction = kin.rot6d_to_matrix(rot6d)                               # (B, 16, 3, 3)
    idx = _ARTICULATED.to(output.device)
    local = local.index_copy(1, idx, local[:, idx] @ correction)
    wrist = (frame @ local[:, _WRIST])[:, None]                           # (B, 1, 3, 3)
    return torch.cat([wrist, local[:, 1:]], dim=1)


def identity_head(d_in: int) -> nn.Linear:
    """Output layer that starts at 'no correction': zero weights, zero shift, identity 6D."""
    head = nn.Linear(d_in, OUTPUT_SIZE)
    nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.zero_()
        head.bias[sk.NUM_JOINTS * 3:] = torch.tensor([1.0, 0, 0, 0, 1.0, 0]).repeat(
            NUM_ARTICULATED)
    return head


@dataclass
class BaselineConfig:
    """Construction arguments of the per-frame IKNet."""

    hidden: int = 512
    layers: int = 4
    window: int = 1  # the baseline sees the newest frame only


class BaselineIKNet(nn.Module):
    """IKNet after Zhou et al. (CVPR 2020): an MLP from one frame's joints to joint rotations."""

    kind = 'baseline'

    def __init__(self, config: BaselineConfig):
        super().__init__()
        self.config = config
        self.body = frame_mlp(config.hidden, config.layers)
        self.head = identity_head(config.hidden)

    def forward(self, keypoints, pad_mask, need_attention=False):
        """keypoints (B, T, 21, 3), pad_mask (B, T) -> dict(local_rot (B, 21, 3, 3))."""
        x, frame, _ = normalize_window(keypoints[:, -1:], pad_mask[:, -1:])
        output = self.head(self.body(x.flatten(1)))                       # (B, 159)
        return {'local_rot': refine(output, x[:, -1], frame)}


@dataclass
class SequenceConfig:
    """Construction arguments of the sequence IKNet (one token per frame)."""

    window: int = 8  # chosen by the window-length ablation (README)
    frame_hidden: int = 256  # per-frame encoder width (an MLP like the baseline's body)
    frame_layers: int = 2
    d_model: int = 96
    heads: int = 4
    layers: int = 2
    mlp_ratio: int = 2
    dropout: float = 0.0


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


def frame_mlp(hidden: int, layers: int) -> nn.Sequential:
    """Per-frame encoder: 21 joints x 3 -> `hidden` features (Linear, LayerNorm, GELU)."""
    dims = [sk.NUM_JOINTS * 3] + [hidden] * layers
    blocks = []
    for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
        blocks += [nn.Linear(d_in, d_out), nn.LayerNorm(d_out), nn.GELU()]
    return nn.Sequential(*blocks)


class SequenceIKNet(nn.Module):
    """Transformer encoder over a window of frames; reads the newest frame's rotations out.

    Each frame is encoded by a small MLP (one token per frame); the Transformer mixes the tokens
    over time; the head reads the newest token together with the newest frame's own features, so
    the temporal path adds context to, and never has to relay, the current frame's detail.
    """

    kind = 'sequence'

    def __init__(self, config: SequenceConfig):
        super().__init__()
        self.config = config
        self.encoder = frame_mlp(config.frame_hidden, config.frame_layers)
        self.embed = nn.Linear(config.frame_hidden, config.d_model)
        self.position = nn.Parameter(torch.zeros(config.window, config.d_model))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = identity_head(config.d_model + config.frame_hidden)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, keypoints, pad_mask, need_attention=False):
        """keypoints (B, T, 21, 3), pad_mask (B, T) bool -> dict(local_rot, attention?).

        attention, on request: (B, layers, heads, T, T) from the same forward pass.
        """
        T = self.config.window
        keypoints, pad_mask = keypoints[:, -T:], pad_mask[:, -T:]
        if keypoints.shape[1] < T:  # a short window: pad at the front like an unfilled track
            missing = T - keypoints.shape[1]
            keypoints = F.pad(keypoints, (0, 0, 0, 0, missing, 0))
            pad_mask = F.pad(pad_mask, (missing, 0), value=True)
        x, frame, _ = normalize_window(keypoints, pad_mask)
        features = self.encoder(x.flatten(2))                             # (B, T, hidden)
        h = self.embed(features) + self.position                          # (B, T, C)
        attentions = []
        for block in self.blocks:
            h, attention = block(h, pad_mask)
            attentions.append(attention)
        newest = torch.cat([self.ln_f(h[:, -1]), features[:, -1]], dim=-1)  # (B, C + hidden)
        output = self.head(newest)                                        # (B, 159)
        out = {'local_rot': refine(output, x[:, -1], frame)}
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
