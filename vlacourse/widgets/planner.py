"""The planner widget of notebook 10: see the planner's decision, then the arm carrying it out.

    task: [pick_place | stack]   block: [red v]   scene: 0 --o------ 19
    +--------------------------+ +--------------------------+
    | top view, the pick map   | | top view, the place map  |   maps: the planner's softmax over pixels,
    | over it; x = chosen pick | | given that pick; x, arrow|   drawn over what it saw
    +--------------------------+ +--------------------------+
    | frame | frame | frame | frame: placed / failed        |   the scene camera as the primitives run
    +-------------------------------------------------------+

A colour and task the planner never trained on together (``vlacourse.sim.tasks.HELD_OUT``) runs on the held-out
split, and the title says so. The logic is ``vlacourse.hierarchy.planning.plan_and_execute``; this module draws it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from vlacourse.hierarchy.planning import TASKS, PlannedEpisode, plan_and_execute
from vlacourse.widgets.interactive import InteractiveImage, new_figure

SCENES = 20  # seeded scenes the slider offers (from the evaluation seeds: never a demonstration's layout)
FRAMES = 4  # of the execution's frames, evenly spaced, the last at the episode's end


def probabilities(logits: np.ndarray) -> np.ndarray:
    """The planner's softmax over the view's pixels."""
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def draw_planned_episode(episode: PlannedEpisode) -> Figure:
    """The widget's picture of one episode (see the module)."""
    fig = new_figure(11, 6.2)
    grid = fig.add_gridspec(2, FRAMES)
    pick, place = episode.decision.pick, episode.decision.place
    maps = (("pick", episode.pick_logits, pick), ("place", episode.place_logits, place))
    for k, (name, logits, chosen) in enumerate(maps):
        ax = fig.add_subplot(grid[0, 2 * k : 2 * k + 2])
        ax.imshow(episode.view.rgb)
        probability = probabilities(logits)
        ax.imshow(probability, cmap="magma", alpha=np.clip(probability / probability.max(), 0, 0.85))
        ax.plot(pick[1], pick[0], "x", color="cyan", markersize=10, mew=2)
        if name == "place":
            ax.annotate("", xy=(place[1], place[0]), xytext=(pick[1], pick[0]), arrowprops={"color": "cyan"})
            ax.plot(place[1], place[0], "+", color="cyan", markersize=12, mew=2)
        ax.set(xticks=[], yticks=[], title=f"{name} map (softmax over pixels); chosen: pixel {chosen}")
    frames = np.linspace(0, len(episode.frames) - 1, FRAMES).round().astype(int)
    outcome = "done" if episode.success else "failed"
    for k, i in enumerate(frames):
        ax = fig.add_subplot(grid[1, k])
        ax.imshow(episode.frames[i])
        ax.set(xticks=[], yticks=[])
        if k == FRAMES - 1:
            ax.set_title(outcome, color="tab:green" if episode.success else "tab:red")
    held_out = " (a colour/task pair never trained on together)" if episode.split == "heldout" else ""
    fig.suptitle(f'"{episode.instruction}"{held_out}', fontsize=10)
    return fig


def planner_widget(planner, tokenizer) -> InteractiveImage:
    """Task, block colour and scene controls over the planner's decision and its execution."""
    from vlacourse.hierarchy.planning import EVALUATION_SEEDS
    from vlacourse.hierarchy.top_view import TopView
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.tasks import COLORS, HELD_OUT

    # MuJoCo's OpenGL context works only in the thread that first made it current, and a kernel may run widget
    # callbacks in another thread than the cell's (ipykernel 7 does): one thread owns the simulator.
    simulator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner_widget")
    view = simulator.submit(TopView).result()  # one renderer for every redraw, made in the simulator's thread
    environments: dict[tuple[str, str], TabletopEnv] = {}
    episodes: dict[tuple[str, str, int], PlannedEpisode] = {}

    def run(task: str, color: str, scene: int) -> PlannedEpisode:
        split = "heldout" if (task, color) in HELD_OUT else "train"
        if (task, split) not in environments:
            environments[task, split] = TabletopEnv(task, split=split, cameras=(), render_size=(180, 240))
        return plan_and_execute(planner, tokenizer, environments[task, split], view, EVALUATION_SEEDS + scene, color)

    def draw(task: str, color: str, scene: int) -> Figure:
        if (task, color, scene) not in episodes:
            episodes[task, color, scene] = simulator.submit(run, task, color, scene).result()
        return draw_planned_episode(episodes[task, color, scene])

    controls = {
        "task": widgets.ToggleButtons(options=list(TASKS), value="pick_place", description="task"),
        "color": widgets.Dropdown(options=list(COLORS), value="red", description="block"),
        "scene": widgets.IntSlider(value=0, min=0, max=SCENES - 1, description="scene"),
    }
    widget = InteractiveImage(draw, controls)
    widget.episodes = episodes  # tests read what was run
    return widget
