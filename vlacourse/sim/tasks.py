"""The task suite: what to do (templated language), where things start (random layouts), when it is done
(success detectors) and what step comes next (subtasks, in words, as a high-level planner would say them).

    task         instruction (one of several templates)            done when
    reach        "reach the red block"                             gripper just above the block
    push         "push the red block into the white zone"          block inside the zone, on the table
    pick_place   "put the red block in the bin"                    block in the bin, released
    stack        "stack the red block on the blue block"           block resting on the other, released
    clear_table  "clear the table"                                 every block in the bin, released

Some (task, colour) pairs never appear in training (``HELD_OUT``), so that a policy can be tested on
combinations of words it has seen but never together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlacourse.sim.arm import Arm

COLORS = ("red", "green", "blue", "yellow")
ZONES = ("white", "black")
TASKS = ("reach", "push", "pick_place", "stack", "clear_table")
# (task, colour of the block the task names first): seen only at test time. Each colour is held out in
# one task and seen in the others, so the words are known and only their combination is new.
HELD_OUT = {("reach", "blue"), ("push", "yellow"), ("pick_place", "green"), ("stack", "red")}

TEMPLATES = {
    "reach": ("reach the {color} block", "move the gripper to the {color} block", "go to the {color} block"),
    "push": (
        "push the {color} block into the {zone} zone",
        "slide the {color} block to the {zone} zone",
        "push the {color} block onto the {zone} square",
    ),
    "pick_place": (
        "put the {color} block in the bin",
        "pick up the {color} block and drop it in the bin",
        "place the {color} block in the bin",
    ),
    "stack": (
        "stack the {color} block on the {other} block",
        "put the {color} block on top of the {other} block",
        "place the {color} block on the {other} block",
    ),
    "clear_table": ("clear the table", "put all the blocks in the bin", "tidy up the table"),
}
# Steps before an episode is cut short (50 per second): room for the slowest operator style and a retry.
MAX_STEPS = {"reach": 100, "push": 400, "pick_place": 450, "stack": 500, "clear_table": 1800}

BLOCK_HALF = 0.02  # blocks are 4 cm cubes
ZONE_HALF = 0.05  # zones are 10 cm squares
BIN_CENTER = np.array([0.32, 0.26])
BIN_INNER_HALF = 0.07
REACH_HEIGHT = 0.03  # "reach" means the grasp point 3 cm above the block's centre


@dataclass(frozen=True)
class TaskSpec:
    """One episode's task."""

    task: str  # one of TASKS
    color: str | None  # the block the instruction names first (None for clear_table)
    target: str | None  # the zone (push) or the block underneath (stack)
    instruction: str  # the words the policy reads


@dataclass(frozen=True)
class Subtask:
    """The next step, as a planner would say it; ``kind`` and the names are what a scripted expert needs."""

    kind: str  # reach, push, pick, place_in_bin, place_on
    color: str  # the block to act on
    target: str | None  # zone or block, for push and place_on
    text: str  # the subtask in words (the dataset's subtask label)


SPLITS = ("train", "heldout")  # heldout: the colour/task combinations in HELD_OUT, never in training data


