"""The selective-decoding widget, driven without a browser on streams whose answer is known."""

import numpy as np
import pytest

from vlacourse.vlm.streams import change_curve, decode_stream, uniform_match
from vlacourse.widgets.selective import band_colour, selective_widget

SUBTASKS = [
    "pick up the red block",
    "put the red block in the bin",
    "pick up the blue block",
    "put the blue block in the bin",
]


def known_stream(lengths, seed):
    """One direction per subtask, with noise; the decoder names the direction nearest."""
    rng = np.random.default_rng(seed)
    stream = np.concatenate([np.eye(4)[k] + rng.normal(0, 0.15, (n, 4)) for k, n in enumerate(lengths)])
    truth = [SUBTASKS[k] for k, n in enumerate(lengths) for _ in range(n)]
    return stream / np.linalg.norm(stream, axis=1, keepdims=True), truth


def decode(means):
    return [SUBTASKS[int(np.argmax(m))] for m in means]


@pytest.fixture(scope="module")
def streams():
    return [known_stream([12, 30, 8, 40], seed=0), known_stream([25, 20, 35, 15], seed=1)]


@pytest.fixture(scope="module")
def view(streams):
    return selective_widget([e for e, _ in streams], [t for _, t in streams], decode)


def test_adaptive_decoding_finds_the_segments_and_uniform_needs_more_decodes(streams):
    embeddings, truth = streams[0]
    adaptive = decode_stream(embeddings, truth, decode, change_curve(embeddings), threshold=0.3)
    assert adaptive.starts.tolist() == [0, 12, 42, 50] and adaptive.quality == 1.0
    uniform = uniform_match(embeddings, truth, decode, adaptive.quality)
    assert uniform.quality >= adaptive.quality and len(uniform.starts) > 2 * len(adaptive.starts)
    assert uniform.per_frame == truth


def test_moving_the_controls_redraws(view):
    first, redraws = view.image.value, view.redraws
    assert first
    view.controls["threshold"].value = 0.4
    assert view.redraws == redraws + 1 and view.image.value != first
    view.set(stream=1, threshold=0.01)
    assert view.redraws == redraws + 2
    second = view.image.value
    view.controls["window"].value = 6
    assert view.redraws == redraws + 3 and view.image.value != second


def test_values_the_widget_cannot_take_are_refused(view):
    with pytest.raises(ValueError, match="out of range"):
        view.set(stream=5)


def test_bands_are_coloured_by_block_and_step():
    red_pick, red_put = band_colour("pick up the red block"), band_colour("put the red block in the bin")
    assert red_pick[0] == red_put[0] and red_pick[1] < red_put[1]
    assert band_colour(None)[0] == "grey"
