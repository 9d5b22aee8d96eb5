"""Action binning, the action tokenizer of RT-2 and OpenVLA.

RT-2 (Brohan et al. 2023, section 3.2) and OpenVLA (Kim et al. 2024, section 3.2) turn each dimension
of a continuous action into one of 256 tokens:

    action (T, D) --clip to [q01, q99] per dim--> --256 uniform bins--> bin ids (T, D) --row by row--> T*D tokens
    tokens --bin ids--> bin centres (T, D)

OpenVLA takes the bounds from the 1st and 99th percentiles of the training actions (RT-2 used the
range of the data), so that a few outliers do not stretch the bins; values beyond them are clipped.
Decoding returns each bin's centre, so the round trip is off by at most half a bin width.

Token ids are bin indices 0..255 here; a model that mixes them with text shifts them past its text
vocabulary (``vlacourse.policies.vlm_prefix.grow_vocabulary``). RT-2 reused the number tokens of its language
model and OpenVLA overwrote the 256 least-used tokens of Llama's vocabulary: both had a fixed vocabulary, ours grows.
"""

from __future__ import annotations

import numpy as np

NUM_BINS = 256


class BinningTokenizer:
    """Per-dimension uniform bins between the 1st and 99th percentile of the training actions."""

    def __init__(self, low: np.ndarray, high: np.ndarray, num_bins: int = NUM_BINS):
        low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        if low.ndim != 1 or low.shape != high.shape or not np.all(high >= low):
            raise ValueError(
                f"low and high must be 1-D arrays of the same length with high >= low, got {low} and {high}"
            )
        # A dimension that never varies (the gripper in a reach-only dataset) gets a range too small to
        # matter, so that every bin decodes to its one value.
        high = np.maximum(high, low + 1e-6)
        self.low, self.high, self.num_bins = low, high, num_bins

    @classmethod
    def fit(cls, actions: np.ndarray, num_bins: int = NUM_BINS, quantile: float = 0.01) -> BinningTokenizer:
        """Bounds from the ``quantile`` and ``1 - quantile`` percentiles of ``actions`` (N, D)."""
        actions = np.asarray(actions, np.float64)
        if actions.ndim != 2 or not np.all(np.isfinite(actions)):
            raise ValueError(f"fit needs a finite (N, D) array of actions, got shape {actions.shape}")
        low, high = np.quantile(actions, quantile, axis=0), np.quantile(actions, 1 - quantile, axis=0)
        return cls(low, high, num_bins)

    @property
    def action_dim(self) -> int:
        return len(self.low)

    @property
    def bin_width(self) -> np.ndarray:
        return (self.high - self.low) / self.num_bins

    def encode(self, actions: np.ndarray) -> np.ndarray:
        """Bin ids, same shape as ``actions`` (..., D): clipped to the bounds, then bin = floor((a - low) / width)."""
        actions = self._check(actions)
        clipped = np.clip(actions, self.low, self.high)
        bins = np.floor((clipped - self.low) / self.bin_width).astype(np.int64)
        return np.minimum(bins, self.num_bins - 1)  # the upper bound itself falls in the last bin

    def decode(self, bins: np.ndarray) -> np.ndarray:
        """Bin centres (..., D) for bin ids (..., D); an id outside 0..num_bins-1 is an error."""
        bins = np.asarray(bins)
        if bins.shape[-1:] != (self.action_dim,) or not np.issubdtype(bins.dtype, np.integer):
            raise ValueError(
                f"decode takes integer bin ids of shape (..., {self.action_dim}), got {bins.dtype} "
                f"{bins.shape}: reshape a flat token sequence to (-1, {self.action_dim}) first"
            )
        if bins.size and (bins.min() < 0 or bins.max() >= self.num_bins):
            raise ValueError(
                f"bin ids must lie in 0..{self.num_bins - 1}, got {bins.min()}..{bins.max()}: "
                "the model produced a token that is not an action bin (constrain decoding to bins)"
            )
        return (self.low + (bins + 0.5) * self.bin_width).astype(np.float32)

    def _check(self, actions: np.ndarray) -> np.ndarray:
        actions = np.asarray(actions, np.float64)
        if actions.shape[-1:] != (self.action_dim,):
            raise ValueError(f"actions must have shape (..., {self.action_dim}), got {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError("actions contain NaN or infinity: there is no bin for them; check the data or the policy")
        return actions
