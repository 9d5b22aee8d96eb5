"""The gradient-blocking widget of notebook 07: where each loss's gradient goes, step by step of a recorded run.

    [x] stop-gradient   [x] VLM losses   loss: flow | FAST | VQA   step: 0 --o------------ 6000
    +----------------------------------------------+  +------------------------------------+
    |  FAST   VQA                flow matching      |  | question accuracy of the VLM       |
    |    \\   /                        |             |  |  (one line per run, this one bold; |
    |  VLM layer 4  <--keys, values--x-- expert 4   |  |   the step marked); this run's     |
    |      ...                        ...           |  |   success on the arm, dotted, if   |
    |  VLM layer 1  <--keys, values--x-- expert 1   |  |   the recording tracked it         |
    |  projector  token embeddings     expert input |  |                                    |
    |  vision encoder                               |  |                                    |
    +----------------------------------------------+  +------------------------------------+

Each box is a part of the network (``InsulatedVLA.parts``), coloured by the norm of the chosen loss's
gradient on its parameters at that step, grey where it is exactly zero; on a VLA that points
(``InsulationRecipe.pointing``) the pointer is one more box on the VLM's side and its loss one more
choice. Each arrow from the expert to a VLM layer is the expert reading that layer's keys and values; the
gradient that arrives there is written on it, and a stop-gradient crosses it out. The two switches pick
one of the four recorded runs (``vlacourse.policies.insulation.RUNS``), whose measurements
``python -m vlacourse.policies.insulation record`` made.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from vlacourse.policies.insulation import load_recorded_runs, run_name
from vlacourse.widgets.interactive import InteractiveImage, new_figure

LOSS_NAMES = {"flow": "flow matching", "fast": "FAST tokens", "vqa": "VQA", "point": "pointing"}
COLOURS = colormaps["viridis"]
NORMS = LogNorm(1e-3, 1e2)  # gradient norms from 0.001 to 100 span the colour map; 0 is drawn grey
ZERO = "#d9d9d9"

# Where each part sits in the drawing: (x centre, y centre) in a 10 x 10 box.
LAYOUT = {
    "vision encoder": (1.3, 0.6),
    "projector": (1.3, 1.6),
    "token embeddings": (3.7, 1.6),
    **{f"VLM layer {i}": (2.5, 1.6 + i) for i in range(1, 5)},
    "expert input": (7.5, 1.6),
    **{f"expert layer {i}": (7.5, 1.6 + i) for i in range(1, 5)},
    "expert output": (7.5, 6.6),
    "pointer": (4.85, 6.6),  # drawn only for a VLA that points (``InsulationRecipe.pointing``)
}
LOSS_AT = {"fast": (1.1, 7.9), "vqa": (2.9, 7.9), "point": (4.7, 7.9), "flow": (7.5, 7.9)}
BOX_W, BOX_H = 2.6, 0.62


def colour_of(norm: float):
    return ZERO if norm == 0 else COLOURS(NORMS(np.clip(norm, NORMS.vmin, NORMS.vmax)))


def draw_network(
    ax, norms: dict[str, float] | None, loss: str, stop_gradient: bool, losses=tuple(LOSS_NAMES), points: bool = False
) -> None:
    """The network on ``ax``: parts coloured by ``norms`` (None: the run does not train with this loss), with
    the ``losses`` the recording knows, and the pointer if the VLA ``points``."""
    norms = norms or {}
    ax.set(xlim=(0, 10), ylim=(-0.4, 8.5), aspect="equal")
    ax.axis("off")
    for part, (x, y) in LAYOUT.items():
        if part == "pointer" and not points:
            continue
        norm = norms.get(part, 0.0)
        ax.add_patch(_box(x, y, BOX_W if part.startswith(("VLM", "expert")) else 2.3, colour_of(norm)))
        dark = norm > 0 and NORMS(min(norm, NORMS.vmax)) < 0.6
        ax.text(
            x,
            y,
            f"{part}\n{norm:.2g}" if norm else f"{part}\n0",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if dark else "black",
        )
    ax.text(
        5,
        -0.15,
        "arrows: the backward pass, from each loss toward the parameters it reaches",
        ha="center",
        fontsize=7,
        color="dimgrey",
    )
    shown = {name: at for name, at in LOSS_AT.items() if name in losses}
    for name, (x, y) in shown.items():
        chosen = name == loss
        ax.text(
            x,
            y,
            LOSS_NAMES[name],
            ha="center",
            va="center",
            fontsize=8,
            weight="bold" if chosen else "normal",
            bbox={"boxstyle": "round", "fc": "#ffe9a8" if chosen else "white", "ec": "black" if chosen else "grey"},
        )
    # The backward path of the chosen loss: from the loss down to the parts it reaches.
    for name, (x, y) in shown.items():
        target = {"flow": "expert output", "point": "pointer"}.get(name, "VLM layer 4")
        _arrow(
            ax,
            (x, y - 0.25),
            (LAYOUT[target][0] + (x - LAYOUT[target][0]) * 0.5, LAYOUT[target][1] + BOX_H / 2),
            colour_of(norms.get(target, 0.0)) if name == loss else ZERO,
        )
    chain = [
        ("expert output", "expert layer 4"),
        ("expert layer 4", "expert layer 3"),
        ("expert layer 3", "expert layer 2"),
        ("expert layer 2", "expert layer 1"),
        ("expert layer 1", "expert input"),
        ("VLM layer 4", "VLM layer 3"),
        ("VLM layer 3", "VLM layer 2"),
        ("VLM layer 2", "VLM layer 1"),
        ("VLM layer 1", "projector"),
        ("VLM layer 1", "token embeddings"),
        ("projector", "vision encoder"),
    ]
    for upper, lower in chain:
        (x0, y0), (x1, y1) = LAYOUT[upper], LAYOUT[lower]
        _arrow(
            ax,
            (x1 if abs(x1 - x0) > 0.5 else x0, y0 - BOX_H / 2),
            (x1, y1 + BOX_H / 2),
            colour_of(norms.get(lower, 0.0)),
        )
    if points:  # the pointer reads the last layer's hidden state (and the patches): its gradient goes on there
        (x0, y0), (x1, y1) = LAYOUT["pointer"], LAYOUT["VLM layer 4"]
        _arrow(ax, (x0 - 1.15, y0), (x1 + 1.0, y1 + BOX_H / 2), colour_of(norms.get("VLM layer 4", 0.0)))
    for i in range(1, 5):  # the expert reads layer i's keys and values; its gradient goes back along this arrow
        y = LAYOUT[f"VLM layer {i}"][1]
        arriving = norms.get(f"keys, values {i}", 0.0)
        start, end = LAYOUT[f"expert layer {i}"][0] - BOX_W / 2, LAYOUT[f"VLM layer {i}"][0] + BOX_W / 2
        _arrow(ax, (start, y), (end, y), ZERO if stop_gradient else colour_of(arriving))
        ax.text((start + end) / 2, y + 0.18, f"keys, values: {arriving:.2g}", ha="center", fontsize=6)
        if stop_gradient:
            ax.text(
                (start + end) / 2, y - 0.05, "X", ha="center", va="center", fontsize=11, color="#c0392b", weight="bold"
            )


def _box(x: float, y: float, width: float, colour) -> FancyBboxPatch:
    return FancyBboxPatch(
        (x - width / 2, y - BOX_H / 2), width, BOX_H, boxstyle="round,pad=0.02", fc=colour, ec="black", lw=0.6
    )


def _arrow(ax, start, end, colour) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2})


def recorded_losses(recording: dict) -> list[str]:
    """The losses some run of the recording trains with, in ``LOSS_NAMES``' order."""
    trained = {loss for record in recording["runs"].values() for loss in record["gradient_norms"][0]}
    return [loss for loss in LOSS_NAMES if loss in trained]