def check_task_name(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: choose one of {TASKS}")


def check_split(task: str, split: str) -> None:
    """``split`` is "train" or "heldout", and ``task`` has combinations in it."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {SPLITS}")
    if task == "clear_table" and split == "heldout":
        raise ValueError("clear_table names no colour, so it has no held-out combinations: use split='train'")


def sample_task(task: str, rng: np.random.Generator, split: str = "train", color: str | None = None) -> TaskSpec:
    """A task of the given kind with colours allowed in ``split`` ("train" or "heldout")."""
    check_task_name(task)
    check_split(task, split)
    template = TEMPLATES[task][rng.integers(len(TEMPLATES[task]))]
    if task == "clear_table":
        return TaskSpec(task, None, None, template)
    allowed = [c for c in COLORS if ((task, c) in HELD_OUT) == (split == "heldout")]
    if color is not None and color not in allowed:
        raise ValueError(f"colour {color!r} is not in the {split} split of {task}: choose one of {allowed}")
    color = color or allowed[rng.integers(len(allowed))]
    target = None
    if task == "push":
        target = ZONES[rng.integers(len(ZONES))]
    elif task == "stack":
        others = [c for c in COLORS if c != color]
        target = others[rng.integers(len(others))]
    return TaskSpec(task, color, target, template.format(color=color, zone=target, other=target))


@dataclass(frozen=True)
class Layout:
    blocks: dict[str, np.ndarray]  # colour -> (x, y, z) centre
    zones: dict[str, np.ndarray]  # zone -> (x, y) centre
    gripper: np.ndarray  # (x, y, z) start of the grasp point


def _in_reach(xy, margin=0.0) -> bool:
    return 0.16 + margin <= np.hypot(*xy) <= 0.43 - margin


def sample_layout(rng: np.random.Generator, spec: TaskSpec) -> Layout:
    """Blocks and zones scattered on the table (apart, in reach, out of the bin), the gripper near home."""
    while True:
        zones = {z: rng.uniform([0.2, -0.28], [0.42, 0.12]) for z in ZONES}
        if np.linalg.norm(zones["white"] - zones["black"]) < 0.16 or not all(map(_in_reach, zones.values())):
            continue
        blocks: dict[str, np.ndarray] = {}
        for color in COLORS:
            for _ in range(100):
                xy = rng.uniform([0.18, -0.28], [0.42, 0.14])
                clear_of_blocks = all(np.linalg.norm(xy - b[:2]) > 0.08 for b in blocks.values())
                clear_of_zones = all(np.abs(xy - z).max() > ZONE_HALF + BLOCK_HALF + 0.01 for z in zones.values())
                if clear_of_blocks and clear_of_zones and _in_reach(xy, margin=0.01):
                    blocks[color] = np.array([*xy, BLOCK_HALF])
                    break
        if len(blocks) == len(COLORS) and (spec.task != "push" or _pushable(blocks, zones, spec)):
            gripper = np.array([0.25, 0.0, 0.15]) + rng.uniform(-0.03, 0.03, 3)
            return Layout(blocks, zones, gripper)


def _pushable(blocks, zones, spec) -> bool:
    """The push is at most 30 cm, starts behind the block in reach, and no other block lies on the way."""
    start, goal = blocks[spec.color][:2], zones[spec.target]
    direction = (goal - start) / np.linalg.norm(goal - start)
    if np.linalg.norm(goal - start) > 0.3 or not _in_reach(start - 0.07 * direction):
        return False
    for color, b in blocks.items():
        if color == spec.color:
            continue
        along = np.clip(np.dot(b[:2] - start, direction), 0, np.linalg.norm(goal - start))
        if np.linalg.norm(start + along * direction - b[:2]) < 0.07:
            return False
    return True


# Success detectors: functions of the simulated world only, so a policy cannot fake them.
def gripper_reached(arm: Arm, color: str) -> bool:
    offset = arm.gripper_position() - arm.block_position(color)
    return np.hypot(offset[0], offset[1]) < 0.02 and 0.0 < offset[2] < REACH_HEIGHT + 0.02


def in_zone(arm: Arm, color: str, zone: str) -> bool:
    block = arm.block_position(color)
    return np.abs(block[:2] - arm.zone_position(zone)[:2]).max() < ZONE_HALF - 0.005 and block[2] < 0.03


def in_bin(arm: Arm, color: str) -> bool:
    block = arm.block_position(color)
    inside = np.abs(block[:2] - BIN_CENTER).max() < BIN_INNER_HALF and block[2] < 0.05
    return inside and arm.touching_pads(color) == 0


def stacked(arm: Arm, color: str, other: str) -> bool:
    top, bottom = arm.block_position(color), arm.block_position(other)
    aligned = np.hypot(*(top[:2] - bottom[:2])) < 0.02
    resting = abs(top[2] - bottom[2] - 2 * BLOCK_HALF) < 0.006 and bottom[2] < 0.03
    return aligned and resting and arm.touching_pads(color) == 0


def is_success(arm: Arm, spec: TaskSpec) -> bool:
    if spec.task == "reach":
        return gripper_reached(arm, spec.color)
    if spec.task == "push":
        return in_zone(arm, spec.color, spec.target)
    if spec.task == "pick_place":
        return in_bin(arm, spec.color)
    if spec.task == "stack":
        return stacked(arm, spec.color, spec.target)
    return all(in_bin(arm, c) for c in COLORS)


def held(arm: Arm, color: str) -> bool:
    """Pinched by both pads and off the table."""
    return arm.touching_pads(color) == 2 and arm.block_position(color)[2] > BLOCK_HALF + 0.01


def current_subtask(arm: Arm, spec: TaskSpec, order: tuple[str, ...]) -> Subtask | None:
    """The next step from the world's state; None when the task is done. ``order`` is clear_table's
    order of blocks (chosen at reset); a block already held is finished first."""
    if is_success(arm, spec):
        return None
    if spec.task == "reach":
        return Subtask("reach", spec.color, None, f"reach the {spec.color} block")
    if spec.task == "push":
        return Subtask("push", spec.color, spec.target, f"push the {spec.color} block into the {spec.target} zone")
    if spec.task == "stack":
        if held(arm, spec.color):
            text = f"put the {spec.color} block on the {spec.target} block"
            return Subtask("place_on", spec.color, spec.target, text)
        return Subtask("pick", spec.color, None, f"pick up the {spec.color} block")
    if spec.task == "pick_place":
        remaining = [spec.color]
    else:
        remaining = [c for c in order if not in_bin(arm, c)]
        remaining = [c for c in remaining if held(arm, c)] or remaining
    color = remaining[0]
    if held(arm, color):
        return Subtask("place_in_bin", color, None, f"put the {color} block in the bin")
    return Subtask("pick", color, None, f"pick up the {color} block")
