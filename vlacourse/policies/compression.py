"""Action tokenizers measured on the arm's demonstrations (notebook 05): FAST against binning.

Four measurements, after Pertsch et al. 2025 (FAST), sections III, IV and VI:
- repeated bins: at a high control rate most of a binned chunk's tokens repeat the token one action
  before, so a model that copies earns most of the next-token loss's reward (section IV's case study);
- tokens per chunk at matched reconstruction error: binning spends H * D tokens on every chunk; FAST's
  count depends on how smooth the chunk is, and its error on the scale;
- the control rate: a chunk of fixed duration recorded at a higher rate costs binning proportionally
  more tokens and FAST hardly more, since the extra samples add high frequencies that round to zero;
- normalisation: FAST normalises each action dimension with one pair of bounds over the whole chunk; bounds
  per time step (the white paper's warning) bend a smooth chunk into a less smooth one and cost tokens.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

from vlacourse.policies.binning import BinningTokenizer
from vlacourse.policies.fast import DEFAULT_VOCAB_SIZE, FASTTokenizer


def demonstration_chunks(dataset, chunk_size: int, slowdown: int = 1) -> np.ndarray:
    """Non-overlapping chunks (N, H, D) of every episode's actions. ``slowdown`` k replays the demonstration
    at 1/k of its rate: each action moves as far as k of the original's (their sum; the gripper command
    is the last one's), so a chunk of H spans k times as long."""
    chunks = []
    for start, stop in zip(dataset.episode_data_index["from"], dataset.episode_data_index["to"], strict=True):
        actions = dataset.arrays["action"][start:stop]
        steps = len(actions) // slowdown
        grouped = actions[: steps * slowdown].reshape(steps, slowdown, -1)  # (T/k, k, D)
        slow = np.concatenate([grouped[:, :, :3].sum(1), grouped[:, -1, 3:]], axis=1)  # (T/k, D)
        chunks += [slow[i : i + chunk_size] for i in range(0, steps - chunk_size + 1, chunk_size)]
    if not chunks:
        raise ValueError(
            f"no episode is {chunk_size * slowdown} actions long, enough for one chunk of {chunk_size} "
            f"slowed down {slowdown}x: use a shorter chunk_size or a smaller slowdown"
        )
    return np.stack(chunks).astype(np.float64)


def repeated_bin_fraction(binning: BinningTokenizer, chunks: np.ndarray) -> float:
    """The share of a chunk's tokens, after its first action, that equal the bin of the same dimension one
    action earlier: what a model that copies its previous action's tokens gets right."""
    bins = binning.encode(chunks)  # (N, H, D)
    return float((bins[:, 1:] == bins[:, :-1]).mean())


def tokens_and_error(tokenizer, chunks: np.ndarray) -> tuple[float, float]:
    """Mean tokens per chunk and mean absolute reconstruction error, for a FAST or a binning tokenizer."""
    if isinstance(tokenizer, BinningTokenizer):
        return float(chunks[0].size), float(np.abs(tokenizer.decode(tokenizer.encode(chunks)) - chunks).mean())
    tokens = [tokenizer.encode(chunk) for chunk in chunks]
    decoded = np.stack([tokenizer.decode(t) for t in tokens])
    return float(np.mean([len(t) for t in tokens])), float(np.abs(decoded - chunks).mean())


def fast_against_binning(
    train: np.ndarray, test: np.ndarray, scales=(10, 20, 50, 100), vocab_size: int = DEFAULT_VOCAB_SIZE
) -> dict:
    """Binning's tokens and error on ``test``, FAST's at each scale (fitted on ``train``), and the ratio of
    tokens at the smallest scale whose error is at most binning's (None if no scale gets there)."""
    binning = BinningTokenizer.fit(train.reshape(-1, train.shape[-1]))
    binning_tokens, binning_error = tokens_and_error(binning, test)
    fast = {scale: tokens_and_error(FASTTokenizer.fit(train, vocab_size, scale), test) for scale in scales}
    matched = next((scale for scale in scales if fast[scale][1] <= binning_error), None)
    return {
        "binning": (binning_tokens, binning_error),
        "fast": fast,
        "matched_scale": matched,
        "ratio": None if matched is None else binning_tokens / fast[matched][0],
    }


def nonzero_coefficients(chunks: np.ndarray, per_step: bool, scale: float = 10.0) -> float:
    """Mean non-zero rounded DCT coefficients per chunk, with quantile bounds per dimension (FAST's) or
    per dimension and time step (``per_step``)."""
    axes = 0 if per_step else (0, 1)  # per step: bounds of shape (H, D), else (D,)
    low, high = np.quantile(chunks, 0.01, axis=axes), np.quantile(chunks, 0.99, axis=axes)
    normalized = np.clip(2 * (chunks - low) / np.maximum(high - low, 1e-8) - 1, -1, 1)
    return float((np.rint(dct(normalized, type=2, norm="ortho", axis=1) * scale) != 0).sum((1, 2)).mean())
