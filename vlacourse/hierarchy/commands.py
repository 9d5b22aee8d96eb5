"""Mid-level language commands (NaVILA): words between a model that sees and a controller that moves.

NaVILA (Cheng et al., RSS 2025, arXiv 2412.04453, Sec. 3) splits a legged robot's navigation in two levels joined
by language: a VLM reads the camera and the instruction and writes a *mid-level action* ("move forward 75 cm",
"turn right 30 degrees", "stop") a few times a second, and a locomotion policy trained apart turns each one into
joint commands at a high rate. Neither level knows how the other works; the words are the whole interface. Ours,
for the arm:

    "move forward 4 cm"   "move back 2 cm"   "move left 7 cm"   "move right 1 cm"   "raise 3 cm"   "lower 10 cm"
    "close the gripper"   "open the gripper"                                     (62 commands: 1 to 10 cm a move)
         |
    parse_command --> a displacement of the grasp point (metres, the robot's frame) or a gripper command
         |
    LowLevelController (one operator style) --> 50 Hz actions: a minimum-jerk move, or a pause while the
                                                 fingers close or open; then it asks for the next command

The commands a model learns from come from ``CommandOracle``: the scripted expert's own plan (its ``pick`` and
``place`` motions, ``vlacourse.sim.expert``) read as keypoints, and each keypoint reached by moves along one axis
at a time (up first, then forward or back, then sideways, then down: the expert's own order of clearing the table
before crossing it), rounded to the centimetre. "Forward" is away from the robot's base (+x), "left" is the
robot's left (+y), as the robot would say it.

Where ours differs, and why: NaVILA's commands turn and walk a body; ours move a gripper along the table's axes,
so one word per axis and direction. NaVILA's low level is a reinforcement-learned locomotion policy; ours is the
scripted expert's minimum-jerk motion in an operator style, so that another style is another low level swapped
in without retraining the model above it (the paper's point: language decouples the levels).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vlacourse.sim.arm import CONTROL_HZ
from vlacourse.sim.expert import ScriptedExpert

MOVES = {  # word -> (axis, sign) in the robot's frame
    "forward": (0, 1),
    "back": (0, -1),
    "left": (1, 1),
    "right": (1, -1),
    "raise": (2, 1),
    "lower": (2, -1),
}
LONGEST_MOVE_CM = 10  # a longer way is said as several commands: each one short enough to see through
GRIPPER = {"close the gripper": 1.0, "open the gripper": -1.0}  # the command and the action's gripper value
COMMAND_GRAMMAR = (
    "'move forward|back|left|right N cm', 'raise|lower N cm' (N a whole number from 1 to "
    f"{LONGEST_MOVE_CM}), 'close the gripper' or 'open the gripper'"
)
_MOVE = re.compile(r"^(?:move (forward|back|left|right)|(raise|lower)) (\d+) cm$")
UNREADABLE = "?"  # how an episode's record writes text that is not a command


def move_command(axis: int, centimetres: int) -> str:
    """The words for a move of ``centimetres`` (signed, nonzero) along ``axis``."""
    word = next(w for w, (a, sign) in MOVES.items() if a == axis and sign == np.sign(centimetres))
    verb = word if axis == 2 else f"move {word}"
    return f"{verb} {abs(centimetres)} cm"


COMMANDS = (
    *(move_command(axis, sign * n) for axis in range(3) for sign in (1, -1) for n in range(1, LONGEST_MOVE_CM + 1)),
    *GRIPPER,
)


@dataclass(frozen=True)
class Command:
    """A parsed command: a displacement of the grasp point, or a gripper value (1 closes, -1 opens)."""

    text: str
    displacement: np.ndarray | None = None  # (3,) metres
    gripper: float | None = None


def parse_command(text: str) -> Command:
    """The command ``text`` says; a clear error naming the grammar if it says none."""
    text = text.strip()
    if text in GRIPPER:
        return Command(text, gripper=GRIPPER[text])
    match = _MOVE.match(text)
    if match is None or not 1 <= int(match.group(3)) <= LONGEST_MOVE_CM:
        raise ValueError(f"{text!r} is not a command: say {COMMAND_GRAMMAR}")
    axis, sign = MOVES[match.group(1) or match.group(2)]
    displacement = np.zeros(3)
    displacement[axis] = sign * int(match.group(3)) / 100
    return Command(text, displacement=displacement)


def commands_to(here: np.ndarray, goal: np.ndarray) -> list[str]:
    """The moves that bring the grasp point from ``here`` to ``goal``, one axis at a time (up, forward or back,
    sideways, down), each axis's distance rounded to the centimetre and said in pieces of at most
    LONGEST_MOVE_CM."""
    centimetres = np.round((np.asarray(goal) - np.asarray(here)) * 100).astype(int)  # (3,)
    up, down = max(centimetres[2], 0), min(centimetres[2], 0)
    said = []
    for axis, distance in ((2, up), (0, centimetres[0]), (1, centimetres[1]), (2, down)):
        while distance:
            piece = int(np.sign(distance)) * min(abs(distance), LONGEST_MOVE_CM)
            said.append(move_command(axis, piece))
            distance -= piece
    return said


class KeypointRecorder(ScriptedExpert):
    """The scripted expert's plan for the next subtask, kept as keypoints instead of a 50 Hz path: each motion's
    end ("move", point) and each change of the gripper ("gripper", value)."""

    def __init__(self, env):
        super().__init__(env)
        self.keypoints: list[tuple[str, object]] = []
        self.rising = 0.0  # the vertical direction of the last keypoint's move

    def reset(self) -> None:
        super().reset()
        self.gripper = -1.0  # open at the start of an episode

    def move(self, start, end, gripper, slowdown: float = 1.0) -> np.ndarray:
        self.wait(start, gripper, 0)  # the expert may open the fingers on its way (a second try at a grasp)
        end = np.asarray(end, dtype=float).copy()
        rising = np.sign(end[2] - start[2])
        straight_on = self.rising == rising != 0 and np.allclose(end[:2], start[:2])  # still up, or still down
        if self.keypoints and self.keypoints[-1][0] == "move" and straight_on:
            self.keypoints[-1] = ("move", end)  # one keypoint, not two a centimetre apart
            return end
        self.keypoints.append(("move", end))
        self.rising = rising
        return end

    def wait(self, at, gripper, steps) -> None:
        if gripper != self.gripper:
            self.keypoints.append(("gripper", gripper))
            self.gripper = gripper

    def next_keypoints(self) -> list[tuple[str, object]]:
        """The keypoints of the subtask the episode is at, read from the true state now (``plan``)."""
        self.keypoints, self.rising = [], 0.0
        self.plan()
        return self.keypoints


class CommandOracle:
    """The command the expert would give next, from the simulator's true state: the labels a command model
    learns from. It plans a subtask's keypoints when it has none left, and says the way to the next keypoint
    from where the grasp point is *now*, so after a wrong move its next command corrects it."""

    def __init__(self, env):
        self.env = env
        self.recorder = KeypointRecorder(env)
        self.keypoints: list[tuple[str, object]] = []

    def reset(self) -> None:
        self.recorder.reset()
        self.keypoints = []

    def __call__(self, observation=None) -> str:
        if not self.keypoints:
            self.keypoints = self.recorder.next_keypoints()
        while self.keypoints:
            kind, value = self.keypoints[0]
            if kind == "gripper":
                self.keypoints.pop(0)
                return next(text for text, g in GRIPPER.items() if g == value)
            said = commands_to(self.env.target, value)
            if len(said) <= 1:
                self.keypoints.pop(0)  # reached, or one command from it
            if said:
                return said[0]
        return "open the gripper"  # nothing left to say (the task is done): hold still, fingers open


class LowLevelController(ScriptedExpert):
    """Turns one command at a time into 50 Hz actions with an operator style's motion (``STYLES``): a minimum-jerk
    move of the grasp point, or a pause while the gripper closes or opens. ``idle`` when it wants the next one."""

    def __init__(self, env, style: str = "steady"):
        super().__init__(env, style)
        self.gripper = -1.0

    def start(self, command: Command) -> None:
        here = self.env.target.copy()
        if command.gripper is not None:
            self.gripper = command.gripper
            self.wait(here, self.gripper, self.style.pause)
        else:
            self.move(here, here + command.displacement, self.gripper)

    def hold(self) -> None:
        """A pause in place: what an unreadable command gets."""
        self.wait(self.env.target.copy(), self.gripper, self.style.pause)

    @property
    def idle(self) -> bool:
        return not self.path

    def plan(self) -> None:  # asked for an action with no command running: hold still
        self.wait(self.env.target.copy(), self.gripper, 1)


@dataclass
class CommandedEpisode:
    """One episode driven by commands: what was said, when (control steps), and how it ended."""

    instruction: str
    commands: list[str] = field(default_factory=list)  # UNREADABLE where the text was not a command
    said_at: list[int] = field(default_factory=list)
    steps: int = 0
    success: bool = False

    @property
    def commands_per_second(self) -> float:
        return len(self.commands) / max(self.steps, 1) * CONTROL_HZ


def run_commanded(env, observation: dict, commander: Callable[[dict], str], style: str = "steady") -> CommandedEpisode:
    """Run ``env``'s episode from ``observation`` (what its reset returned) to its end: whenever the low level is
    idle, ``commander`` reads the latest observation and says the next command."""
    controller = LowLevelController(env, style)
    episode = CommandedEpisode(env.task_spec.instruction)
    while True:
        if controller.idle:
            text = commander(observation)
            try:
                controller.start(parse_command(text))
                episode.commands.append(text)
            except ValueError:
                controller.hold()
                episode.commands.append(UNREADABLE)
            episode.said_at.append(episode.steps)
        observation, _, terminated, truncated, info = env.step(controller.select_action())
        episode.steps += 1
        if terminated or truncated:
            episode.success = bool(info["success"])
            return episode
