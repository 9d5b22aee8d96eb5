"""The scripted expert: waypoints per subtask, joined by minimum-jerk motions, turned into actions.

    env.next_subtask() --> waypoints (above the block, down, close, lift, ...) --> minimum-jerk path
         ^                                                                              |
         |   replan when the path is used up (a dropped block is simply picked again)   v
         +------------------------------ action = (next point - current target) / MAX_STEP

It reads the simulator's true state (block positions), which a learned policy never sees: it is the
teleoperator who makes the demonstrations. Options that later notebooks use:
- ``noise``: Gaussian noise on the executed motion; ``label`` keeps the clean action, so a dataset
  teaches how to return to the path from where the noise pushed the arm (DART, Laskey et al. 2017);
- ``recovery``: the first grasp misses on purpose, 4.5 cm off, and the expert then fixes it;
- ``style``: one of three operators who differ in speed, hover height and pauses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlacourse.sim.arm import CONTROL_HZ
from vlacourse.sim.env import MAX_STEP, TabletopEnv
from vlacourse.sim.tasks import BIN_CENTER, BLOCK_HALF, COLORS, REACH_HEIGHT


@dataclass(frozen=True)
class OperatorStyle:
    speed: float  # average speed of a motion, m/s (peak is 1.875x: minimum jerk)
    hover: float  # height of the grasp point when moving above blocks, m
    pause: int  # steps to wait while the gripper closes or opens


STYLES = {
    "steady": OperatorStyle(speed=0.20, hover=0.10, pause=8),
    "quick": OperatorStyle(speed=0.25, hover=0.08, pause=6),
    "careful": OperatorStyle(speed=0.16, hover=0.12, pause=10),
}
GRASP_HEIGHT = 0.022  # grasp point height when pinching a block on the table (pads just clear it)
PUSH_HEIGHT = 0.024  # grasp point height when pushing with closed fingers (pads 2 mm above the table)
# Pusher centre behind the block's centre: the half-diagonals of block (2.8 cm) and pusher (1.7 cm),
# plus 1 cm, so the fingers come down clear of the block whatever the push direction.
PUSH_OFFSET = 0.055
# Each block has its own corner of the bin, so clearing the table never drops one block on another.
BIN_SLOTS = {
    c: BIN_CENTER + 0.032 * np.array(corner)
    for c, corner in zip(COLORS, [(-1, -1), (1, -1), (-1, 1), (1, 1)], strict=True)
}


def minimum_jerk(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """(steps, 3) points from ``start`` (excluded) to ``end`` (included) with zero velocity and
    acceleration at both ends: s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5 (Flash and Hogan 1985)."""
    tau = np.arange(1, steps + 1) / steps
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    return start + s[:, None] * (end - start)


class ScriptedExpert:
    """A policy with the course's interface (``reset``, ``select_action``) that solves every task."""

    def __init__(
        self, env: TabletopEnv, style: str = "steady", noise: float = 0.0, recovery: bool = False, seed: int = 0
    ):
        if style not in STYLES:
            raise ValueError(f"unknown operator style {style!r}: choose one of {sorted(STYLES)}")
        if not 0.0 <= noise <= 1.0:
            raise ValueError(f"noise is a standard deviation in action units, in [0, 1]; got {noise}")
        self.env, self.style, self.noise, self.recovery = env, STYLES[style], noise, recovery
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        self.path: list[tuple[np.ndarray, float]] = []  # (grasp point, gripper command) per step
        self.missed_once = not self.recovery
        self.label = np.zeros(4)  # the clean action of the last step, for datasets

    def select_action(self, observation=None) -> np.ndarray:
        if not self.path:
            self.plan()
        point, gripper = self.path.pop(0)
        self.label = np.append(np.clip((point - self.env.target) / MAX_STEP, -1, 1), gripper)
        action = self.label.copy()
        if self.noise:
            action[:3] = np.clip(action[:3] + self.rng.normal(0, self.noise, 3), -1, 1)
        return action.astype(np.float32)

    # Planning.
    def move(self, start, end, gripper, slowdown: float = 1.0) -> np.ndarray:
        distance = np.linalg.norm(end - start)
        steps = max(4, int(np.ceil(distance / self.style.speed * slowdown * CONTROL_HZ)))
        self.path += [(p, gripper) for p in minimum_jerk(start, end, steps)]
        return end

    def wait(self, at, gripper, steps) -> None:
        self.path += [(at, gripper)] * steps

    # The two motions a planner's decision is carried out with (``vlacourse.hierarchy.primitives``).
    def pick(self, here: np.ndarray, grasp: np.ndarray) -> np.ndarray:
        """From ``here`` to above the grasp point, down, close, lift: returns where the motion ends."""
        above = np.array([grasp[0], grasp[1], self.style.hover])
        here = self.move(here, above, -1.0)
        here = self.move(here, grasp, -1.0)
        self.wait(grasp, 1.0, self.style.pause)
        return self.move(here, above + [0, 0, 0.03], 1.0)

    def place(self, here: np.ndarray, release: np.ndarray) -> np.ndarray:
        """Carry the held block above the release point, lower it there, open, rise: returns where it ends."""
        carry = np.array([release[0], release[1], max(self.style.hover, release[2]) + 0.04])
        here = self.move(here, carry, 1.0)
        here = self.move(here, release, 1.0)
        self.wait(release, -1.0, self.style.pause)
        return self.move(here, carry, -1.0)

    def plan(self) -> None:
        """The next subtask's motions, read from the simulator's true state; called when the path runs out."""
        subtask = self.env.next_subtask()
        here = self.env.target.copy()
        arm, pause = self.env.arm, self.style.pause
        if subtask is None:  # done: hold still, gripper open
            self.wait(here, -1.0, 1)
            return
        block = arm.block_position(subtask.color)
        if subtask.kind == "reach":
            above = block + [0, 0, REACH_HEIGHT]
            self.move(here, above, -1.0)
            self.wait(above, -1.0, pause)
        elif subtask.kind == "pick":
            aim = block.copy()
            if not self.missed_once:  # a recovery demonstration: aim 4.5 cm off, close on air, then retry
                aim[1] += 0.045 * self.rng.choice([-1, 1])  # past the 2.4 cm pads: a clean miss
                self.missed_once = True
            self.pick(here, np.array([aim[0], aim[1], GRASP_HEIGHT]))
        elif subtask.kind in ("place_in_bin", "place_on"):
            if subtask.kind == "place_in_bin":
                slot = BIN_SLOTS[subtask.color]
                release = np.array([slot[0], slot[1], 0.10])
            else:
                # Let go with the held block 4 mm above its resting place on the other: its centre one block
                # higher, and the grasp point GRASP_HEIGHT - BLOCK_HALF above the held block's centre.
                below = arm.block_position(subtask.target)
                release = below + [0, 0, 2 * BLOCK_HALF + 0.004 + GRASP_HEIGHT - BLOCK_HALF]
            self.place(here, release)
        elif subtask.kind == "push":
            self._plan_push(here, block, arm.zone_position(subtask.target)[:2])

    def _plan_push(self, here, block, goal_xy) -> None:
        """Closed fingers behind the block, pushing 5 cm at a time along the line through the block's
        centre to the zone's centre; re-aimed after each push, so a block that turns is steered back."""
        to_goal = goal_xy - block[:2]
        direction = np.append(to_goal / np.linalg.norm(to_goal), 0.0)
        behind = block - direction * PUSH_OFFSET
        behind[2] = PUSH_HEIGHT
        # In place: the fingers low, behind the block and in line with it. Judged from where they are,
        # not from the command: while pushing, position control gives way and the command runs ahead.
        fingers = self.env.arm.gripper_position()
        offset = fingers[:2] - block[:2]
        behind_by = -offset @ direction[:2]
        off_line = np.linalg.norm(offset + behind_by * direction[:2])
        if fingers[2] < 0.04 and 0.02 < behind_by < PUSH_OFFSET + 0.015 and off_line < 0.012:
            push = min(0.05, np.linalg.norm(to_goal))
            self.move(here, here + direction * push, 1.0, slowdown=2.0)  # slowly: the block slides
            return
        above_here = np.array([here[0], here[1], max(here[2], self.style.hover)])
        here = self.move(here, above_here, 1.0)
        here = self.move(here, behind + [0, 0, self.style.hover], 1.0)
        self.move(here, behind, 1.0)
        self.wait(behind, 1.0, self.style.pause)  # let the arm catch up with the command before pushing
