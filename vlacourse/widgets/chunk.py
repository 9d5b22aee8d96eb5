"""Notebook 08's pictures: the recorded sweep against the delay, and the chunk-overlap widget, one episode on
the simulated arm run by the shipped flow VLA under the chosen delay d, execution horizon s and strategy
(``vlacourse.chunking.rtc``), its first 40 steps drawn in detail and the arm shown to the episode's end.

    [ delay d ] [ horizon s ] [ strategy ] [ scene ]
    +----------------------------------------------------------------------------+
    | one switch: the previous chunk (dashed) and the new one (solid) on a time   |
    | axis; frozen, guided and free regions shaded; RTC's weights above them      |
    +----------------------------------------------------------------------------+
    | the executed actions (dx, dy, dz), each switch's jump marked, pauses grey   |
    +----------------------------------------------------------------------------+
    | the arm at four moments of the same run, the last its end: placed or failed |
    +----------------------------------------------------------------------------+

Each setting's run is computed once (a few seconds: the whole episode) and kept, so moving back to a setting
is instant.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from vlacourse.chunking.rtc import (
    CONTROL_PERIOD,
    MOTION,
    STRATEGIES,
    STRATEGY_NAMES,
    ExecutionConfig,
    Trace,
    boundary_jumps,
    guidance_mask,
    rms_jerk,
    run_episode,
    summarize,
)
from vlacourse.policies.flow import FlowVLA
from vlacourse.sim.env import ACTION_NAMES, TabletopEnv
from vlacourse.sim.evaluate import evaluation_seed
from vlacourse.widgets.interactive import InteractiveImage, new_figure

SEGMENT_STEPS = 40  # control steps drawn in detail: 0.8 s, long enough for several switches at any s
SHOWN_AT = 20  # the switch shown is the first at or after this step
FRAMES = 4  # pictures of the arm along the episode, the last at its end
FRAME_EVERY = 10  # control steps between rendered frames, of which FRAMES are shown
SCENES = 10  # the evaluation episodes a learner can choose (rtc's sweep runs the same seeds)
AXIS_COLOURS = ("tab:blue", "tab:orange", "tab:green")  # dx, dy, dz
REGION_COLOURS = {
    "frozen": "#9ecae1",
    "paused": "#cccccc",
    "guided": "#fdd0a2",
    "overlap": "#fdd0a2",
    "free": "#f0f0f0",
}


SWEEP_PANELS = (
    ("success", "success (%)", 100),
    ("closest_cm", "nearest the gripper came to the block (cm)", 1),
    ("discontinuity", "largest jump at a switch (action units)", 1),
    ("jerk", "RMS jerk (m/s$^3$)", 1),
)


def plot_sweep(recording: dict, policy_name: str = "the shipped flow VLA") -> Figure:
    """As the paper plots its simulated benchmark: each metric against the delay d, one line per strategy
    (success with its 95% interval, each strategy's points nudged sideways so that the bars stay apart)."""
    summary = summarize(recording["results"])
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), layout="constrained")
    for ax, (key, label, scale) in zip(axes.flat, SWEEP_PANELS, strict=True):
        for k, (strategy, cells) in enumerate(summary.items()):
            delays = np.array([int(d) for d in cells])
            values = np.array([cells[str(d)][key] for d in delays]) * scale
            if key == "success":
                low, high = (
                    np.array([cells[str(d)][f"success_{end}"] for d in delays]) * scale for end in ("low", "high")
                )
                x = delays + 0.06 * (k - (len(summary) - 1) / 2)
                ax.errorbar(
                    x, values, (values - low, high - values), fmt="o-", capsize=2, label=STRATEGY_NAMES[strategy]
                )
            else:
                ax.plot(delays, values, "o-", label=STRATEGY_NAMES[strategy])
        ax.set(xlabel="inference delay d (control steps of 20 ms)", ylabel=label, xticks=delays)
    axes[0, 0].set_ylim(-3, 103)  # success in percent, whatever it reaches
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(
        f"{policy_name}, {recording['recipe']['episodes']} episodes per point, "
        f"s = {recording['recipe']['horizon']}, H = {recording['chunk_size']}"
    )
    return fig


