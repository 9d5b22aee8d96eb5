"""Language modelling around the tiny GPT: batches of token windows, a unigram baseline, validation loss,
and what one generated token costs with and without the KV cache."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from vlacourse.lm.gpt import GPT, KVCache


class TokenWindows:
    """A token stream split into training and validation parts, sampled as (input, next-token) windows."""

    def __init__(
        self,
        ids: list[int],
        window: int,
        batch_size: int,
        val_fraction: float = 0.1,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ):
        data = torch.tensor(ids, dtype=torch.long)
        split = int(len(data) * (1 - val_fraction))
        if split <= window or len(data) - split <= window:
            raise ValueError(
                f"{len(data)} tokens are too few for windows of {window}: use more text or a shorter window"
            )
        self.train, self.val = data[:split], data[split:]
        self.window, self.batch_size, self.device = window, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)

    def batch(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        data = self.train if split == "train" else self.val
        starts = torch.randint(len(data) - self.window - 1, (self.batch_size,), generator=self.generator)
        x = torch.stack([data[s : s + self.window] for s in starts])  # (B, T)
        y = torch.stack([data[s + 1 : s + self.window + 1] for s in starts])  # (B, T): the same, one token later
        return x.to(self.device), y.to(self.device)


def unigram_cross_entropy(train: torch.Tensor, val: torch.Tensor, vocab_size: int) -> float:
    """Validation cross-entropy (nats) of the best model that ignores context: token frequencies in the
    training part (add-one smoothed). A language model has learned something only once it beats this."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1
    return float(-torch.log(counts / counts.sum())[val].mean())


@torch.no_grad()
def validation_loss(model: GPT, windows: TokenWindows, batches: int = 10) -> float:
    return float(torch.stack([model(*windows.batch("val"))[1] for _ in range(batches)]).mean())


def next_token_pass(model: GPT, context: int, use_cache: bool) -> Callable[[], None]:
    """One more token when ``context`` tokens came before it, as a function that runs its forward pass.

    Without a cache that is a pass over all ``context + 1`` tokens; with one, a pass over the single new
    token, reading the cached keys and values of the others (filled here, once). Each call sees the same
    ``context``: the new token's keys and values are dropped from the cache after the pass."""
    device = next(model.parameters()).device
    tokens = torch.randint(model.config.vocab_size, (1, context + 1), device=device)
    if not use_cache:
        return lambda: model(tokens)
    cache = KVCache(model.config.n_layer)
    with torch.no_grad():
        model(tokens[:, :context], cache=cache)

    def cached_pass() -> None:
        model(tokens[:, context:], cache=cache)
        for layer in range(model.config.n_layer):
            cache.keys[layer] = cache.keys[layer][:, :, :context]
            cache.values[layer] = cache.values[layer][:, :, :context]

    return cached_pass


@torch.no_grad()
def milliseconds_per_token(model: GPT, context: int, use_cache: bool, repeats: int = 20) -> float:
    """The time ``next_token_pass`` takes on this machine: the median of ``repeats``, after two warm-ups."""
    one_pass = next_token_pass(model, context, use_cache)
    timings = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        one_pass()
        timings.append(time.perf_counter() - start)
    return 1000 * sorted(timings[2:])[repeats // 2]


@torch.no_grad()
def matmul_flops_per_token(model: GPT, context: int, use_cache: bool) -> int:
    """The floating-point operations of the matrix products in ``next_token_pass``, counted by torch's
    ``FlopCounterMode`` as they run: the same on every machine, unlike the time. On the CPU it counts the
    linear layers (attention's own products run inside one fused kernel that it does not count)."""
    one_pass = next_token_pass(model, context, use_cache)
    with FlopCounterMode(display=False) as counter:
        one_pass()
    return counter.get_total_flops()
