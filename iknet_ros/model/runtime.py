"""The sequence IKNet as iknet_node runs it: one call for rotations and attention, traced on a CPU.

A TorchScript trace runs with about half the per-call Python overhead, which is most of a batch-1
forward on a CPU. torch.jit is deprecated: where tracing fails, the model runs as is.
"""
import warnings

import torch
import torch.nn as nn

from iknet_ros.hand import skeleton as sk
from iknet_ros.model.networks import HandWindow


class WithAttention(nn.Module):
    """`model` as a function of a window's tensors -> (local_rot, shape, attention), to trace."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, keypoints, rays, pad_mask, guessed, bones):
        """`HandWindow.tensors()` -> (local_rot, shape, attention (B, L, H, T, T))."""
        out = self.model(HandWindow(keypoints, rays, pad_mask, guessed, bones),
                         need_attention=True)
        return out['local_rot'], out['shape'], out['attention']


def traced(function, example_inputs: tuple, what: str):
    """`function` (a module or a tensor function) as a TorchScript trace for run time.

    The trace holds for inputs of the examples' shapes and dtypes only. It is warmed up at once
    (TorchScript optimises on its first calls), not on a live frame. Where tracing fails,
    `function` is returned as is, with a warning naming `what`.
    """
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)  # shapes become constants
            warnings.simplefilter('ignore', DeprecationWarning)
            result = torch.jit.trace(function, example_inputs)
            if isinstance(function, nn.Module):
                result = torch.jit.optimize_for_inference(torch.jit.freeze(result))
            for _ in range(2):
                result(*example_inputs)
            return result
    except (AttributeError, RuntimeError) as error:
        warnings.warn(f'running the {what} untraced (slower): tracing failed: {error}',
                      stacklevel=2)
        return function


def example_window(window: int) -> HandWindow:
    """A window of `window` frames of the rest hand 0.5 m in front of the camera (batch 1)."""
    keypoints = torch.as_tensor(sk.REST_POSITIONS, dtype=torch.float32) + torch.tensor(
        [0.0, 0.0, 0.5])
    rays = keypoints[:, :2] / keypoints[:, 2:]
    bones = keypoints.new_tensor(sk.REST_OFFSETS).norm(dim=-1)
    return HandWindow(keypoints.expand(1, window, sk.NUM_JOINTS, 3),
                      rays.expand(1, window, sk.NUM_JOINTS, 2),
                      torch.zeros(1, window, dtype=torch.bool), torch.zeros(1, dtype=torch.bool),
                      bones[None])


def inference_forward(model: nn.Module):
    """The model for run time: `HandWindow.tensors()` -> (local_rot, shape, attention).

    On a CPU, `traced`: the same outputs to float precision for any batch and pad mask of the
    model's window (inputs must hold exactly `model.config.window` frames).
    """
    wrapped = WithAttention(model).eval()
    device = next(model.parameters()).device
    if device.type != 'cpu':  # a GPU forward is launch-bound, not Python-bound: run it as is
        return wrapped
    return traced(wrapped, example_window(model.config.window).tensors(), 'IKNet')
