"""FAST: action chunks compressed like JPEG images, then byte-pair encoded (Pertsch et al. 2025, section V).

Binning (``vlacourse.policies.binning``) spends one token per dimension per time step, and at 50 Hz neighbouring
tokens nearly repeat, so a model learns little from each. FAST compresses the chunk first:

    chunk (H, D) --quantile-normalise each dim to [-1, 1]--> --DCT-II along time, per dim (orthonormal)-->
    coefficients (H, D), smooth motion puts nearly all energy in the first few --x scale, round-->
    integers (H, D), mostly 0 --flatten frequency-major: every dim's lowest frequency first-->
    H * D integers --BPE, trained on the demonstrations' chunks--> far fewer tokens

    decoding runs it backwards: tokens -> integers -> (H, D) -> / scale -> inverse DCT -> un-normalise

The rounding is the only loss: each coefficient is off by at most 1 / (2 * scale), and the orthonormal
inverse DCT keeps that error's energy, so the normalised chunk is off by at most sqrt(H) / (2 * scale)
per dimension (in the root-sum-square over time). The frequency-major order puts the long zero runs of
the high frequencies last, where BPE merges them into a few tokens.

Where ours differs from the released tokenizer (physical-intelligence/fast): our BPE is the course's own
(``vlacourse.lm.tokenizer``'s merge rules over integer ids instead of Hugging Face's over characters); the
integers outside the range seen in training are clipped to it, where theirs extend the alphabet.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.fft import dct, idct

from vlacourse.lm.tokenizer import apply_merges, learn_merges

DEFAULT_SCALE = 10.0  # the paper's default: coarser rounding gives fewer tokens and larger errors
DEFAULT_VOCAB_SIZE = 1024  # the paper's BPE vocabulary (2048 in pi0-FAST's release; ours has less data)


def flatten_frequency_major(coefficients: np.ndarray) -> np.ndarray:
    """(..., H, D) -> (..., H * D): frequency 0 of every dimension, then frequency 1, ... (row-major)."""
    return coefficients.reshape(*coefficients.shape[:-2], -1)


def unflatten_frequency_major(flat: np.ndarray, action_dim: int) -> np.ndarray:
    """(..., H * D) -> (..., H, D), the inverse of ``flatten_frequency_major``."""
    return flat.reshape(*flat.shape[:-1], -1, action_dim)


class FASTTokenizer:
    """Fit on demonstration chunks; ``encode`` a chunk (H, D) into tokens, ``decode`` tokens into a chunk."""

    def __init__(
        self,
        low: np.ndarray,
        high: np.ndarray,
        chunk_size: int,
        scale: float,
        min_value: int,
        max_value: int,
        merges: list[tuple[int, int]],
    ):
        self.low, self.high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        self.chunk_size, self.scale = int(chunk_size), float(scale)
        self.min_value, self.max_value = int(min_value), int(max_value)  # the integer alphabet seen in fit
        self.merges = [tuple(pair) for pair in merges]  # merges[i] made id base_size + i
        self.ranks = {pair: self.base_size + i for i, pair in enumerate(self.merges)}
        self.vocab = {i: (i,) for i in range(self.base_size)}  # id -> the base ids it stands for
        for pair, new_id in self.ranks.items():
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]

    @property
    def action_dim(self) -> int:
        return len(self.low)

    @property
    def base_size(self) -> int:
        """One base id per integer from ``min_value`` to ``max_value``."""
        return self.max_value - self.min_value + 1

    @property
    def vocab_size(self) -> int:
        return self.base_size + len(self.merges)

    # The lossy half: normalise, DCT, scale and round.
    def normalize(self, chunks: np.ndarray) -> np.ndarray:
        """Quantile normalisation: the 1st percentile to -1, the 99th to +1, clipped (section V-B)."""
        span = np.maximum(self.high - self.low, 1e-8)
        return np.clip(2 * (chunks - self.low) / span - 1, -1, 1)

    def unnormalize(self, normalized: np.ndarray) -> np.ndarray:
        return (normalized + 1) / 2 * (self.high - self.low) + self.low

    def scaled_coefficients(self, chunks: np.ndarray) -> np.ndarray:
        """(..., H, D) chunks -> (..., H, D) DCT coefficients along time, times the scale, before rounding."""
        chunks = self._check(chunks)
        return dct(self.normalize(chunks), type=2, norm="ortho", axis=-2) * self.scale

    def coefficients(self, chunks: np.ndarray) -> np.ndarray:
        """(..., H, D) chunks -> (..., H, D) rounded, scaled DCT coefficients, as integers."""
        return np.rint(self.scaled_coefficients(chunks)).astype(np.int64)

    def chunk_from_coefficients(self, coefficients: np.ndarray) -> np.ndarray:
        """The inverse: (..., H, D) integers -> (..., H, D) actions."""
        normalized = idct(np.asarray(coefficients, np.float64) / self.scale, type=2, norm="ortho", axis=-2)
        return self.unnormalize(normalized).astype(np.float32)

    # The lossless half: BPE over the flattened integers.
    def encode(self, chunk: np.ndarray) -> list[int]:
        """One chunk (H, D) -> FAST tokens."""
        chunk = self._check(chunk)
        if chunk.ndim != 2:
            raise ValueError(
                f"encode takes one chunk of shape ({self.chunk_size}, {self.action_dim}), got "
                f"{chunk.shape}: loop over a batch"
            )
        return self.encode_integers(self.coefficients(chunk))

    def encode_integers(self, integers: np.ndarray) -> list[int]:
        """(H, D) rounded coefficients -> tokens: flattened, clipped to the fitted alphabet, then merged
        lowest rank first, as ``vlacourse.lm.tokenizer`` merges bytes."""
        flat = np.clip(flatten_frequency_major(integers), self.min_value, self.max_value) - self.min_value
        return list(apply_merges(tuple(int(i) for i in flat), self.ranks))

    def decode(self, tokens) -> np.ndarray:
        """FAST tokens -> a chunk (H, D). A sequence that is not a whole chunk (a model's mistake) decodes to
        zeros with a warning, as the released tokenizer does: a robot should stop, not crash."""
        tokens = [int(t) for t in tokens]
        bad = [t for t in tokens if not 0 <= t < self.vocab_size]
        base = [b for t in tokens if t not in bad for b in self.vocab[t]]
        expected = self.chunk_size * self.action_dim
        if bad or len(base) != expected:
            warnings.warn(
                f"these {len(tokens)} tokens do not decode to one chunk ({len(base)} of {expected} "
                f"coefficients{', unknown ids ' + str(bad[:5]) if bad else ''}): returning zero actions",
                stacklevel=2,
            )
            return np.zeros((self.chunk_size, self.action_dim), np.float32)
        integers = np.array(base) + self.min_value
        return self.chunk_from_coefficients(unflatten_frequency_major(integers, self.action_dim))

    @classmethod
    def fit(
        cls,
        chunks: np.ndarray,
        vocab_size: int = DEFAULT_VOCAB_SIZE,
        scale: float = DEFAULT_SCALE,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
    ) -> FASTTokenizer:
        """Bounds (the 1st and 99th percentiles of the actions, unless given), the integer alphabet, and
        ``vocab_size - alphabet`` BPE merges, from ``chunks`` (N, H, D) of the demonstrations."""
        chunks = np.asarray(chunks, np.float64)
        if chunks.ndim != 3 or not np.all(np.isfinite(chunks)):
            raise ValueError(f"fit needs a finite (N, H, D) array of action chunks, got shape {chunks.shape}")
        actions = chunks.reshape(-1, chunks.shape[-1])
        low = np.quantile(actions, 0.01, axis=0) if low is None else low
        high = np.quantile(actions, 0.99, axis=0) if high is None else high
        shell = cls(low, high, chunks.shape[1], scale, 0, 0, [])
        integers = flatten_frequency_major(shell.coefficients(chunks))  # (N, H * D)
        lowest, highest = int(integers.min()), int(integers.max())
        if vocab_size < highest - lowest + 1:
            raise ValueError(
                f"vocab_size {vocab_size} is smaller than the {highest - lowest + 1} integers the "
                f"coefficients take: raise vocab_size or lower scale (now {scale})"
            )
        words = Counter(tuple(int(i) for i in row - lowest) for row in integers)
        merges = learn_merges(words, highest - lowest + 1, vocab_size)
        return cls(low, high, chunks.shape[1], scale, lowest, highest, merges)

    def to_json(self) -> str:
        return json.dumps(
            {
                "low": self.low.tolist(),
                "high": self.high.tolist(),
                "chunk_size": self.chunk_size,
                "scale": self.scale,
                "min_value": self.min_value,
                "max_value": self.max_value,
                "merges": self.merges,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FASTTokenizer:
        data = json.loads(text)
        return cls(
            data["low"],
            data["high"],
            data["chunk_size"],
            data["scale"],
            data["min_value"],
            data["max_value"],
            [tuple(pair) for pair in data["merges"]],
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> FASTTokenizer:
        return cls.from_json(Path(path).read_text())

    def _check(self, chunks: np.ndarray) -> np.ndarray:
        chunks = np.asarray(chunks, np.float64)
        if chunks.shape[-2:] != (self.chunk_size, self.action_dim):
            raise ValueError(f"chunks must have shape (..., {self.chunk_size}, {self.action_dim}), got {chunks.shape}")
        if not np.all(np.isfinite(chunks)):
            raise ValueError("the chunk contains NaN or infinity: there are no tokens for it; check the data or policy")
        return chunks


# One chunk taken apart, stage by stage: what the DCT compression widget (``vlacourse.widgets.dct``) shows.
def compress(tokenizer: FASTTokenizer, chunk: np.ndarray, kept: int | None = None) -> dict:
    """Every stage of FAST on one chunk (H, D), keeping only the ``kept`` lowest frequencies (all by default):
    the scaled coefficients before rounding, the integers, the tokens, the reconstruction and its error."""
    kept = tokenizer.chunk_size if kept is None else kept
    if not 1 <= kept <= tokenizer.chunk_size:
        raise ValueError(f"kept must be between 1 and the chunk size {tokenizer.chunk_size}, got {kept}")
    chunk = np.asarray(chunk, np.float64)
    scaled = tokenizer.scaled_coefficients(chunk)  # (H, D)
    integers = np.rint(scaled).astype(np.int64)
    integers[kept:] = 0  # the dropped high frequencies
    tokens = tokenizer.encode_integers(integers)
    reconstruction = tokenizer.decode(tokens)
    return {
        "scaled": scaled,
        "integers": integers,
        "tokens": tokens,
        "reconstruction": reconstruction,
        "max_error": float(np.abs(reconstruction - chunk).max()),
        "ratio": chunk.size / len(tokens),
    }  # binning's tokens per FAST token
