"""Tests of notebook 12's exercises: VL-JEPA's bidirectional InfoNCE and selective decoding's segmentation rule,
each checked against hand values and against the package's version (``vlacourse.vlm``)."""

import math

import numpy as np
import torch
from torch.nn import functional as F

from vlacourse.exercises import exercise_test


def unit_rows(seed: int, rows: int, dim: int = 6) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=generator, dtype=torch.float64), dim=-1)


def loss_of(fn, predicted, targets, scale, texts) -> float:
    return float(fn(predicted, targets, scale, texts))


@exercise_test("infonce")
def a_perfect_match_among_orthogonal_texts_costs_little(fn):
    eye = torch.eye(3, dtype=torch.float64)
    got = loss_of(fn, eye, eye, 10.0, ["a", "b", "c"])
    expected = -math.log(math.exp(10) / (math.exp(10) + 2))
    assert math.isclose(got, expected, rel_tol=1e-9), (
        f"each prediction is its target (cosine 1) and orthogonal to the others (cosine 0): -log(e^10 / (e^10 + 2)) "
        f"= {expected:.6f} both ways, got {got:.6f}"
    )


@exercise_test("infonce")
def it_is_symmetric_in_predictions_and_targets(fn):
    predicted, targets = unit_rows(0, 5), unit_rows(1, 5)
    texts = ["a", "b", "c", "d", "e"]
    one, other = loss_of(fn, predicted, targets, 4.0, texts), loss_of(fn, targets, predicted, 4.0, texts)
    assert math.isclose(one, other, rel_tol=1e-9), "bidirectional: swapping predictions and targets gives the same"
    logits = 4.0 * predicted @ targets.T
    only_rows = F.cross_entropy(logits, torch.arange(5)).item()
    assert not math.isclose(one, only_rows, rel_tol=1e-6), "average both directions, not only prediction -> target"


@exercise_test("infonce")
def identical_targets_are_not_negatives(fn):
    from vlacourse.vlm.vl_jepa import bidirectional_infonce, same_texts

    for seed, texts in enumerate((["yes", "no", "yes", "yes"], ["red", "red", "blue", "green", "blue", "red"])):
        predicted, targets = unit_rows(2 * seed, len(texts)), unit_rows(2 * seed + 1, len(texts))
        expected = bidirectional_infonce(predicted, targets, torch.tensor(6.0, dtype=torch.float64), same_texts(texts))
        got = loss_of(fn, predicted, targets, 6.0, texts)
        assert math.isclose(got, expected.item(), rel_tol=1e-9), (
            f"texts {texts}: two predictions of 'yes' must not push each other's 'yes' away (leave them out of the "
            f"softmax); vlacourse.vlm.vl_jepa.bidirectional_infonce gives {expected.item():.6f}, got {got:.6f}"
        )


@exercise_test("segment_starts")
def a_stream_that_never_changes_is_one_segment(fn):
    got = np.asarray(fn(np.zeros(30), 0.1, 3)).tolist()
    assert got == [0], f"nothing above the threshold: one segment starting at frame 0, got {got}"


@exercise_test("segment_starts")
def segments_start_at_peaks_above_the_threshold(fn):
    curve = np.zeros(40)
    curve[8:13] = [0.1, 0.4, 0.9, 0.4, 0.1]  # a peak at 10
    curve[25:28] = [0.2, 0.05, 0.02]  # a peak at 25, below the threshold
    curve[33] = 0.6  # a peak at 33
    got = np.asarray(fn(curve, 0.3, 3)).tolist()
    assert got == [0, 10, 33], f"frame 0, then each peak above 0.3 (10 and 33; 25 is below): {got}"


@exercise_test("segment_starts")
def it_matches_the_package(fn):
    from vlacourse.vlm.streams import adaptive_starts

    rng = np.random.default_rng(0)
    for threshold, window in ((0.05, 3), (0.2, 2), (0.5, 4)):
        curve = np.abs(rng.normal(0, 0.2, 120))
        expected = adaptive_starts(curve, threshold, window).tolist()
        got = np.asarray(fn(curve, threshold, window)).tolist()
        assert got == expected, (
            f"threshold {threshold}, window {window}: vlacourse.vlm.streams.adaptive_starts gives {expected}, got {got}"
        )
