"""Tests of notebook 00's exercise: map values to [-1, 1] between a low and a high bound.

It is the normalisation that action tokenizers start from (RT-2 binning and FAST both map each action
dimension's 1st and 99th percentiles to -1 and 1), so the learner writes it once here.
"""

import numpy as np

from vlacourse.exercises import exercise_test


def _close(actual, expected, what):
    actual = np.asarray(actual)
    assert actual.shape == np.shape(expected), f"{what}: shape {actual.shape}, expected {np.shape(expected)}"
    assert np.allclose(actual, expected), f"{what}: got {actual.tolist()}, expected {np.asarray(expected).tolist()}"


@exercise_test("normalize_to_unit_range")
def bounds_map_to_minus_one_and_one(fn):
    _close(fn(np.array([0.0, 10.0]), 0.0, 10.0), [-1.0, 1.0], "low and high")


@exercise_test("normalize_to_unit_range")
def midpoint_maps_to_zero(fn):
    _close(fn(np.array([5.0]), 0.0, 10.0), [0.0], "the midpoint")


@exercise_test("normalize_to_unit_range")
def values_outside_the_bounds_are_clipped(fn):
    _close(fn(np.array([-5.0, 25.0]), 0.0, 10.0), [-1.0, 1.0], "values outside [low, high]")


@exercise_test("normalize_to_unit_range")
def each_dimension_has_its_own_bounds(fn):
    actions = np.array([[0.0, 100.0], [1.0, 300.0]])  # (T=2 steps, D=2 dimensions)
    low, high = np.array([0.0, 100.0]), np.array([1.0, 300.0])
    _close(fn(actions, low, high), [[-1.0, -1.0], [1.0, 1.0]], "per-dimension bounds")


@exercise_test("normalize_to_unit_range")
def input_is_left_unchanged(fn):
    actions = np.array([3.0, 7.0])
    fn(actions, 1.0, 11.0)
    assert actions.tolist() == [3.0, 7.0], "your function changed its input array in place; work on a copy"
