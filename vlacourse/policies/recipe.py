"""The one recipe by which the course's action heads are trained, measured and compared (notebooks 04-06).

``HeadRecipe`` fixes the data, the steps, the batch, the learning rate and the evaluation;
``train_and_measure`` trains a VLA by it, then measures its chunk error, its forward passes per chunk, its
speed and its success on the arm; ``train_head_command`` is the command line of each head's module
(``python -m vlacourse.policies.binning_vla train``, ``... fast_vla train``, ``... flow train``). The
shipped binning, FAST and flow VLAs record the recipe that made them in their metadata, so that
``make test`` can rerun its first steps and ``make reproduce`` all of it. What they measured is in their
files and in RESULTS.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vlacourse.cli import REQUIRED, Commands
from vlacourse.policies.policy import (
    ChunkBatches,
    PolicyHistory,
    actions_per_second,
    observations_of,
    split_episodes,
    train_policy,
)
from vlacourse.policies.vlm_prefix import VLMPolicy
from vlacourse.training import PREFIX_STEPS


@dataclass
class HeadRecipe:
    """The one recipe by which the course's action heads are trained and compared on a VLM (notebooks 04-06):
    the shipped flow and FAST VLAs are made by ``HeadRecipe()`` and record it in their metadata."""

    seed: int = 0  # seeds the training and the evaluation
    suite: str = "pick_place"
    episodes: int = 400  # with 100, even a policy that reads the true block positions fails a third of the time
    steps: int = 6000  # at 3000 the chunk error was still falling
    batch_size: int = 32
    lr: float = 1e-3  # peak learning rate, after a warmup, with cosine decay
    eval_episodes: int = 100  # seeded episodes on the arm, on the recipe's seed and on a fresh one
    heldout_episodes: int = 50  # seeded episodes of the held-out colour/task combination
    pointing: bool = True  # start from the VLM that learned to point on rendered scenes (notebook 02)
    chunk_size: int = 10  # actions per chunk
    action_repeat: int = 1  # control steps each action is held: 5 makes a 10 Hz policy on the 50 Hz arm


def train_by_recipe(
    build, dataset, recipe: HeadRecipe, progress: bool = True, stop_after: int | None = None
) -> tuple[VLMPolicy, PolicyHistory]:
    """A VLA from ``build`` trained by the recipe, seeded; ``stop_after``: only the recipe's first steps."""
    from vlacourse.notebook import seed_everything
    from vlacourse.vlm.pointing import load_course_pointing_vlm

    on_vlm = {"pointing_vlm": load_course_pointing_vlm()} if recipe.pointing else {}
    seed_everything(recipe.seed)
    policy = build(dataset, chunk_size=recipe.chunk_size, action_repeat=recipe.action_repeat, **on_vlm)
    history = train_policy(
        policy,
        dataset,
        recipe.steps,
        recipe.batch_size,
        recipe.lr,
        recipe.seed,
        eval_every=max(1, recipe.steps // 10),
        progress=progress,
        stop_after=stop_after,
    )
    return policy, history


def train_and_measure(build, dataset, recipe: HeadRecipe, progress: bool = True):
    """(policy, metrics): a VLA from ``build`` trained by the recipe, then measured: its validation curves,
    the error of its predicted chunks (``chunk_error``: the losses of bins, FAST tokens and flow matching
    measure different things and cannot be compared), forward passes per chunk over held-out frames, actions
    per second on one observation, and success on ``eval_episodes`` seeded episodes: on the recipe's seed
    (``success``), on seeds no one tuned against (``success_fresh_seed``) and on the held-out colour
    (``success_heldout``). ``prefix_losses``, the training losses of the first ``PREFIX_STEPS`` steps, are
    what ``make test`` checks a rerun against."""
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluate

    start = time.perf_counter()
    policy, history = train_by_recipe(build, dataset, recipe, progress)
    train_seconds = time.perf_counter() - start
    passes = forward_passes_per_chunk(policy, dataset, recipe.seed)
    speed = actions_per_second(policy, TabletopEnv(recipe.suite).reset(seed=recipe.seed)[0])
    success = {}
    for name, seed, split, episodes in (
        ("success", recipe.seed, "train", recipe.eval_episodes),
        ("success_fresh_seed", recipe.seed + 1, "train", recipe.eval_episodes),
        ("success_heldout", recipe.seed, "heldout", recipe.heldout_episodes),
    ):
        success[name] = evaluate(
            policy,
            recipe.suite,
            episodes=episodes,
            seed=seed,
            split=split,
            progress=progress,
            side_by_side=min(episodes, 10),
        ).success_rate
    return policy, {
        "recipe": asdict(recipe),
        "train_seconds": train_seconds,
        "prefix_losses": history.losses[:PREFIX_STEPS],
        "eval_steps": history.eval_steps,
        "validation_loss": history.eval_losses,
        "chunk_error": history.chunk_errors,
        "forward_passes_per_chunk": passes,
        **speed,
        **success,
    }


def forward_passes_per_chunk(policy: VLMPolicy, dataset, seed: int = 0, frames: int = 32) -> float:
    """Mean forward passes a chunk takes, over ``frames`` frames of the held-out demonstrations, one at a time."""
    held_out = ChunkBatches(dataset, policy.config, frames, seed, split_episodes(dataset.num_episodes)[1])()
    passes = []
    for observation in observations_of(held_out, policy.config):
        policy.predict_action_chunk(observation)
        passes.append(policy.decoding_steps)
    return float(np.mean(passes))


BASELINE = (
    "the same recipe on the course VLM, which never learned to point (HeadRecipe(pointing=False))",
    HeadRecipe(pointing=False),
)


def train_head_command(
    prog: str,
    description: str,
    build,
    checkpoint: str,
    argv: list[str] | None = None,
    measure_more: Callable[[VLMPolicy, Any], dict] | None = None,
    variants: dict[str, tuple[str, HeadRecipe]] | None = None,
) -> None:
    """The command line of every action head on the VLM (``python -m vlacourse.policies.binning_vla``, ``.fast_vla``,
    ``.flow``): ``train`` trains by ``HeadRecipe()``, measures (``train_and_measure``, then ``measure_more``) and writes
    the checkpoint with its metrics; each of ``variants`` (name: (what it is, its recipe); ``baseline`` unless
    given) trains and measures by its recipe and writes only the metrics, as JSON."""
    variants = {"baseline": BASELINE} if variants is None else variants
    commands = Commands(prog, description)
    commands.add("train", "train by recipe.HeadRecipe and write the checkpoint", checkpoint)
    for name, (help, _) in variants.items():
        commands.add(name, f"{help}: write only its metrics, as JSON", REQUIRED)
    args = commands.parse(argv)
    from vlacourse.sim.dataset import load_or_collect

    recipe = HeadRecipe() if args.command == "train" else variants[args.command][1]
    dataset = load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=not args.quiet, workers=2)
    policy, metrics = train_and_measure(build, dataset, recipe, progress=not args.quiet)
    if measure_more is not None:
        metrics |= measure_more(policy, dataset)
    if args.command == "train":
        policy.save(args.out, metrics)
    else:
        args.out.write_text(json.dumps({"made_by": f"{prog} {args.command}", **metrics}, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    print(json.dumps(metrics, indent=1))