def points(recording: dict) -> bool:
    """Whether the recording's VLA points (its runs were built on the VLM that points)."""
    return "pointer" in recording["runs"]["naive"]["gradient_norms"][0]["flow"]


def draw_gradient_flow(recording: dict, stop_gradient: bool, vlm_losses: bool, loss: str, step: int) -> Figure:
    """The widget's picture for one setting of its controls (see the module)."""
    run = run_name(stop_gradient, vlm_losses)
    record = recording["runs"][run]
    if step not in record["measure_steps"]:
        raise ValueError(f"step {step} was not measured: choose one of {record['measure_steps']}")
    at = record["measure_steps"].index(step)
    norms = record["gradient_norms"][at].get(loss)
    fig = new_figure(11, 4.6)
    network, curves = fig.subplots(1, 2, width_ratios=[1.5, 1])
    draw_network(network, norms, loss, stop_gradient, recorded_losses(recording), points=points(recording))
    trained = "" if norms is not None else f" (this run does not train with the {LOSS_NAMES[loss]} loss)"
    network.set_title(f"{run}: gradient of the {LOSS_NAMES[loss]} loss at step {step}{trained}", fontsize=9)
    fig.colorbar(ScalarMappable(NORMS, COLOURS), ax=network, shrink=0.6, label="gradient norm (grey: exactly 0)")
    start = record["vqa_accuracy"][0]
    for name, other in recording["runs"].items():
        chosen = name == run
        curves.plot(
            other["measure_steps"],
            other["vqa_accuracy"],
            lw=2.5 if chosen else 1,
            alpha=1 if chosen else 0.5,
            label=name,
        )
    curves.plot([step], [record["vqa_accuracy"][at]], "o", color="black")
    curves.axhline(0.95 * start, ls="--", color="grey", lw=0.8, label="95% of the start")
    title = f"{run} at step {step}: {record['vqa_accuracy'][at]:.0%} of the questions"
    if "success_steps" in record:  # tracked on the arm as it trained (``InsulationRecipe.track_success``)
        curves.plot(record["success_steps"], record["success_rates"], ":", color="black", label=f"{run}: success")
        if step in record["success_steps"]:
            title += f", {record['success_rates'][record['success_steps'].index(step)]:.0%} on the arm"
    ylabel = "question accuracy" + (" / success on the arm (dotted)" if "success_steps" in record else "")
    curves.set(xlabel="training step", ylabel=ylabel, ylim=(0, 1))
    curves.legend(fontsize=7, loc="lower left")
    curves.set_title(title, fontsize=9)
    return fig


def gradient_flow_widget(recording: dict | None = None) -> InteractiveImage:
    """The widget on the shipped recording (or on ``recording``, as ``record_runs`` returns it)."""
    recording = recording or load_recorded_runs()
    steps = recording["runs"]["insulated"]["measure_steps"]
    controls = {
        "stop_gradient": widgets.Checkbox(value=True, description="stop-gradient"),
        "vlm_losses": widgets.Checkbox(value=True, description="VLM losses (FAST, VQA)"),
        "loss": widgets.ToggleButtons(
            options=[(LOSS_NAMES[key], key) for key in recorded_losses(recording)], value="flow", description="loss"
        ),
        "step": widgets.SelectionSlider(options=steps, value=steps[0], description="step"),
    }
    return InteractiveImage(lambda **values: draw_gradient_flow(recording, **values), controls)
