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
from IPython.display import HTML
from PIL import Image

from vlacourse.sim.env import ACTION_NAMES, TabletopEnv
from vlacourse.sim.evaluate import check_policy
from vlacourse.sim.tasks import BIN_CENTER, BIN_INNER_HALF, COLORS
from vlacourse.widgets import InteractiveImage, new_figure


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
    images[0].save(buffer, format="webp", save_all=True, append_images=images[1:], duration=int(1000 / fps),
                   loop=0, quality=80, method=0)
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


def side_by_side(policy_image: np.ndarray, display_image: np.ndarray, titles=("what the policy sees",
                 "what you see")):
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
        self.view = InteractiveImage(self.draw, {
            "episode": widgets.IntSlider(value=0, min=0, max=dataset.num_episodes - 1, description="episode"),
            "frame": widgets.IntSlider(value=0, min=0, max=longest - 1, description="frame"),
        })

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
