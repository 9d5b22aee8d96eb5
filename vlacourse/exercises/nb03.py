"""Tests of notebook 03's exercises: a success detector, and the action statistics used to normalise."""

import numpy as np

from vlacourse.exercises import exercise_test

BIN = np.array([0.32, 0.26])


@exercise_test("block_in_bin")
def a_block_at_the_bins_centre_is_in(fn):
    assert fn(np.array([0.32, 0.26, 0.028]), BIN), "a block resting on the bin floor at its centre is in the bin"


@exercise_test("block_in_bin")
def a_block_near_a_wall_inside_is_in(fn):
    assert fn(np.array([0.32 + 0.065, 0.26 - 0.065, 0.028]), BIN), "0.065 m from the centre is inside (half 0.07)"


@exercise_test("block_in_bin")
def a_block_beside_the_bin_is_out(fn):
    assert not fn(np.array([0.32 + 0.09, 0.26, 0.02]), BIN), "x is 0.09 m off: outside the bin"
    assert not fn(np.array([0.32, 0.26 - 0.2, 0.02]), BIN), "y is 0.2 m off: outside the bin"


@exercise_test("block_in_bin")
def a_block_held_above_the_bin_is_not_in_yet(fn):
    assert not fn(np.array([0.32, 0.26, 0.12]), BIN), "0.12 m up is above the 0.05 m rim: not in the bin yet"


def _actions():
    rng = np.random.default_rng(0)
    actions = rng.normal(0, [0.2, 0.5, 1.0, 0.9], (2000, 4))
    actions[:7, 1] = 40.0  # a few outliers, which percentiles ignore and min/max would not
    return actions


@exercise_test("action_statistics")
def percentiles_match_numpy(fn):
    actions = _actions()
    stats = fn(actions)
    for key, q in (("q01", 1), ("q99", 99)):
        assert key in stats, f"return a dict with the keys 'q01' and 'q99', got {sorted(stats)}"
        expected = np.percentile(actions, q, axis=0)
        assert np.shape(stats[key]) == (4,), f"{key} should have one value per action dimension, shape (4,)"
        assert np.allclose(stats[key], expected), (
            f"{key}: got {np.round(stats[key], 3)}, expected {np.round(expected, 3)}"
        )


@exercise_test("action_statistics")
def outliers_do_not_stretch_the_range(fn):
    assert fn(_actions())["q99"][1] < 5, "the 99th percentile should ignore the 7 outliers at 40"


@exercise_test("action_statistics")
def input_is_left_unchanged(fn):
    actions = _actions()
    before = actions.copy()
    fn(actions)
    assert np.array_equal(actions, before), "your function changed the actions in place (np.sort sorts in place)"
