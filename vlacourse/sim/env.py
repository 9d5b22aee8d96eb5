"""The tabletop environment, with the gymnasium API, at 50 Hz.

Action (4 numbers, each in [-1, 1]; values outside are clipped):
    [dx, dy, dz, gripper]: move the gripper's target by up to MAX_STEP metres per axis this step
    (1 = 1 cm, so 0.5 m/s at most), and open (-1) or close (+1) the gripper. The target is kept inside
    the reachable workspace; inverse kinematics turns it into joint targets (``vlacourse.sim.arm``).
    This is the end-effector-delta action of BridgeData and OpenVLA, with the gripper kept pointing down.

Observation (a dict whose keys are LeRobot's, so the dataset and the policies use the same names):
    "observation.images.scene"  (H, W, 3) uint8, the fixed camera facing the robot
    "observation.images.wrist"  (H, W, 3) uint8, the camera on the gripper
    "observation.state"         (9,) float32: gripper x, y, z (m), gripper opening (m), 5 joint angles (rad)
    "observation.environment_state"  (16,) float32: the objects' true positions (m), x, y, z of the red,
                                green, blue and yellow blocks, then x, y of the white and black zones.
                                A vision policy must not read it; it is there to label and to diagnose
                                (LeRobot's name for the simulator's object state, as in its PushT data)
    "task"                      the instruction, a string

Reward is 1 on the step the task succeeds, which ends the episode (terminated); an episode that runs
out of steps is truncated. ``info`` holds "success", "subtask" (the next step in words) and "task_spec".
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from vlacourse.render import Camera
from vlacourse.sim.arm import WORKSPACE_HIGH, WORKSPACE_LOW, Arm, inverse_kinematics
from vlacourse.sim.tasks import (
    BIN_CENTER,
    COLORS,
    MAX_STEPS,
    ZONES,
    TaskSpec,
    check_split,
    check_task_name,
    current_subtask,
    is_success,
    sample_layout,
    sample_task,
)

MAX_STEP = 0.01  # metres the gripper target moves per step at action 1.0
REACH_RADIUS = 0.49  # the grasp point is reachable within this distance of the base (see arm.py)
CAMERAS = ("scene", "wrist")
ACTION_NAMES = ("dx", "dy", "dz", "gripper")
STATE_NAMES = ("x", "y", "z", "opening", "shoulder_pan", "shoulder_lift", "elbow", "wrist_flex", "wrist_roll")
ENVIRONMENT_STATE_NAMES = (
    *(f"{c}_{axis}" for c in COLORS for axis in "xyz"),
    *(f"{z}_{axis}" for z in ZONES for axis in "xy"),
)


def clip_to_workspace(target: np.ndarray) -> np.ndarray:
    """Inside the box over the table and the sphere the arm can reach (pulled in horizontally, so the
    height is kept)."""
    target = np.clip(target, WORKSPACE_LOW, WORKSPACE_HIGH)
    horizontal, largest = np.hypot(target[0], target[1]), np.sqrt(REACH_RADIUS**2 - target[2] ** 2)
    if horizontal > largest:
        target[:2] *= largest / horizontal
    return target


class TabletopEnv(gym.Env):
    """The arm, four blocks, a bin and two zones; one task per episode.

    ``task`` picks the task (or pass ``options={"task": ...}`` to ``reset``); ``split="heldout"`` draws
    only the held-out colour/task combinations. ``cameras`` chooses which images to render (each one is
    a render per step: ``python -m vlacourse.bench sim`` times it); ``render()`` returns a larger picture
    of the scene for people.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        task: str = "pick_place",
        split: str = "train",
        image_size: int = 64,
        cameras: tuple[str, ...] = CAMERAS,
        render_size: tuple[int, int] = (360, 480),
    ):
        check_task_name(task)
        check_split(task, split)  # here, not at the first reset, where the mistake would be far from its cause
        unknown = [c for c in cameras if c not in CAMERAS]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}: choose from {CAMERAS}")
        if not isinstance(image_size, int) or not 8 <= image_size <= 480:
            raise ValueError(f"image_size must be an int between 8 and 480 pixels, got {image_size!r}")
        self.task, self.split, self.cameras = task, split, tuple(cameras)
        self.render_mode = "rgb_array"
        self.arm = Arm()
        self.policy_camera = Camera(self.arm.model, image_size, image_size, fast=True)
        self.render_size = render_size
        self._display_camera: Camera | None = None  # made on first render(): most runs never need it
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        image = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(
            {
                **{f"observation.images.{c}": image for c in self.cameras},
                "observation.state": gym.spaces.Box(-np.inf, np.inf, (len(STATE_NAMES),), np.float32),
                "observation.environment_state": gym.spaces.Box(
                    -np.inf, np.inf, (len(ENVIRONMENT_STATE_NAMES),), np.float32
                ),
                "task": gym.spaces.Text(max_length=100, charset="abcdefghijklmnopqrstuvwxyz "),
            }
        )
        self.task_spec: TaskSpec | None = None

    # The gymnasium API.
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        task = options.pop("task", self.task)
        check_task_name(task)
        color = options.pop("color", None)
        if options:
            raise ValueError(f"unknown reset option(s) {sorted(options)}: reset takes 'task' and 'color'")
        self.task_spec = sample_task(task, self.np_random, self.split, color)
        layout = sample_layout(self.np_random, self.task_spec)
        self.arm.reset(
            {f"{c}_block": p for c, p in layout.blocks.items()},
            {f"{z}_zone": p for z, p in layout.zones.items()},
            layout.gripper,
        )
        self.target = layout.gripper.copy()  # the commanded grasp point that actions move
        # clear_table's order, nearest the bin first: a fixed rule, so that the subtask labels are too.
        self.order = tuple(sorted(COLORS, key=lambda c: np.linalg.norm(layout.blocks[c][:2] - BIN_CENTER)))
        self.steps = 0
        self.max_steps = MAX_STEPS[task]
        return self._observation(), self._info(success=False)

    def step(self, action):
        if self.task_spec is None:
            raise RuntimeError("call env.reset(seed=...) before env.step(action): there is no episode yet")
        action = self.validate_action(action)
        self.target = clip_to_workspace(self.target + action[:3] * MAX_STEP)
        self.arm.command(inverse_kinematics(self.target).arm, gripper=float(action[3]))
        self.arm.step()
        self.steps += 1
        success = is_success(self.arm, self.task_spec)
        truncated = not success and self.steps >= self.max_steps
        return self._observation(), float(success), success, truncated, self._info(success)

    def render(self) -> np.ndarray:
        """A picture of the scene for people: ``render_size`` (360 x 480 by default), with shadows."""
        if self._display_camera is None:
            self._display_camera = Camera(self.arm.model, *self.render_size, fast=False)
        return self._display_camera.render(self.arm.data, "scene")

    # Helpers.
    def validate_action(self, action) -> np.ndarray:
        """The action as float64 (4,), clipped to [-1, 1]; a wrong shape or a NaN raises before anything moves."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (4,):
            raise ValueError(
                f"action must have shape (4,) = [dx, dy, dz, gripper], got shape {action.shape}; "
                "a batch or a chunk of actions must be stepped one action at a time"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(
                f"action {action.tolist()} contains NaN or infinity: check the policy's output "
                "(an untrained or diverged model, or unnormalised actions); the env did not step"
            )
        return np.clip(action, -1.0, 1.0)

    def state(self) -> np.ndarray:
        arm = self.arm
        return np.concatenate([arm.gripper_position(), [arm.gripper_opening()], arm.joint_positions()]).astype(
            np.float32
        )

    def environment_state(self) -> np.ndarray:
        arm = self.arm
        blocks = [arm.block_position(c) for c in COLORS]
        zones = [arm.zone_position(z)[:2] for z in ZONES]
        return np.concatenate(blocks + zones).astype(np.float32)

    def _observation(self) -> dict[str, Any]:
        observation = {
            f"observation.images.{c}": self.policy_camera.render(self.arm.data, c).copy() for c in self.cameras
        }
        observation["observation.state"] = self.state()
        observation["observation.environment_state"] = self.environment_state()
        observation["task"] = self.task_spec.instruction
        return observation

    def _info(self, success: bool) -> dict[str, Any]:
        subtask = self.next_subtask()
        return {"success": success, "subtask": subtask.text if subtask else "done", "task_spec": self.task_spec}

    def next_subtask(self):
        """The structured next step (for scripted experts and planners); None when done."""
        return current_subtask(self.arm, self.task_spec, self.order)
