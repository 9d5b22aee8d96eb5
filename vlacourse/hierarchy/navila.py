"""A command VLA (NaVILA): the VLM reads the cameras and writes the next mid-level command, in words.

NaVILA (Cheng et al., RSS 2025, arXiv 2412.04453, Sec. 3.1) fine-tunes a VLM to write mid-level actions as text
("move forward 75 cm") and leaves their execution to a low-level policy trained apart. Ours, on the arm:

    scene and wrist images, instruction, state --VLM prefix (the VLM that points)--> " move left 4 cm."
          ^                                     greedy, in the GPT's own text tokens, until the full stop
          |                                                                |
          +--- the next observation, when the low level is done <-- LowLevelController (``commands``), 50 Hz

It learns from the oracle's commands (``commands.CommandOracle``), one row each time a command was asked for, in
episodes the oracle drove with DART's noise injection (Laskey et al., CoRL 2017): some moves are carried out a
centimetre or two off (longer, shorter or sideways) while the row keeps the oracle's command, so that the data
shows the way back from where a model's own mistakes lead. It is measured by how often it says the oracle's
command on clean episodes, and by success on the arm with the low level it learned with and with another
(``CommandRecipe.other_style``) swapped in, untrained: the paper's point that words decouple the levels.

Where ours differs, and why:
- NaVILA's VLM reads a history of frames as memory tokens; ours the present frames of two cameras and the arm's
  state, as every course VLA does.
- NaVILA's VLM has 8B parameters trained on navigation videos and general question answering; ours is the course
  VLM that points (notebook 02), fine-tuned on commands alone.
- A model's text is parsed by ``commands.parse_command``: text that is no command moves nothing (the low level
  holds for a pause) and is counted as unreadable.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from vlacourse.cli import Commands
from vlacourse.hierarchy.commands import (
    COMMANDS,
    LONGEST_MOVE_CM,
    UNREADABLE,
    CommandOracle,
    move_command,
    parse_command,
    run_commanded,
)
from vlacourse.lm.gpt import KVCache
from vlacourse.policies.policy import (
    ACTION_KEY,
    POINTING_KEY,
    STATE_KEY,
    TASK_KEY,
    PolicyConfig,
    load_policy,
    pointing_targets,
)
from vlacourse.policies.vlm_prefix import VLMPolicy, build_on_vlm
from vlacourse.training import PREFIX_STEPS, train_by_schedule

CHECKPOINT = "course_command_vla.safetensors"
EVALUATION_SEEDS = 10_000  # episodes on the arm: never a demonstration's layout
VALIDATION_SEEDS = 20_000  # clean oracle episodes on which command accuracy is measured


@dataclass
class CommandRecipe:
    seed: int = 0
    task: str = "pick_place"
    episodes: int = 400  # oracle-driven demonstrations, from seeds seed, seed + 1, ...
    noise: float = 0.3  # the share of moves carried out off the oracle's (DART); the rows keep its command
    style: str = "steady"  # the low level the demonstrations were made with
    other_style: str = "quick"  # the low level swapped in at evaluation, without retraining
    steps: int = 4000
    batch_size: int = 32
    lr: float = 1e-3  # peak, after 100 warmup steps, with cosine decay
    validation_episodes: int = 20  # clean oracle episodes: command accuracy
    eval_episodes: int = 100  # per low level, on the arm


def perturbed(text: str, rng: np.random.Generator, noise: float) -> str:
    """The command carried out in a noisy demonstration: with probability ``noise`` a move goes one or two
    centimetres off, longer or shorter, or sideways instead; a raise only higher and a lower only shorter (never
    into the table); the gripper's commands never."""
    displacement = parse_command(text).displacement
    if displacement is None or rng.random() >= noise:
        return text
    axis = int(np.flatnonzero(displacement)[0])
    centimetres, k = round(displacement[axis] * 100), int(rng.integers(1, 3))
    if axis == 2:
        off = centimetres + k
    elif rng.random() < 0.5:
        off = centimetres + k * int(rng.choice([-1, 1]))
    else:
        return move_command(1 - axis, k * int(rng.choice([-1, 1])))
    if off == 0 or np.sign(off) != np.sign(centimetres):
        return text
    return move_command(axis, int(np.sign(off)) * min(abs(off), LONGEST_MOVE_CM))


@dataclass
class CommandDemos:
    """Rows of (what the cameras and the arm showed when a command was asked for, the oracle's command)."""

    arrays: dict[str, np.ndarray]  # images per camera (N, 64, 64, 3), state (N, 9), environment state, task_index
    commands: list[str]  # (N,) the oracle's command at each row
    tasks: list[str]  # the instructions, indexed by arrays["task_index"]
    episodes: int

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """The state's statistics; a command VLA writes no continuous actions, so theirs are the identity."""
        state = self.arrays[STATE_KEY]
        identity = {"mean": np.zeros(4), "std": np.ones(4), "q01": -np.ones(4), "q99": np.ones(4)}
        stats = {"mean": state.mean(0), "std": state.std(0), "q01": np.quantile(state, 0.01, 0)}
        return {STATE_KEY: stats | {"q99": np.quantile(state, 0.99, 0)}, ACTION_KEY: identity}


