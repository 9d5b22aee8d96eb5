"""FAST: the DCT against its closed form, the flattening order, the rounding bound, and bad sequences."""

import math

import numpy as np
import pytest

from vlacourse.policies.fast import (
    FASTTokenizer,
    compress,
    flatten_frequency_major,
    unflatten_frequency_major,
)
from vlacourse.widgets.dct import DCTCompressionWidget

H, D = 10, 4


def smooth_chunks(n: int, seed: int = 0) -> np.ndarray:
    """Minimum-jerk-like moves: each dimension a smooth ramp of random size and timing, (n, H, D)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, H)[None, :, None]
    amplitude, phase = rng.uniform(-1, 1, (n, 1, D)), rng.uniform(0, 2 * np.pi, (n, 1, D))
    return amplitude * np.sin(np.pi * t + phase)


@pytest.fixture(scope="module")
def tokenizer():
    return FASTTokenizer.fit(smooth_chunks(400), vocab_size=300)


def test_dct_matches_the_closed_form(tokenizer):
    chunk = smooth_chunks(1, seed=1)[0]
    x = tokenizer.normalize(chunk)  # (H, D)
    n = np.arange(H)
    # DCT-II, orthonormal, along time: X_k = s_k * sum_n x_n cos(pi k (2n + 1) / 2H)
    weight = [math.sqrt(1 / H)] + [math.sqrt(2 / H)] * (H - 1)
    expected = np.stack([weight[k] * (np.cos(np.pi * k * (2 * n + 1) / (2 * H))[:, None] * x).sum(0) for k in range(H)])
    np.testing.assert_array_equal(tokenizer.coefficients(chunk), np.rint(expected * tokenizer.scale))


def test_flattening_puts_every_dimensions_lowest_frequency_first():
    coefficients = np.arange(H * D).reshape(H, D)  # entry (k, d) = k * D + d
    flat = flatten_frequency_major(coefficients)
    assert flat[:D].tolist() == coefficients[0].tolist()  # frequency 0 of dims 0..D-1
    assert flat[D] == coefficients[1, 0]
    np.testing.assert_array_equal(unflatten_frequency_major(flat, D), coefficients)


def test_round_trip_error_is_bounded_by_the_rounding(tokenizer):
    for chunk in smooth_chunks(20, seed=2):
        decoded = tokenizer.decode(tokenizer.encode(chunk))
        error = tokenizer.normalize(decoded) - tokenizer.normalize(chunk)  # (H, D), normalised units
        # Each coefficient is off by at most 1 / (2 scale); the orthonormal inverse DCT keeps the energy.
        assert np.all(np.sqrt((error**2).sum(0)) <= math.sqrt(H) / (2 * tokenizer.scale) + 1e-9)


def test_smooth_chunks_compress_far_better_than_noise(tokenizer):
    smooth = np.mean([len(tokenizer.encode(c)) for c in smooth_chunks(50, seed=3)])
    noise = np.random.default_rng(4).uniform(tokenizer.low, tokenizer.high, (50, H, D))
    noisy = np.mean([len(tokenizer.encode(c)) for c in noise])
    assert smooth < H * D / 3 and noisy > 2 * smooth


def test_sequences_that_are_not_one_chunk_decode_to_zeros_with_a_warning(tokenizer):
    tokens = tokenizer.encode(smooth_chunks(1, seed=5)[0])
    for bad in (tokens[:-1], tokens + tokens, [tokenizer.vocab_size + 3], []):
        with pytest.warns(UserWarning, match="zero actions"):
            np.testing.assert_array_equal(tokenizer.decode(bad), np.zeros((H, D)))


def test_save_load_and_bad_input(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "fast.json")
    loaded = FASTTokenizer.load(tmp_path / "fast.json")
    chunk = smooth_chunks(1, seed=6)[0]
    assert loaded.encode(chunk) == tokenizer.encode(chunk) and loaded.vocab_size == tokenizer.vocab_size
    with pytest.raises(ValueError, match="NaN"):
        tokenizer.encode(np.full((H, D), np.nan))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 10, 4\)"):
        tokenizer.encode(np.zeros((H, D + 1)))
    with pytest.raises(ValueError, match="raise vocab_size or lower scale"):
        FASTTokenizer.fit(smooth_chunks(50), vocab_size=10)


def test_keeping_fewer_frequencies_gives_fewer_tokens_and_larger_errors(tokenizer):
    chunk = smooth_chunks(1, seed=7)[0]
    every, lowest = compress(tokenizer, chunk), compress(tokenizer, chunk, kept=1)
    assert len(lowest["tokens"]) <= len(every["tokens"]) and lowest["max_error"] > every["max_error"]
    np.testing.assert_array_equal(lowest["integers"][1:], 0)
    assert every["ratio"] == pytest.approx(H * D / len(every["tokens"]))
    with pytest.raises(ValueError, match="between 1 and the chunk size"):
        compress(tokenizer, chunk, kept=0)


def test_the_widget_redraws_and_refits_when_its_controls_move():
    from vlacourse.sim.dataset import collect

    widget = DCTCompressionWidget(collect("reach", episodes=3, seed=0, progress=False), fit_chunks=60)
    redraws = widget.view.redraws
    widget.view.controls["kept"].value = 2
    widget.view.controls["scale"].value = 50
    assert widget.view.redraws == redraws + 2 and set(widget.tokenizers) == {10, 50}
    chunk = widget.dataset.episode(0)["action"][5:15]
    finer, coarser = (compress(widget.tokenizer(s), chunk) for s in (50, 2))
    assert finer["max_error"] < coarser["max_error"]
    with pytest.raises(ValueError, match="out of range"):
        widget.view.set(kept=11)


def test_every_move_of_the_kept_slider_changes_the_picture():
    """Dropping a frequency that had rounded to zero changes no token; the picture still shows what was dropped
    (the browser check found the slider moving with nothing changing on screen)."""
    from vlacourse.sim.dataset import collect

    widget = DCTCompressionWidget(collect("reach", episodes=3, seed=0, progress=False), fit_chunks=60)
    pictures = []
    for kept in (10, 9, 8):
        widget.view.controls["kept"].value = kept
        pictures.append(widget.view.image.value)
    assert len(set(pictures)) == 3