def sweep_table(recording: dict) -> str:
    """The recorded sweep as text: a row per strategy and delay, success with its 95% interval."""
    columns = ("strategy", "d", "success [95% interval]", "nearest (cm)", "largest jump", "RMS jerk")
    rows = [" ".join(f"{name:>{width}}" for name, width in zip(columns, (22, 2, 23, 12, 13, 9), strict=True))]
    for strategy, cells in summarize(recording["results"]).items():
        for d, m in cells.items():
            interval = f"{m['success']:.0%} [{m['success_low']:.0%}, {m['success_high']:.0%}]"
            rows.append(
                f"{STRATEGY_NAMES[strategy]:>22} {d:>2} {interval:>23} {m['closest_cm']:12.1f} "
                f"{m['discontinuity']:13.2f} {m['jerk']:9.0f}"
            )
    return "\n".join(rows)


def shown_switch(trace: Trace) -> int:
    """The index in ``trace.chunks`` of the chunk whose arrival is drawn: the first switch at or after SHOWN_AT."""
    later = [i for i, t in enumerate(trace.switches) if t >= SHOWN_AT and i > 0]
    return later[0] if later else len(trace.chunks) - 1


def regions(config: ExecutionConfig, request: int, previous_end: int, chunk_size: int) -> list[tuple[str, int, int]]:
    """(name, first step, end) of each region of the new chunk, whose inference started at step ``request``."""
    d, end = config.delay, request + chunk_size
    if config.strategy == "synchronous":
        return [("paused", request, request + d), ("free", request + d, end + d)]
    overlap = "guided" if config.strategy == "rtc" else "overlap"
    return [("frozen", request, request + d), (overlap, request + d, previous_end), ("free", previous_end, end)]


def draw_chunk_overlap(trace: Trace, config: ExecutionConfig, chunk_size: int) -> Figure:
    """The three panels for one run (see the module's diagram)."""
    fig = new_figure(10, 8.2)
    grid = fig.add_gridspec(3, FRAMES, height_ratios=[1.3, 1.1, 1])
    overlap, executed = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, :])
    i = shown_switch(trace)
    (previous_start, previous), (start, chunk) = trace.chunks[i - 1], trace.chunks[i]
    request = start - config.delay if config.strategy == "synchronous" else start
    for name, first, end in regions(config, request, previous_start + chunk_size, chunk_size):
        if end > first:
            overlap.axvspan(first - 0.5, end - 0.5, color=REGION_COLOURS[name], label=name)
    for axis, colour in enumerate(AXIS_COLOURS):
        overlap.plot(previous_start + np.arange(chunk_size), previous[:, axis], "--", color=colour, alpha=0.6)
        overlap.plot(start + np.arange(chunk_size), chunk[:, axis], "-", color=colour, label=ACTION_NAMES[axis])
    window = np.arange(previous_start, min(start + chunk_size, trace.steps))
    overlap.plot(window, trace.actions[window][:, MOTION], "k.", markersize=4)
    overlap.axvline(trace.switches[i] - 0.5, color="red", linewidth=1)
    weights = guidance_mask(config, chunk_size)
    if weights is not None:
        twin = overlap.twinx()
        twin.step(start + np.arange(chunk_size), weights, where="mid", color="purple", linewidth=1.5)
        twin.set(ylim=(0, 1.05), ylabel="guidance weight")
    overlap.set(
        xlabel="control step",
        ylabel="action (dashed: previous chunk)",
        title=f"the chunk observed at step {request} takes over at step {trace.switches[i]} (red line); dots: executed",
    )
    overlap.legend(fontsize=7, ncol=7, loc="lower left")

    steps = np.arange(trace.steps)
    for step in trace.paused:
        executed.axvspan(step - 0.5, step + 0.5, color=REGION_COLOURS["paused"], linewidth=0)
    for axis, colour in enumerate(AXIS_COLOURS):
        executed.plot(steps, trace.actions[:, axis], color=colour, label=ACTION_NAMES[axis])
    jumps = boundary_jumps(trace)
    switches = trace.switches[1 : len(jumps) + 1]
    for t in trace.switches:
        executed.axvline(t - 0.5, color="red", linewidth=0.6, linestyle=":")
    executed.scatter(
        switches,
        np.full(len(switches), trace.actions[:, MOTION].max() + 0.1),
        s=400 * jumps + 5,
        color="red",
        zorder=3,
        label="jump at a switch (size)",
    )
    executed.set(
        xlabel="control step",
        ylabel="executed action",
        xlim=(-0.5, SEGMENT_STEPS - 0.5),
        title=f"{STRATEGY_NAMES[config.strategy]}, d = {config.delay}, s = {config.horizon}: largest jump "
        f"{jumps.max() if len(jumps) else 0:.2f}, RMS jerk {rms_jerk(trace):.0f} m/s$^3$",
    )
    executed.legend(fontsize=7, ncol=4, loc="lower left")

    outcome = f"placed at {trace.steps * CONTROL_PERIOD:.1f} s" if trace.success else "failed: not placed"
    for k, i in enumerate(np.linspace(0, len(trace.frames) - 1, FRAMES).round().astype(int)):
        ax = fig.add_subplot(grid[2, k])
        ax.imshow(trace.frames[i])
        last = k == FRAMES - 1
        ax.set(title=f"step {trace.frame_steps[i]}" + (f": {outcome}" if last else ""), xticks=[], yticks=[])
        if last:
            ax.title.set_color("tab:green" if trace.success else "tab:red")
    return fig


