"""The One Euro filter (Casiez et al., CHI 2012): the classical speed-adaptive low-pass filter.

It is the baseline smoother that the sequence IKNet has to beat: low cutoff when the hand is
still (removes jitter), higher cutoff when it moves fast (less lag).
"""
import math

import torch


class OneEuroFilter:
    """Causal One Euro filter over tensors or numpy arrays of any shape, one call per frame."""

    def __init__(self, frequency: float, min_cutoff: float = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0):
        self.frequency, self.min_cutoff, self.beta, self.d_cutoff = \
            frequency, min_cutoff, beta, d_cutoff
        self._x = None
        self._dx = None

    def _alpha(self, cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.frequency)

    def __call__(self, x: torch.Tensor, dt: float = None) -> torch.Tensor:
        """Filter the next frame `x`, `dt` seconds after the last (default 1 / frequency).

        Returns the smoothed frame (same shape). Passing the real `dt` keeps the cutoffs right
        when frames arrive late or are dropped.
        """
        if self._x is None:
            self._x, self._dx = x, x * 0
            return x
        if dt is not None and dt > 0:
            self.frequency = 1.0 / dt
        dx = (x - self._x) * self.frequency
        a_d = self._alpha(self.d_cutoff)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        tau = 1.0 / (2 * math.pi * cutoff)
        a = 1.0 / (1.0 + tau * self.frequency)
        self._x = a * x + (1 - a) * self._x
        return self._x
