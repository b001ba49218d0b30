"""The sequence IKNet as iknet_node runs it: one call for rotations and attention, traced on a CPU.

A TorchScript trace runs with about half the per-call Python overhead, which is most of a batch-1
forward on a CPU. torch.jit is deprecated: where tracing fails, the model runs as is.
"""
import warnings

import torch
import torch.nn as nn

from iknet_ros.hand import skeleton as sk


class WithAttention(nn.Module):
    """`model` as a function (keypoints, pad_mask) -> (local_rot, attention), for tracing."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, keypoints, pad_mask):
        """keypoints (B, T, 21, 3), pad_mask (B, T) -> (local_rot, attention (B, L, H, T, T)).

        A model without attention (the per-frame baseline) gives L = 0 layers.
        """
        out = self.model(keypoints, pad_mask, need_attention=True)
        if 'attention' not in out:
            B, T = pad_mask.shape
            return out['local_rot'], keypoints.new_zeros((B, 0, 1, T, T))
        return out['local_rot'], out['attention']


def traced(function, example_inputs: tuple, what: str):
    """`function` (a module or a tensor function) as a TorchScript trace for run time.

    The trace holds for inputs of the examples' shapes and dtypes only. It is warmed up here
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


def inference_forward(model: nn.Module):
    """An IKNet for run time: (keypoints, pad_mask) -> (local_rot, attention).

    On a CPU, `traced`: the same outputs to float precision for any batch and pad mask of the
    model's window (inputs must hold exactly `model.config.window` frames).
    """
    wrapped = WithAttention(model).eval()
    device = next(model.parameters()).device
    if device.type != 'cpu':  # a GPU forward is launch-bound, not Python-bound: run it as is
        return wrapped
    keypoints = torch.as_tensor(sk.REST_POSITIONS, dtype=torch.float32)
    keypoints = keypoints.expand(1, model.config.window, sk.NUM_JOINTS, 3)   # (1, T, 21, 3)
    pad_mask = torch.zeros(1, model.config.window, dtype=torch.bool)
    return traced(wrapped, (keypoints, pad_mask), 'IKNet')
