import numpy as np
import pytest

from vlacourse.policies.binning import NUM_BINS, BinningTokenizer


@pytest.fixture
def tokenizer():
    rng = np.random.default_rng(0)
    actions = np.c_[rng.normal(0, 0.3, 5000), rng.uniform(-1, 1, 5000), np.sign(rng.normal(size=5000))]
    return BinningTokenizer.fit(actions), actions


def test_bounds_are_the_1st_and_99th_percentiles_of_the_data(tokenizer):
    tok, actions = tokenizer
    np.testing.assert_allclose(tok.low, np.quantile(actions, 0.01, axis=0))
    np.testing.assert_allclose(tok.high, np.quantile(actions, 0.99, axis=0))
    assert tok.num_bins == NUM_BINS == 256


def test_round_trip_is_within_half_a_bin_of_the_clipped_value(tokenizer):
    tok, actions = tokenizer
    bins = tok.encode(actions)
    assert bins.shape == actions.shape and bins.min() >= 0 and bins.max() <= 255
    error = np.abs(tok.decode(bins) - np.clip(actions, tok.low, tok.high))
    assert np.all(error <= tok.bin_width / 2 + 1e-6)


def test_matches_a_brute_force_nearest_centre_search(tokenizer):
    tok, actions = tokenizer
    centres = tok.low + (np.arange(256)[:, None] + 0.5) * tok.bin_width  # (256, D)
    clipped = np.clip(actions[:500], tok.low, tok.high)
    nearest = np.abs(clipped[:, None, :] - centres[None]).argmin(1)  # (N, D)
    assert np.mean(nearest == tok.encode(actions[:500])) > 0.999  # ties at bin edges may go either way


def test_out_of_range_values_are_clipped_to_the_end_bins(tokenizer):
    tok, _ = tokenizer
    bins = tok.encode(np.array([[-50.0, -50.0, -50.0], [50.0, 50.0, 50.0]]))
    assert bins[0].tolist() == [0, 0, 0] and bins[1].tolist() == [255, 255, 255]


def test_decode_works_on_chunks_and_rejects_bad_tokens(tokenizer):
    tok, actions = tokenizer
    chunk = actions[:30].reshape(3, 10, 3)
    assert tok.decode(tok.encode(chunk)).shape == (3, 10, 3)
    with pytest.raises(ValueError, match="0..255"):
        tok.decode(np.array([[0, 256, 3]]))
    with pytest.raises(ValueError, match="reshape"):
        tok.decode(np.arange(9))
    with pytest.raises(ValueError, match="NaN"):
        tok.encode(np.array([[0.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        tok.encode(np.zeros((2, 4)))


def test_a_constant_dimension_decodes_to_its_value():
    tok = BinningTokenizer.fit(np.c_[np.full(100, -1.0), np.arange(100.0)])
    np.testing.assert_allclose(tok.decode(tok.encode(np.array([[-1.0, 50.0]])))[0, 0], -1.0, atol=1e-5)
    with pytest.raises(ValueError, match="high >= low"):
        BinningTokenizer(np.array([1.0]), np.array([0.0]))
