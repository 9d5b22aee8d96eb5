"""Seeing an episode: a rollout video, the gripper's path, and what the policy sees beside what you see.

The video is an animated WebP written by Pillow and shown as an <img>: it plays in JupyterLab, Colab
and VS Code with no ffmpeg on the system, and it stays inside the notebook when saved.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import plotly.graph_objects as go
from IPython.display import HTML
from PIL import Image
from plotly.subplots import make_subplots

from vlacourse.sim.env import ACTION_NAMES, MAX_STEP, TabletopEnv
from vlacourse.sim.evaluate import check_policy
from vlacourse.sim.tasks import BIN_CENTER, BIN_INNER_HALF, COLORS
from vlacourse.widgets.interactive import InteractiveImage, new_figure


@dataclass
class Rollout:
    """One recorded episode."""

    instruction: str
    frames: list[np.ndarray] = field(default_factory=list)  # what a person sees, every ``every`` steps
    policy_frames: list[np.ndarray] = field(default_factory=list)  # the policy's scene camera, every step
    gripper_path: list[np.ndarray] = field(default_factory=list)  # (x, y, z) of the grasp point, every step
    subtasks: list[str] = field(default_factory=list)  # info["subtask"], every step
    success: bool = False


def record(env: TabletopEnv, policy, seed: int, task: str | None = None, every: int = 2) -> Rollout:
    """Run one episode and keep its pictures: the display camera every ``every`` steps."""
    check_policy(policy, env)
    observation, info = env.reset(seed=seed, options={"task": task or env.task})
    policy.reset()
    rollout = Rollout(observation["task"])
    while True:
        if env.steps % every == 0:
            rollout.frames.append(env.render())
        if "observation.images.scene" in observation:
            rollout.policy_frames.append(observation["observation.images.scene"])
        rollout.gripper_path.append(env.arm.gripper_position())
        rollout.subtasks.append(info["subtask"])
        observation, _, terminated, truncated, info = env.step(policy.select_action(observation))
        if terminated or truncated:
            rollout.frames.append(env.render())
            rollout.success = terminated
            return rollout


def video(frames: list[np.ndarray], fps: float = 25, width: int | None = None) -> HTML:
    """An inline, looping animation of (H, W, 3) uint8 frames."""
    if not frames:
        raise ValueError("no frames to show: record an episode first")
    images = [Image.fromarray(np.asarray(frame)) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="webp",
        save_all=True,
        append_images=images[1:],
        duration=int(1000 / fps),
        loop=0,
        quality=80,
        method=0,
    )
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    size = f' width="{width}"' if width else ""
    return HTML(f'<img src="data:image/webp;base64,{encoded}"{size}/>')


def plot_gripper_path(rollout: Rollout, env: TabletopEnv | None = None):
    """The grasp point seen from above (with the bin, and the blocks where they ended) and its height over time."""
    path = np.array(rollout.gripper_path)  # (T, 3)
    time_s = np.arange(len(path)) / env.metadata["render_fps"] if env else np.arange(len(path))
    fig, (top, side) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=[1, 1.4])
    top.plot(path[:, 1], path[:, 0], color="0.3", linewidth=1.5)
    top.scatter(path[0, 1], path[0, 0], marker="o", color="k", zorder=3, label="start")
    top.scatter(path[-1, 1], path[-1, 0], marker="x", color="k", zorder=3, label="end")
    corner = BIN_CENTER[::-1] - BIN_INNER_HALF  # plotted as (y, x)
    top.add_patch(plt.Rectangle(corner, 2 * BIN_INNER_HALF, 2 * BIN_INNER_HALF, fill=False, color="0.4", linewidth=2))
    top.text(BIN_CENTER[1], BIN_CENTER[0], "bin", ha="center", va="center", color="0.4")
    if env is not None:
        for color in COLORS:
            block = env.arm.block_position(color)
            top.scatter(block[1], block[0], s=90, marker="s", color=color, edgecolor="k")
    top.set(xlabel="y (m)", ylabel="x (m, away from the robot)", title="seen from above", aspect="equal")
    top.invert_xaxis()  # as the scene camera, which faces the robot, shows it
    top.legend(loc="best", fontsize=8)
    side.plot(time_s, path[:, 2], color="0.3")
    side.set(xlabel="time (s)" if env else "step", ylabel="height of the grasp point (m)", title=rollout.instruction)
    fig.tight_layout()
    return fig


def commanded_offsets(actions: np.ndarray) -> np.ndarray:
    """(..., H, D) actions -> (..., H + 1, 3): where the chunk commands the gripper, in cm from where it starts
    (each action moves the target by up to ``MAX_STEP``). The arm follows its target closely, not exactly."""
    steps = np.cumsum(actions[..., :3] * MAX_STEP * 100, axis=-2)  # (..., H, 3)
    return np.concatenate([np.zeros_like(steps[..., :1, :]), steps], axis=-2)


def plot_denoising(path: np.ndarray, demonstrated: np.ndarray | None = None, title: str = "") -> go.Figure:
    """A plotly figure with a slider over the Euler steps of a flow policy (``FlowVLA.denoising_path``): for
    each starting noise, the gripper path its chunk commands, seen from above and in height, and the gripper
    command; the demonstrated chunk dashed. ``path``: (N + 1, S, H, D) in action units, noise first."""
    if path.ndim != 4:
        raise ValueError(
            f"path must be (Euler steps + 1, samples, chunk_size, action_dim), as "
            f"FlowVLA.denoising_path returns it, got shape {path.shape}"
        )
    steps, samples = path.shape[:2]
    offsets = commanded_offsets(path)  # (N + 1, S, H + 1, 3)
    sample_style = dict(line=dict(color="royalblue"), opacity=0.55, legendgroup="samples", name="from noise")

    def panels(xyz: np.ndarray, gripper: np.ndarray, style: dict, legend: bool) -> list[go.Scatter]:
        """One chunk's three lines: from above (y to the left, as the scene camera sees it), height, gripper."""
        return [
            go.Scatter(x=xyz[:, 1], y=xyz[:, 0], mode="lines+markers", marker=dict(size=3), showlegend=legend, **style),
            go.Scatter(y=xyz[:, 2], mode="lines", showlegend=False, **style),
            go.Scatter(y=gripper, mode="lines", showlegend=False, **style),
        ]

    def step_traces(k: int) -> list[go.Scatter]:
        return [
            line
            for s in range(samples)
            for line in panels(offsets[k, s], path[k, s, :, 3], sample_style, legend=s == 0)
        ]

    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("commanded path, from above", "height", "gripper"),
        column_widths=[0.4, 0.3, 0.3],
    )
    for i, trace in enumerate(step_traces(0)):
        fig.add_trace(trace, row=1, col=1 + i % 3)
    if demonstrated is not None:  # added after the samples: the frames replace the first 3 * S traces only
        demo_style = dict(line=dict(color="black", dash="dash"), legendgroup="demo", name="demonstrated")
        for i, trace in enumerate(panels(commanded_offsets(demonstrated), demonstrated[:, 3], demo_style, True)):
            fig.add_trace(trace, row=1, col=1 + i)
    fig.frames = [go.Frame(data=step_traces(k), name=str(k), traces=list(range(3 * samples))) for k in range(steps)]
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    fig.update_layout(
        title=title,
        height=380,
        margin=dict(t=70, b=90),
        sliders=[
            dict(
                active=0,
                currentvalue=dict(prefix="Euler step "),
                pad=dict(t=40),
                steps=[
                    dict(label=f"{k}: t = {1 - k / (steps - 1):.1f}", method="animate", args=[[str(k)], jump])
                    for k in range(steps)
                ],
            )
        ],
    )
    # Fixed axes, spanning every step's chunks, so that the slider moves the lines and not the scale.
    dx, dy, dz = 1.1 * np.abs(offsets).max(axis=(0, 1, 2))  # (3,): the largest offset on each axis
    grip = 1.1 * np.abs(path[..., 3]).max()
    fig.update_xaxes(range=[dy, -dy], title_text="dy (cm)", row=1, col=1)
    fig.update_yaxes(range=[-dx, dx], title_text="dx (cm)", row=1, col=1)
    fig.update_yaxes(range=[-dz, dz], title_text="dz (cm)", row=1, col=2)
    fig.update_yaxes(range=[-grip, grip], title_text="command", row=1, col=3)
    fig.update_xaxes(title_text="chunk step", row=1, col=2)
    fig.update_xaxes(title_text="chunk step", row=1, col=3)
    return fig


