"""A planner's decision carried out: a pick pixel and a place pixel of the top view become the arm's motions.

CLIPort (Shridhar, Manuelli, Fox, CoRL 2021, arXiv 2109.12098, Sec. 3) decides a pick pose and a place pose on its
top-down view and leaves the motion between them to a scripted primitive. Ours does the same with the
scripted expert's own motions (``ScriptedExpert.pick`` and ``.place``: minimum jerk, the operator style's hover
height and pauses), so a failure is the decision's, not the motion's:

    pick pixel  + the height seen there              --> grasp point, GRASP_DEPTH under that surface
    place pixel + the highest surface around it      --> release point, RELEASE_CLEARANCE above it
                                                          |
    ScriptedExpert.pick(grasp point), then .place(release point) --> 50 Hz actions, as in a demonstration

The executor never reads where the blocks are: only the two pixels and the top view's heights. The decision a
demonstration teaches (``expert_decision``) is read from the simulator's true state, as the expert's own
motions are: the named block's top, and where the expert lets go (its bin slot, or the other block's top).

Where ours differs, and why: CLIPort's parallel-gripper tasks also decide a rotation for the pick and the
place; our blocks are picked from straight above whatever their yaw (the fingers open wider than a block's
diagonal), so a decision is two pixels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from vlacourse.hierarchy.top_view import TopImage, pixel_of, point_of
from vlacourse.sim.expert import BIN_SLOTS, GRASP_HEIGHT, ScriptedExpert
from vlacourse.sim.tasks import BLOCK_HALF

GRASP_DEPTH = 2 * BLOCK_HALF - GRASP_HEIGHT  # the grasp point under a block's top: the expert's, 18 mm
RELEASE_CLEARANCE = 0.026  # the grasp point over the surface it lets go above: the expert's stacking release
SURFACE_WINDOW = 1  # pixels each side of the place pixel searched for the highest surface (3 x 3: 2 cm)
FRAME_EVERY = 25  # control steps between the frames ``execute`` keeps for people (half a second)


@dataclass(frozen=True)
class Decision:
    """Where to pick and where to place, as pixels (row, column) of the top view."""

    pick: tuple[float, float]
    place: tuple[float, float]


def grasp_point(view: TopImage, pick: tuple[float, float]) -> np.ndarray:
    """The grasp point under the pick pixel: GRASP_DEPTH below the surface the pixel sees."""
    row, column = _inside(view, pick)
    return point_of([pick], view.heights[row, column] - GRASP_DEPTH)[0]


def release_point(view: TopImage, place: tuple[float, float]) -> np.ndarray:
    """The release point over the place pixel: RELEASE_CLEARANCE above the highest surface around it."""
    row, column = _inside(view, place)
    w = SURFACE_WINDOW
    surface = view.heights[max(0, row - w) : row + w + 1, max(0, column - w) : column + w + 1].max()
    return point_of([place], surface + RELEASE_CLEARANCE)[0]


def _inside(view: TopImage, pixel: tuple[float, float]) -> tuple[int, int]:
    rows, columns = view.heights.shape
    row, column = round(pixel[0]), round(pixel[1])
    if not (0 <= row < rows and 0 <= column < columns):
        raise ValueError(f"pixel {pixel} is outside the top view ({rows} rows x {columns} columns)")
    return row, column


def expert_decision(env) -> Decision:
    """The decision the scripted expert acts out in ``env``'s episode (pick_place or stack), from the true state:
    the label a planner learns from."""
    spec, arm = env.task_spec, env.arm
    block = arm.block_position(spec.color)
    if spec.task == "pick_place":
        slot = BIN_SLOTS[spec.color]
        place = np.array([slot[0], slot[1], 0.0])  # the bin's slot: where the expert lets go, seen from above
    elif spec.task == "stack":
        place = arm.block_position(spec.target) + [0, 0, BLOCK_HALF]  # the other block's top
    else:
        raise ValueError(f"a decision is a pick and a place: pick_place or stack, not {spec.task!r}")
    pick, place = pixel_of(np.stack([block + [0, 0, BLOCK_HALF], place]))
    return Decision(tuple(pick), tuple(place))


class PrimitiveExecutor(ScriptedExpert):
    """A policy (``select_action``) that carries out one decision with the expert's motions, then holds still."""

    def __init__(self, env, view: TopImage, decision: Decision, style: str = "steady"):
        super().__init__(env, style)
        self.grasp, self.release = grasp_point(view, decision.pick), release_point(view, decision.place)
        self.carried_out = False

    def plan(self) -> None:
        here = self.env.target.copy()
        if self.carried_out:
            self.wait(here, -1.0, 1)
            return
        self.carried_out = True
        self.place(self.pick(here, self.grasp), self.release)


def execute(env, view: TopImage, decision: Decision, style: str = "steady", frames: list | None = None) -> bool:
    """Run ``env``'s episode (just reset) to its end with the decision carried out: whether the task succeeded.
    ``frames``: a list to append ``env.render()`` to, every FRAME_EVERY steps and at the end (for people)."""
    executor = PrimitiveExecutor(env, view, decision, style)
    for step in itertools.count():
        if frames is not None and step % FRAME_EVERY == 0:
            frames.append(env.render())
        _, _, terminated, truncated, info = env.step(executor.select_action())
        if terminated or truncated:
            if frames is not None:
                frames.append(env.render())
            return bool(info["success"])
