"""Rendered scenes with their facts: the images and words the VLM of notebook 02 learns from.

A scene is a random arrangement of the tabletop (``vlacourse.sim``): blocks on the table, some in the
bin, perhaps one in the gripper. It is posed directly, without simulating physics, and rendered by the
policy's camera, so every fact about it is known exactly:

    caption   "the red block is in the bin. the green block is at the front left. ..."
    questions "what is the gripper holding?" -> "the blue block" / "nothing"
              "is the red block in the bin?" -> "yes" / "no"
              "how many blocks are in the bin?" -> "zero" ... "three"
              "is the red block left of the green block?" -> "yes" / "no"   (left as the camera sees it)
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from tqdm.auto import tqdm

from vlacourse.lm.corpus import NUMBERS
from vlacourse.render import Camera
from vlacourse.sim.arm import FINGER_OPEN, Arm, inverse_kinematics
from vlacourse.sim.tasks import BIN_CENTER, BLOCK_HALF, COLORS, TaskSpec, sample_layout

# Table regions named as the scene camera sees them: it faces the robot, so the front is the side
# nearer the camera (larger x) and its left is the world's -y side.
FRONT_X, LEFT_Y = 0.30, -0.07
BIN_CORNERS = [BIN_CENTER + 0.032 * np.array(c) for c in [(-1, -1), (1, -1), (-1, 1), (1, 1)]]


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (H, W, 3) uint8, the policy's scene camera
    places: dict[str, str]  # colour -> "in the bin", "in the gripper", "at the front left", ...
    positions: dict[str, np.ndarray]  # colour -> block centre (x, y, z)

    @property
    def held(self) -> str | None:
        return next((c for c, p in self.places.items() if p == "in the gripper"), None)

    @property
    def in_bin(self) -> list[str]:
        return [c for c in COLORS if self.places[c] == "in the bin"]

    def caption(self) -> str:
        return " ".join(f"the {c} block is {self.places[c]}." for c in COLORS)

    def questions(self, rng: np.random.Generator, count: int = 4) -> list[tuple[str, str]]:
        """``count`` (question, answer) pairs, one of each kind in turn."""
        pairs = []
        for kind in range(count):
            kind %= 4
            if kind == 0:
                pairs.append(("what is the gripper holding?", f"the {self.held} block" if self.held else "nothing"))
            elif kind == 1:
                color = COLORS[rng.integers(4)]
                pairs.append((f"is the {color} block in the bin?", "yes" if color in self.in_bin else "no"))
            elif kind == 2:
                pairs.append(("how many blocks are in the bin?", NUMBERS[len(self.in_bin)]))
            else:
                while True:  # two blocks far enough apart sideways that "left of" is clear
                    a, b = rng.choice(COLORS, size=2, replace=False)
                    dy = self.positions[a][1] - self.positions[b][1]
                    if abs(dy) > 0.04:
                        break
                pairs.append((f"is the {a} block left of the {b} block?", "yes" if dy < 0 else "no"))
        return pairs


class SceneMaker:
    """Poses and renders random scenes; the same seed gives the same scenes."""

    def __init__(self, image_size: int = 64):
        self.arm = Arm()
        self.camera = Camera(self.arm.model, image_size, image_size, fast=True)

    def make(self, rng: np.random.Generator) -> Scene:
        layout = sample_layout(rng, TaskSpec("pick_place", COLORS[0], None, ""))
        positions = {c: p.copy() for c, p in layout.blocks.items()}
        places = {c: _table_place(p) for c, p in positions.items()}
        order = rng.permutation(COLORS)
        for color, corner in zip(order[: rng.integers(0, 4)], BIN_CORNERS, strict=False):
            positions[color] = np.array([*corner, 0.008 + BLOCK_HALF])  # resting on the bin's floor
            places[color] = "in the bin"
        gripper = rng.uniform([0.18, -0.25, 0.10], [0.40, 0.15, 0.18])
        holding = rng.random() < 0.4 and places[order[-1]] != "in the bin"
        if holding:
            positions[order[-1]] = gripper.copy()
            places[order[-1]] = "in the gripper"
        arm = self.arm
        arm.reset(
            {f"{c}_block": p for c, p in positions.items()},
            {z: p for z, p in {"white_zone": layout.zones["white"], "black_zone": layout.zones["black"]}.items()},
            gripper,
        )
        opening = BLOCK_HALF if holding else FINGER_OPEN  # each finger stops at the block's face
        arm.data.qpos[arm.finger_qpos] = opening
        arm.data.qpos[arm.arm_qpos] = inverse_kinematics(gripper).arm
        mujoco.mj_forward(arm.model, arm.data)
        return Scene(self.camera.render(arm.data, "scene").copy(), places, positions)

    def make_many(self, count: int, seed: int, progress: bool = True) -> list[Scene]:
        rng = np.random.default_rng(seed)
        return [self.make(rng) for _ in tqdm(range(count), desc="rendering scenes", disable=not progress)]


QUESTION_KINDS = ("holding", "in bin", "count", "left of")


def question_kind(question: str) -> str:
    """Which of the four kinds of question this is (the majority baseline answers each kind alike)."""
    if question.startswith("what is the gripper holding"):
        return "holding"
    if question.startswith("how many"):
        return "count"
    return "left of" if " left of " in question else "in bin"


def _table_place(position: np.ndarray) -> str:
    front = "front" if position[0] > FRONT_X else "back"
    left = "left" if position[1] < LEFT_Y else "right"
    return f"at the {front} {left}"
