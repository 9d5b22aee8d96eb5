"""The selective-decoding widget of notebook 12: where VL-JEPA's stream of embeddings changes, and what decoding
only there costs and gets right, beside uniform decoding.

    stream: 0 --o---- 9        threshold: 0.002 ----o---- 0.5 (log)        window: 1 --o---- 8 frames
    +--------------------------------------------------------------+
    | change curve over the stream's seconds; threshold; | decodes |
    | truth      [pick red  ][put red ][pick blue   ][put blue]... |   bands coloured by the block,
    | adaptive   [pick red  ][put red ][pick blue   ][put blue]... |   light: pick up, dark: put in the bin
    | uniform    [  ][  ][  ][  ][  ][  ][  ][  ][  ][  ][  ]...   |   at the fewest decodes that match adaptive
    +--------------------------------------------------------------+
    title: decodes and quality of each

The logic is ``vlacourse.vlm.streams`` (``decode_stream``, ``uniform_match``); this module draws it.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from vlacourse.vlm.streams import STREAM_HZ, THRESHOLDS, DecodedStream, decode_stream, uniform_match
from vlacourse.widgets.interactive import InteractiveImage, new_figure

BLOCK_COLOURS = {"red": "#d62728", "green": "#2ca02c", "blue": "#1f77b4", "yellow": "#e6b800"}


def band_colour(subtask: str | None) -> tuple[str, float]:
    """(colour, alpha) of a subtask's band: the block's colour, light for picking it up, dark for putting it away;
    grey for a decode that names no subtask."""
    if subtask is None:
        return "grey", 0.6
    colour = next(c for c in BLOCK_COLOURS if f" {c} " in subtask)
    return BLOCK_COLOURS[colour], 0.4 if subtask.startswith("pick") else 0.95


def draw_band(ax, y: float, per_frame: list[str | None], label: str) -> None:
    seconds = np.arange(len(per_frame) + 1) / STREAM_HZ
    start = 0
    for t in range(1, len(per_frame) + 1):
        if t == len(per_frame) or per_frame[t] != per_frame[start]:
            colour, alpha = band_colour(per_frame[start])
            ax.barh(y, seconds[t] - seconds[start], left=seconds[start], color=colour, alpha=alpha, height=0.8)
            start = t
    ax.text(-0.3, y, label, ha="right", va="center", fontsize=9)


def draw_selective(truth: list[str], adaptive: DecodedStream, uniform: DecodedStream, curve: np.ndarray, threshold):
    """The widget's picture of one stream (see the module)."""
    fig = new_figure(11, 4.4)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1.1, 1])
    seconds = np.arange(len(truth)) / STREAM_HZ
    top.plot(seconds, curve, color="black", lw=1)
    top.axhline(threshold, color="tab:orange", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    for start in adaptive.starts[1:]:
        top.axvline(start / STREAM_HZ, color="tab:orange", alpha=0.5, lw=1)
    top.plot(adaptive.points / STREAM_HZ, curve[adaptive.points], "v", color="tab:orange", label="adaptive decode")
    top.set(yscale="symlog", ylabel="change", title="the embedding stream's change curve")
    top.set_yscale("symlog", linthresh=0.01)
    top.legend(loc="upper right", fontsize=8)
    for y, (per_frame, label) in enumerate(
        [
            (uniform.per_frame, f"uniform, every {uniform.every / STREAM_HZ:.1f} s"),
            (adaptive.per_frame, "adaptive"),
            (truth, "annotation"),
        ]
    ):
        draw_band(bottom, y, per_frame, label)
    bottom.plot(uniform.points / STREAM_HZ, np.zeros(len(uniform.points)), "|", color="black", markersize=12)
    bottom.plot(adaptive.points / STREAM_HZ, np.ones(len(adaptive.points)), "|", color="black", markersize=12)
    bottom.set(yticks=[], xlabel="seconds", xlim=(-0.1, len(truth) / STREAM_HZ + 0.1))
    fig.suptitle(
        f"adaptive: {len(adaptive.starts)} decodes, {adaptive.quality:.0%} of frames right;  "
        f"uniform needs {len(uniform.starts)} for {uniform.quality:.0%}  "
        f"({len(uniform.starts) / len(adaptive.starts):.1f}x as many)",
        fontsize=10,
    )
    return fig


def selective_widget(
    embeddings: list[np.ndarray], truths: list[list[str]], decode, threshold: float = 0.05
) -> InteractiveImage:
    """Stream and threshold controls over adaptive decoding of held-out streams; ``embeddings`` (T, D) per stream,
    ``decode`` turns (segments, D) mean embeddings into the subtasks they name; ``threshold``, the one to start at."""
    from functools import cache

    from vlacourse.vlm.streams import change_curve

    @cache
    def curve(stream: int, window: int) -> np.ndarray:
        return change_curve(embeddings[stream], window)

    def draw(stream: int, threshold: float, window: int) -> Figure:
        adaptive = decode_stream(embeddings[stream], truths[stream], decode, curve(stream, window), threshold, window)
        uniform = uniform_match(embeddings[stream], truths[stream], decode, adaptive.quality)
        return draw_selective(truths[stream], adaptive, uniform, curve(stream, window), threshold)

    controls = {
        "stream": widgets.IntSlider(value=0, min=0, max=len(embeddings) - 1, description="stream"),
        "threshold": widgets.FloatLogSlider(
            value=threshold,
            base=10,
            min=np.log10(THRESHOLDS[0]),
            max=np.log10(THRESHOLDS[-1]),
            step=0.05,
            description="threshold",
        ),
        # The change curve's window: how many frames each side are averaged (more smooths more flicker away, and
        # no two segments start closer than this).
        "window": widgets.IntSlider(value=3, min=1, max=8, description="window"),
    }
    return InteractiveImage(draw, controls)
