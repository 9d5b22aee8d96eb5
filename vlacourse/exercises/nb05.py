"""Tests of notebook 05's exercises: FAST's frequency-major flattening, and the scale that bounds the error."""

import numpy as np
from scipy.fft import dct, idct

from vlacourse.exercises import exercise_test
from vlacourse.policies.fast import flatten_frequency_major


@exercise_test("flatten_lowest_frequencies_first")
def a_small_matrix_reads_row_by_row(fn):
    coefficients = np.array([[10, 20], [11, 21], [12, 22]])  # (H=3 frequencies, D=2 dimensions)
    got = np.asarray(fn(coefficients))
    assert got.shape == (6,), f"3 frequencies x 2 dimensions flatten to shape (6,), got {got.shape}"
    assert got.tolist() == [10, 20, 11, 21, 12, 22], (
        f"expected frequency 0 of both dimensions first: [10, 20, 11, 21, 12, 22], got {got.tolist()}"
    )


@exercise_test("flatten_lowest_frequencies_first")
def matches_the_package_on_a_chunk(fn):
    coefficients = np.random.default_rng(0).integers(-5, 6, (10, 4))
    assert np.array_equal(np.asarray(fn(coefficients)), flatten_frequency_major(coefficients)), (
        "on a (10, 4) matrix your order differs from frequency-major (k0d0, k0d1, ..., k1d0, ...)"
    )


@exercise_test("flatten_lowest_frequencies_first")
def the_zeros_of_high_frequencies_come_last(fn):
    coefficients = np.zeros((10, 4), np.int64)
    coefficients[:2] = [[7, -3, 2, 1], [1, 1, -1, 2]]  # only the two lowest frequencies are non-zero
    flat = np.asarray(fn(coefficients))
    assert np.count_nonzero(flat[8:]) == 0, "after the first 2 x 4 entries everything should be zero: one long run"


def _rounding_error(normalized, scale):
    """Largest error of one DCT, scale, round and inverse round trip: the brute-force reference."""
    rounded = np.rint(dct(normalized, type=2, norm="ortho", axis=1) * scale) / scale
    return np.abs(idct(rounded, type=2, norm="ortho", axis=1) - normalized).max()


def _smooth_chunks():
    t = np.linspace(0, 1, 10)[None, :, None]
    phase = np.random.default_rng(1).uniform(0, np.pi, (50, 1, 3))
    return 0.8 * np.sin(2 * t + phase)  # (50, 10, 3), already in [-1, 1]


@exercise_test("smallest_scale")
def matches_a_brute_force_search(fn):
    chunks, scales = _smooth_chunks(), [2, 5, 10, 20, 50, 100]
    for bound in (0.2, 0.05, 0.01):
        expected = next(s for s in scales if _rounding_error(chunks, s) <= bound)
        got = fn(chunks, bound, scales)
        assert got == expected, (
            f"bound {bound}: the smallest scale whose largest error is within it is {expected}, got {got}"
        )


@exercise_test("smallest_scale")
def scales_given_out_of_order_are_searched_from_the_smallest(fn):
    chunks = _smooth_chunks()
    assert fn(chunks, 0.05, [100, 10, 50, 20, 5]) == fn(chunks, 0.05, [5, 10, 20, 50, 100]), (
        "sort the scales: the answer is the smallest that works, whatever order they come in"
    )


@exercise_test("smallest_scale")
def an_unreachable_bound_gives_none(fn):
    assert fn(_smooth_chunks(), 1e-9, [2, 5, 10]) is None, "no scale in the list reaches 1e-9: return None"
