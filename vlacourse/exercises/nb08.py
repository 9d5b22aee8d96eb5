"""Tests of notebook 08's exercises: RTC's soft mask and ACT's temporal ensemble, each checked against hand
values and against the package's version (``vlacourse.chunking.rtc``)."""

import math

import numpy as np

from vlacourse.chunking.rtc import ensemble_action, soft_mask
from vlacourse.exercises import exercise_test


@exercise_test("soft_mask_weights")
def it_freezes_the_first_d_and_frees_the_last_s(fn):
    weights = np.asarray(fn(10, 3, 4), dtype=float)
    assert weights.shape == (10,), f"one weight per action of the chunk, shape (10,), got {weights.shape}"
    assert np.all(weights[:3] == 1), "the first d actions are executed from the previous chunk anyway: weight 1"
    assert np.all(weights[6:] == 0), "the last s actions have no counterpart in the previous chunk: weight 0"


@exercise_test("soft_mask_weights")
def it_decays_as_the_paper_says(fn):
    for H, d, s in ((10, 3, 4), (10, 0, 5), (50, 4, 25), (8, 2, 2)):
        i = 5 if (H, d, s) == (10, 3, 4) else d
        c = (H - s - i) / (H - s - d + 1)
        expected = c * (math.exp(c) - 1) / (math.e - 1)
        weights = np.asarray(fn(H, d, s), dtype=float)
        assert math.isclose(weights[i], expected, rel_tol=1e-6), (
            f"H={H}, d={d}, s={s}: weight {i} should be c (e^c - 1) / (e - 1) = {expected:.4f} with "
            f"c = (H - s - i) / (H - s - d + 1) = {c:.3f}; got {weights[i]:.4f}"
        )
        np.testing.assert_allclose(
            weights,
            soft_mask(H, d, s),
            atol=1e-6,
            err_msg=f"H={H}, d={d}, s={s}: every weight, against vlacourse.chunking.rtc.soft_mask",
        )


@exercise_test("temporal_ensemble")
def it_averages_every_prediction_for_the_step(fn):
    old, new = (0, np.zeros((10, 4))), (5, np.ones((10, 4)))
    got = np.asarray(fn([old, new], 7, 0.0), dtype=float)
    assert got.shape == (4,), f"one action (4,) for the step, got shape {got.shape}"
    np.testing.assert_allclose(got, 0.5, err_msg="with m = 0 both chunks' predictions for step 7 count equally")
    np.testing.assert_allclose(fn([old, new], 3, 0.0), 0.0, err_msg="at step 3 only the old chunk has a prediction")
    np.testing.assert_allclose(fn([old, new], 12, 0.0), 1.0, err_msg="at step 12 the old chunk (steps 0-9) is over")


@exercise_test("temporal_ensemble")
def the_oldest_prediction_weighs_most(fn):
    rng = np.random.default_rng(0)
    chunks = [(start, rng.normal(size=(10, 4))) for start in (0, 3, 6)]
    for m in (0.01, 0.5, 2.0):
        for t in (4, 7, 9):
            np.testing.assert_allclose(
                fn(chunks, t, m),
                ensemble_action(chunks, t, m),
                atol=1e-9,
                err_msg=f"m={m}, step {t}: weights exp(-m i) with i = 0 the oldest chunk (ACT), divided by their sum",
            )