def collect_command_demos(
    task: str, episodes: int, seed: int = 0, noise: float = 0.0, style: str = "steady", progress: bool = False
) -> CommandDemos:
    """``episodes`` seeded episodes driven by the oracle through the ``style`` low level, ``noise`` of its moves
    carried out off (``perturbed``): a row per command asked for."""
    from vlacourse.sim.env import TabletopEnv

    env, rng = TabletopEnv(task), np.random.default_rng(seed)
    rows: dict[str, list] = {}
    commands, tasks = [], []

    def record(observation: dict[str, Any], command: str) -> None:
        if observation[TASK_KEY] not in tasks:
            tasks.append(observation[TASK_KEY])
        for key, value in observation.items():
            if key != TASK_KEY:
                rows.setdefault(key, []).append(value)
        rows.setdefault("task_index", []).append(tasks.index(observation[TASK_KEY]))
        commands.append(command)

    oracle = CommandOracle(env)

    def commander(observation: dict[str, Any]) -> str:
        said = oracle(observation)
        record(observation, said)
        return perturbed(said, rng, noise)

    for episode in tqdm(range(episodes), desc=f"{task} commands", disable=not progress):
        oracle.reset()
        run_commanded(env, env.reset(seed=seed + episode)[0], commander, style)
    arrays = {key: np.stack(values) for key, values in rows.items()}
    return CommandDemos(arrays, commands, tasks, episodes)


class CommandBatches:
    """Random batches of rows, each with its command as text."""

    def __init__(self, demos: CommandDemos, config: PolicyConfig, batch_size: int, seed: int, device="cpu"):
        self.demos, self.batch_size, self.device = demos, batch_size, device
        self.rng = np.random.default_rng(seed)
        self.tensors = {key: torch.from_numpy(value) for key, value in demos.arrays.items() if key != "task_index"}
        if config.point_weight > 0:
            self.tensors[POINTING_KEY] = pointing_targets(demos.arrays, demos.tasks)

    def batch_at(self, rows: np.ndarray) -> dict[str, Any]:
        index = torch.from_numpy(rows)
        batch: dict[str, Any] = {key: value[index].to(self.device) for key, value in self.tensors.items()}
        batch[TASK_KEY] = [self.demos.tasks[i] for i in self.demos.arrays["task_index"][rows]]
        batch["command"] = [self.demos.commands[i] for i in rows]
        return batch

    def __call__(self) -> dict[str, Any]:
        return self.batch_at(self.rng.integers(0, len(self.demos.commands), self.batch_size))