def chunk_overlap_widget(policy: FlowVLA) -> InteractiveImage:
    """Sliders for d, s and the scene and a strategy selector over ``draw_chunk_overlap``; s stays in
    [max(d, 1), H - d]."""
    H = policy.config.chunk_size
    # MuJoCo's OpenGL context works only in the thread that first made it current, and a kernel may run widget
    # callbacks in another thread than the cell's (ipykernel 7 does): one thread owns the simulator.
    simulator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunk_overlap_widget")
    env = simulator.submit(TabletopEnv, "pick_place", cameras=policy.config.cameras, render_size=(180, 240)).result()
    runs: dict[tuple[ExecutionConfig, int], Trace] = {}

    def draw(delay: int, horizon: int, strategy: str, scene: int) -> Figure:
        config = ExecutionConfig(strategy, delay, horizon)
        if (config, scene) not in runs:
            runs[config, scene] = simulator.submit(
                run_episode, policy, config, evaluation_seed(0, scene), env=env, frame_every=FRAME_EVERY
            ).result()
        return draw_chunk_overlap(runs[config, scene], config, H)

    delay = widgets.IntSlider(value=2, min=0, max=H // 2, description="delay d")
    horizon = widgets.IntSlider(value=5, min=2, max=H - 2, description="horizon s")
    strategy = widgets.Dropdown(
        options=[(STRATEGY_NAMES[s], s) for s in STRATEGIES], value="rtc", description="strategy"
    )
    scene = widgets.IntSlider(value=0, min=0, max=SCENES - 1, description="scene")

    def bound_horizon(change) -> None:
        """Keep d <= s <= H - d; registered before the view's redraw, so that it never draws an invalid pair."""
        horizon.max = H  # widen first: each bound below moves the value at most once, into the valid range
        horizon.min = max(change["new"], 1)
        horizon.max = H - change["new"]

    delay.observe(bound_horizon, names="value")
    view = InteractiveImage(draw, {"delay": delay, "horizon": horizon, "strategy": strategy, "scene": scene})
    view.runs = runs  # tests read which settings were run
    return view
