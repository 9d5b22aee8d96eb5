"""Measuring action tokenizers: chunking and slowing down demonstrations, FAST against binning."""

import numpy as np
import pytest

from vlacourse.policies.binning import BinningTokenizer
from vlacourse.policies.compression import (
    demonstration_chunks,
    fast_against_binning,
    nonzero_coefficients,
    repeated_bin_fraction,
    tokens_and_error,
)
from vlacourse.sim.dataset import collect


@pytest.fixture(scope="module")
def dataset():
    return collect("reach", episodes=4, seed=0, progress=False)


def test_chunks_tile_each_episode_and_slowing_down_sums_the_moves(dataset):
    chunks = demonstration_chunks(dataset, 5)
    first = dataset.episode(0)["action"]
    np.testing.assert_allclose(chunks[0], first[:5])
    np.testing.assert_allclose(chunks[1], first[5:10])
    slow = demonstration_chunks(dataset, 5, slowdown=2)
    np.testing.assert_allclose(slow[0, 0, :3], first[0, :3] + first[1, :3], rtol=1e-6)
    assert slow[0, 0, 3] == first[1, 3]
    lengths = dataset.episode_data_index["to"] - dataset.episode_data_index["from"]
    assert len(chunks) == sum(n // 5 for n in lengths) and len(slow) == sum(n // 2 // 5 for n in lengths)
    with pytest.raises(ValueError, match="shorter chunk_size"):
        demonstration_chunks(dataset, 100, slowdown=5)


def test_binning_costs_every_dimension_of_every_step_within_half_a_bin(dataset):
    chunks = demonstration_chunks(dataset, 10)
    binning = BinningTokenizer.fit(chunks.reshape(-1, 4))
    tokens, error = tokens_and_error(binning, chunks)
    assert tokens == 40 and error <= binning.bin_width.max() / 2


def test_repeated_bins_count_each_token_equal_to_its_dimensions_previous_one():
    binning = BinningTokenizer.fit(np.array([[-1.0, -1.0], [1.0, 1.0]]))
    steady = np.zeros((1, 5, 2))  # one chunk at rest: every token after the first action repeats
    ramp = np.stack([np.linspace(-1, 1, 5)] * 2, axis=1)[None]  # each action moves by a quarter of the range
    assert repeated_bin_fraction(binning, steady) == 1.0 and repeated_bin_fraction(binning, ramp) == 0.0
    rng = np.random.default_rng(0)
    chunks = rng.uniform(-1, 1, (3, 6, 2)).round(1)
    bins = binning.encode(chunks)
    brute = [bins[n, t, d] == bins[n, t - 1, d] for n in range(3) for t in range(1, 6) for d in range(2)]
    assert repeated_bin_fraction(binning, chunks) == pytest.approx(np.mean(brute))


def test_demonstrations_repeat_more_bins_at_a_higher_control_rate(dataset):
    fast_rate, slow_rate = demonstration_chunks(dataset, 4), demonstration_chunks(dataset, 4, slowdown=5)
    repeats = [repeated_bin_fraction(BinningTokenizer.fit(c.reshape(-1, 4)), c) for c in (fast_rate, slow_rate)]
    assert repeats[0] > repeats[1], repeats


def test_fast_matches_binnings_error_with_fewer_tokens_on_smooth_motion():
    t = np.linspace(0, 1, 10)[None, :, None]
    rng = np.random.default_rng(0)
    chunks = rng.uniform(-1, 1, (300, 1, 4)) * np.sin(np.pi * t + rng.uniform(0, 6, (300, 1, 4)))
    result = fast_against_binning(chunks[:200], chunks[200:], scales=(10, 100, 200), vocab_size=1500)
    scale = result["matched_scale"]
    assert scale is not None and result["fast"][scale][1] <= result["binning"][1]
    assert result["ratio"] == pytest.approx(40 / result["fast"][scale][0]) and result["ratio"] > 1
    fewer, more = result["fast"][10][0], result["fast"][200][0]
    assert fewer < more  # a finer scale keeps more coefficients


def test_bounds_per_time_step_cost_coefficients_when_the_spread_changes_along_the_chunk():
    # Moves that all start at rest and speed up: early steps have a small spread, late ones a large one.
    rng = np.random.default_rng(1)
    chunks = rng.uniform(-1, 1, (500, 1, 4)) * np.linspace(0, 1, 10)[None, :, None] ** 2
    assert nonzero_coefficients(chunks, per_step=True) > 1.5 * nonzero_coefficients(chunks, per_step=False)