def side_by_side(policy_image: np.ndarray, display_image: np.ndarray, titles=("what the policy sees", "what you see")):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), width_ratios=[1, display_image.shape[1] / display_image.shape[0]])
    for ax, image, title in zip(axes, (policy_image, display_image), titles, strict=True):
        ax.imshow(image)
        ax.set_title(f"{title} ({image.shape[1]}x{image.shape[0]})")
        ax.axis("off")
    fig.tight_layout()
    return fig


class DatasetBrowser:
    """Sliders over a dataset's episodes and frames: both cameras, the actions with a cursor, the labels."""

    def __init__(self, dataset):
        self.dataset = dataset
        longest = int(max(dataset.episode_data_index["to"] - dataset.episode_data_index["from"]))
        self.view = InteractiveImage(
            self.draw,
            {
                "episode": widgets.IntSlider(value=0, min=0, max=dataset.num_episodes - 1, description="episode"),
                "frame": widgets.IntSlider(value=0, min=0, max=longest - 1, description="frame"),
            },
        )

    def draw(self, episode: int, frame: int):
        data = self.dataset.episode(episode)
        frame = min(frame, len(data["action"]) - 1)  # episodes differ in length: stop at the last frame
        fig = new_figure(11, 3.2)
        scene, wrist, actions = fig.subplots(1, 3, width_ratios=[1, 1, 2.4])
        for ax, camera in ((scene, "scene"), (wrist, "wrist")):
            ax.imshow(data[f"observation.images.{camera}"][frame])
            ax.set_title(f"{camera} camera, frame {frame}", fontsize=9)
            ax.axis("off")
        time_s = data["timestamp"]
        for dimension, name in enumerate(ACTION_NAMES):
            actions.plot(time_s, data["action"][:, dimension], label=name, linewidth=1.2)
        actions.axvline(time_s[frame], color="k", linewidth=1)
        actions.set(xlabel="time (s)", ylabel="action", ylim=(-1.1, 1.1))
        actions.legend(loc="upper right", fontsize=8, ncols=4)
        subtask = self.dataset.subtasks[data["subtask_index"][frame]]
        actions.set_title(f'"{self.dataset.tasks[data["task_index"][0]]}"  now: {subtask}', fontsize=9)
        return fig

    def _ipython_display_(self) -> None:
        self.view._ipython_display_()