class CommandVLA(VLMPolicy):
    """The VLM prefix, then the next command written with the GPT's own language head (its vocabulary does not
    grow: the commands are words it can already spell)."""

    def read_tokens(self, batch: dict[str, Any], ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """Teacher forcing: (logits over the text vocabulary (B, L, V) for the (B, L) tokens ``ids`` after the
        prefix, the prefix's last hidden state (B, C), the pointing)."""
        cache = KVCache(self.gpt.config.n_layer)
        images, instructions = self.images_of(batch), self.instruction_ids(batch[TASK_KEY])
        prefix, pointing = self.read_prefix(images, instructions, batch[STATE_KEY], cache)  # (B, P, C)
        return self.text_logits(prefix, cache, ids), prefix[:, -1], pointing

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Next-token loss on the command's tokens, read after the prefix, plus the pointer's and the localisation
        losses."""
        ids, targets = self.text_ids(batch["command"])  # (B, L) each
        logits, state_hidden, pointing = self.read_tokens(batch, ids)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        parts = {"command_loss": loss.item()}
        loss, parts = self.add_locate_loss(loss, parts, state_hidden, batch)
        return self.add_pointing_loss(loss, parts, pointing, batch)

    @cached_property
    def command_tokens(self) -> int:
        """Tokens the longest command takes, its full stop included: as long as its text may run."""
        return self.longest_text(COMMANDS)

    def commands_for(self, images, instructions, state) -> list[str]:
        """What the model says for a batch of observation tensors: greedy text, as long as the longest command."""
        return self.say(images, instructions, state, self.command_tokens)

    def next_command(self, observation: dict[str, Any]) -> str:
        """What the model says for one observation of the env: the commander of ``commands.run_commanded``."""
        return self.commands_for(*self.observation_tensors([observation]))[0]


def build_command_vla(demos: CommandDemos, device: str | torch.device = "cpu") -> CommandVLA:
    """A fresh command VLA on the VLM that points (``vlacourse.vlm.pointing``), with the demonstrations'
    statistics and instructions."""
    from vlacourse.vlm.pointing import load_course_pointing_vlm

    config = PolicyConfig(point_weight=1.0)
    return build_on_vlm(CommandVLA, config, demos, pointing_vlm=load_course_pointing_vlm()).to(device)


def command_accuracy(vla: CommandVLA, demos: CommandDemos, batch_size: int = 64) -> float:
    """The share of rows where the model says exactly the oracle's command."""
    batches = CommandBatches(demos, vla.config, batch_size, 0, vla.device)
    said = []
    for start in range(0, len(demos.commands), batch_size):
        batch = batches.batch_at(np.arange(start, min(start + batch_size, len(demos.commands))))
        said += vla.commands_for(vla.images_of(batch), vla.instruction_ids(batch[TASK_KEY]), batch[STATE_KEY])
    return float(np.mean([a == b for a, b in zip(said, demos.commands, strict=True)]))


def commanded_episodes(vla: CommandVLA, task: str, episodes: int, style: str, split: str = "train") -> list[dict]:
    """Seeded episodes (from EVALUATION_SEEDS) with the model saying the commands and the ``style`` low level
    carrying them out: each episode's success, commands and control steps."""
    from vlacourse.sim.env import TabletopEnv

    env, measured = TabletopEnv(task, split=split), []
    for seed in range(EVALUATION_SEEDS, EVALUATION_SEEDS + episodes):
        observation = env.reset(seed=seed)[0]
        episode = run_commanded(env, observation, vla.next_command, style)
        measured.append({"success": episode.success, "commands": episode.commands, "steps": episode.steps})
    return measured


def measure_command_vla(vla: CommandVLA, recipe: CommandRecipe) -> dict[str, Any]:
    """Command accuracy on clean oracle episodes, and each low level's episodes on the arm."""
    clean = collect_command_demos(recipe.task, recipe.validation_episodes, VALIDATION_SEEDS, style=recipe.style)
    measured: dict[str, Any] = {"command_accuracy": command_accuracy(vla, clean)}
    for style in (recipe.style, recipe.other_style):
        measured[f"episodes_{style}"] = commanded_episodes(vla, recipe.task, recipe.eval_episodes, style)
    return measured


def train_command_vla(
    recipe: CommandRecipe, progress: bool = True, stop_after: int | None = None
) -> tuple[CommandVLA, dict]:
    """The command VLA trained by the recipe and (unless ``stop_after`` cuts it short) measured."""
    from vlacourse.notebook import seed_everything

    start = time.perf_counter()
    demos = collect_command_demos(recipe.task, recipe.episodes, recipe.seed, recipe.noise, recipe.style, progress)
    seed_everything(recipe.seed)
    vla = build_command_vla(demos)
    batches = CommandBatches(demos, vla.config, recipe.batch_size, recipe.seed, vla.device)
    history = train_by_schedule(vla, batches, recipe.steps, recipe.lr, progress, stop_after)
    metrics: dict[str, Any] = {
        "recipe": asdict(recipe),
        "rows": len(demos.commands),
        "prefix_losses": history.losses[:PREFIX_STEPS],
        "first_commands": demos.commands[:40],
    }
    if stop_after is None:
        metrics["train_seconds"] = time.perf_counter() - start
        metrics |= measure_command_vla(vla.eval(), recipe)
    return vla, metrics


def load_course_command_vla(path: str | Path | None = None, device: str | torch.device = "cpu") -> CommandVLA:
    """The shipped command VLA (made by ``python -m vlacourse.hierarchy.navila train``), or the one at ``path``;
    ``.metrics`` holds what it measured when it was made."""
    return load_policy(path, CHECKPOINT, "python -m vlacourse.hierarchy.navila train", device)


def success_of(episodes: list[dict]) -> float:
    return float(np.mean([e["success"] for e in episodes]))


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.hierarchy.navila", "the command VLA (NaVILA, notebook 10)")
    make = commands.add("train", "collect the oracle's commands, train the command VLA, measure it", CHECKPOINT)
    make.add_argument("--steps", type=int, default=CommandRecipe.steps)
    make.add_argument("--noise", type=float, default=CommandRecipe.noise)
    args = commands.parse(argv)
    recipe = CommandRecipe(steps=args.steps, noise=args.noise)
    vla, metrics = train_command_vla(recipe, progress=not args.quiet)
    vla.save(args.out, metrics)
    print(f"wrote {args.out}: command accuracy {metrics['command_accuracy']:.1%}")
    for style in (recipe.style, recipe.other_style):
        episodes = metrics[f"episodes_{style}"]
        unreadable = np.mean([c == UNREADABLE for e in episodes for c in e["commands"]])
        print(f"{style} low level: success {success_of(episodes):.0%}, unreadable commands {unreadable:.1%}")


if __name__ == "__main__":
    main()
