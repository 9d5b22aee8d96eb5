"""Training a language model: token windows, the unigram baseline, the loop and its live curve."""

import math

import pytest
import torch

from vlacourse.lm.corpus import generate_corpus, load_corpus
from vlacourse.lm.gpt import GPT, GPTConfig
from vlacourse.lm.language_model import (
    TokenWindows,
    matmul_flops_per_token,
    milliseconds_per_token,
    unigram_cross_entropy,
    validation_loss,
)
from vlacourse.training import train
from vlacourse.widgets.interactive import LiveLossPlot


def test_shipped_corpus_is_what_the_generator_makes():
    assert load_corpus() == generate_corpus()
    assert generate_corpus(lines=30, seed=1) == generate_corpus(lines=30, seed=1) != generate_corpus(lines=30, seed=2)


def test_windows_pair_each_token_with_the_next():
    windows = TokenWindows(list(range(1000)), window=8, batch_size=4)
    x, y = windows.batch()
    assert x.shape == y.shape == (4, 8) and torch.equal(y, x + 1)
    assert windows.batch("val")[0].min() >= 900
    with pytest.raises(ValueError, match="too few for windows of 8"):
        TokenWindows(list(range(50)), window=8, batch_size=4)


def test_unigram_baseline_is_the_entropy_of_token_frequencies():
    uniform = torch.arange(10).repeat(100)
    assert abs(unigram_cross_entropy(uniform, uniform, 10) - math.log(10)) < 1e-9
    skewed = torch.tensor([0] * 90 + [1] * 10)
    expected = -(0.9 * math.log(91 / 102) + 0.1 * math.log(11 / 102))  # add-one smoothed frequencies
    assert abs(unigram_cross_entropy(skewed, skewed, 2) - expected) < 1e-9


def test_training_beats_the_unigram_baseline_quickly():
    torch.manual_seed(0)
    ids = [i % 7 for i in range(3000)]  # a perfectly predictable sequence
    windows = TokenWindows(ids, window=16, batch_size=16)
    model = GPT(GPTConfig(vocab_size=7, block_size=32, n_layer=1, n_head=2, n_embd=32))
    plot = LiveLossPlot(baseline=("unigram", unigram_cross_entropy(windows.train, windows.val, 7)))
    history = train(
        model,
        windows.batch,
        steps=60,
        lr=1e-2,
        evaluate=lambda: validation_loss(model, windows, 2),
        eval_every=30,
        plot=plot,
        progress=False,
    )
    assert history.eval_steps == [30, 60] and history.eval_losses[-1] < 0.2 < math.log(7)
    assert bytes(plot.image.value).startswith(b"\x89PNG")


def test_a_diverging_run_stops_with_advice():
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=1, n_embd=8))

    def bad_batch():
        x = torch.zeros(2, 4, dtype=torch.long)
        with torch.no_grad():
            model.wte.weight.fill_(float("nan"))
        return x, x

    with pytest.raises(FloatingPointError, match="lower lr"):
        train(model, bad_batch, steps=1, progress=False)


def test_time_per_token_is_measured_for_both_paths():
    model = GPT(GPTConfig(vocab_size=11, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    for use_cache in (False, True):
        assert milliseconds_per_token(model, 40, use_cache, repeats=3) > 0


def test_matmul_flops_per_token_match_the_closed_form():
    """Per token, each layer's linear products cost 2 x 12 C^2 (qkv 3C^2, output C^2, MLP 8C^2) and the
    output layer 2 C V (Kaplan et al. 2020, table 1): with a cache one token pays that, without one all."""
    config = GPTConfig(vocab_size=11, block_size=64, n_layer=2, n_head=2, n_embd=16)
    model = GPT(config).eval()
    per_token = 24 * config.n_layer * config.n_embd**2 + 2 * config.n_embd * config.vocab_size
    assert matmul_flops_per_token(model, 40, use_cache=True) == per_token
    assert matmul_flops_per_token(model, 40, use_cache=False) == 41 * per_token
