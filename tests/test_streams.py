"""The streaming camera on clear_table and selective decoding: the change curve in closed form, segmentation,
span quality, and the rate-quality comparison on streams whose answer is known."""

import numpy as np
import pytest

from vlacourse.vlm.streams import (
    STREAM_HZ,
    SUBTASK_OF,
    THRESHOLDS,
    WORDINGS,
    adaptive_starts,
    annotation,
    change_curve,
    chosen_threshold,
    decode_points,
    fewer_decodes,
    film,
    segment_means,
    selective_curves,
    span_quality,
    uniform_starts,
)


def step_stream(lengths, dim=4, noise=0.0, seed=0):
    """Unit vectors: one direction per segment (of ``lengths`` frames), optional noise; and each frame's label."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for k, length in enumerate(lengths):
        direction = np.eye(dim)[k % dim]
        frames.append(direction + rng.normal(0, noise, (length, dim)))
        labels += [f"subtask {k % dim}"] * length
    stream = np.concatenate(frames)
    return stream / np.linalg.norm(stream, axis=1, keepdims=True), labels


def decode_direction(means):
    return [f"subtask {int(np.argmax(m))}" for m in means]


def test_the_change_curve_is_one_minus_the_cosine_of_the_two_windows():
    stream, _ = step_stream([10, 10])
    curve = change_curve(stream, window=3)
    assert curve[10] == pytest.approx(1.0), "orthogonal directions either side: cosine 0"
    assert curve[9] == pytest.approx(1 - 1 / np.sqrt(1 + 2**2)), "(1,0) against (2/3, 1/3) scaled"
    assert curve[5] == pytest.approx(0.0, abs=1e-12) and curve[:3].sum() == 0 and curve[-2:].sum() == 0


def test_adaptive_segments_start_at_the_changes_and_none_where_nothing_changes():
    stream, labels = step_stream([12, 30, 7, 25], noise=0.05)
    starts = adaptive_starts(change_curve(stream), threshold=0.3)
    assert starts.tolist() == [0, 12, 42, 49]
    assert adaptive_starts(change_curve(stream), threshold=1.5).tolist() == [0]
    assert span_quality(decode_direction(segment_means(stream, starts)), starts, labels) == 1.0


def test_uniform_segments_and_their_decode_points():
    assert uniform_starts(25, 10).tolist() == [0, 10, 20]
    assert decode_points(np.array([0, 10, 20]), 25).tolist() == [4, 14, 22]
    stream, labels = step_stream([15, 15])
    starts = uniform_starts(30, 10)  # the middle segment straddles the change at frame 15
    decoded = decode_direction(segment_means(stream, starts))
    assert decoded == ["subtask 0", "subtask 0", "subtask 1"]  # a 5-5 tie: argmax takes the first
    assert span_quality(decoded, starts, labels) == pytest.approx(25 / 30)


def test_segment_means_are_the_mean_of_each_segment():
    stream = np.arange(12.0).reshape(6, 2)
    assert segment_means(stream, np.array([0, 2, 5])).tolist() == [[1, 2], [6, 7], [10, 11]]


def test_adaptive_decoding_needs_fewer_decodes_where_segments_differ_in_length():
    rng = np.random.default_rng(1)

    def streams(first_seed):
        made = [step_stream(rng.integers(8, 45, size=8), noise=0.2, seed=first_seed + k) for k in range(6)]
        return [e for e, _ in made], [t for _, t in made]

    seen, heldout = streams(0), streams(100)
    threshold = chosen_threshold(*seen, decode_direction)
    assert threshold in THRESHOLDS
    curves = selective_curves(*heldout, decode_direction, threshold)
    assert curves["adaptive_quality"] > 0.95, "one decode per segment, each the mean of its segment"
    assert curves["fewer"] > 2.85
    # Averaging a whole segment beats even a decode every frame, whose noise no span smooths: a lower bound.
    assert curves["fewer_is_lower_bound"] == (max(curves["uniform"]["quality"]) < curves["adaptive_quality"])
    every_frame = curves["uniform"]["every"].index(1)
    assert curves["uniform"]["rate"][every_frame] == pytest.approx(STREAM_HZ)
    assert curves["at_one_a_second"]["reference_rate"] == pytest.approx(1.0, abs=0.05)


def test_fewer_decodes_reads_the_lowest_adaptive_rate_at_the_reference_quality():
    result = fewer_decodes((1.0, 0.8), [(0.9, 0.85), (0.4, 0.81), (0.2, 0.7)])
    assert result["adaptive_rate"] == 0.4 and result["fewer"] == pytest.approx(2.5)
    assert np.isnan(fewer_decodes((1.0, 0.9), [(0.5, 0.8)])["fewer"])


def test_a_falling_block_is_still_being_put_in_the_bin():
    assert annotation("put the red block in the bin", "pick up the red block") == "put the red block in the bin"
    assert annotation("put the red block in the bin", "pick up the blue block") == "pick up the blue block"
    assert annotation(None, "pick up the red block") == "pick up the red block"


def test_every_wording_names_one_subtask():
    assert len(SUBTASK_OF) == 3 * len(WORDINGS) * 4
    assert SUBTASK_OF["go get the red one"] == "pick up the red block"
    assert SUBTASK_OF["bin the blue one"] == "put the blue block in the bin"


def test_a_filmed_stream_is_annotated_run_by_run_and_seeded():
    streams = film(2, seed=5, progress=False)
    again = film(1, seed=5, progress=False)[0]
    assert np.array_equal(streams[0].scene, again.scene) and streams[0].captions == again.captions
    for stream in streams:
        assert stream.scene.shape == stream.wrist.shape == (len(stream), 64, 64, 3)
        assert all(SUBTASK_OF[c] == s for c, s in zip(stream.captions, stream.subtasks, strict=True))
        runs = [s for i, s in enumerate(stream.subtasks) if i == 0 or stream.subtasks[i - 1] != s]
        assert len(runs) == 8, "clear_table: pick up and put in the bin, four blocks"
        assert len(stream.captions) == len(stream) and stream.seconds == len(stream) / STREAM_HZ
