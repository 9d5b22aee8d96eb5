"""Tests of notebook 04's exercises: RT-2/OpenVLA action binning, and what token-by-token decoding costs."""

import numpy as np

from vlacourse.exercises import exercise_test
from vlacourse.policies.binning import BinningTokenizer

LOW, HIGH = np.array([-1.0, 0.0, -0.5]), np.array([1.0, 2.0, 0.5])


def _actions():
    return np.random.default_rng(0).uniform(LOW - 0.2, HIGH + 0.2, (500, 3))  # some outside the bounds


@exercise_test("bin_actions")
def matches_the_package(fn):
    actions = _actions()
    expected = BinningTokenizer(LOW, HIGH, 256).encode(actions)
    got = np.asarray(fn(actions, LOW, HIGH, 256))
    assert got.shape == actions.shape, f"one bin per action dimension: shape {actions.shape}, got {got.shape}"
    assert np.issubdtype(got.dtype, np.integer), f"bins are integers, got {got.dtype}"
    wrong = np.argwhere(got != expected)
    assert not len(wrong), (
        f"{len(wrong)} bins differ, first at {tuple(wrong[0])}: action "
        f"{actions[tuple(wrong[0])]:.4f} should be bin {expected[tuple(wrong[0])]}, got "
        f"{got[tuple(wrong[0])]}"
    )


@exercise_test("bin_actions")
def the_bounds_land_in_the_first_and_last_bin(fn):
    got = np.asarray(fn(np.stack([LOW, HIGH, LOW - 5, HIGH + 5]), LOW, HIGH, 256))
    assert (got[[0, 2]] == 0).all(), f"the lower bound and anything below it is bin 0, got {got[[0, 2]].tolist()}"
    assert (got[[1, 3]] == 255).all(), (
        f"the upper bound and anything above it is bin 255 (not 256: there is no such bin), got {got[[1, 3]].tolist()}"
    )


@exercise_test("unbin_actions")
def decodes_to_bin_centres(fn):
    bins = np.array([[0, 255, 128]])
    width = (HIGH - LOW) / 256
    expected = LOW + (bins + 0.5) * width
    got = np.asarray(fn(bins, LOW, HIGH, 256))
    assert np.allclose(got, expected), f"bin b decodes to low + (b + 0.5) * width: expected {expected}, got {got}"


@exercise_test("unbin_actions")
def the_round_trip_is_within_half_a_bin(fn):
    actions = np.clip(_actions(), LOW, HIGH)
    bins = BinningTokenizer(LOW, HIGH, 256).encode(actions)
    error = np.abs(np.asarray(fn(bins, LOW, HIGH, 256)) - actions)
    assert (error <= (HIGH - LOW) / 512 + 1e-9).all(), f"largest error {error.max():.5f}: more than half a bin"


@exercise_test("max_control_hz")
def matches_the_closed_form(fn):
    # One prefix pass of 20 ms, then 39 token passes of 5 ms: 215 ms for 10 actions.
    got = fn(action_dim=4, chunk_size=10, ms_prefix=20.0, ms_per_token=5.0)
    assert np.isclose(got, 10 / 0.215), f"10 actions per 215 ms is {10 / 0.215:.2f} Hz, got {got}"


@exercise_test("max_control_hz")
def more_dimensions_cost_more_passes(fn):
    one_arm = fn(action_dim=7, chunk_size=50, ms_prefix=30.0, ms_per_token=10.0)
    two_arms = fn(action_dim=14, chunk_size=50, ms_prefix=30.0, ms_per_token=10.0)
    assert np.isclose(one_arm, 50 / (0.030 + 349 * 0.010)) and np.isclose(two_arms, 50 / (0.030 + 699 * 0.010)), (
        f"a chunk of 50 steps of 14 numbers is 700 tokens: one prefix pass and 699 token passes; got {two_arms}"
    )
