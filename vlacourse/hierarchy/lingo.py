"""Explanation with action (Wayve's LINGO-2): one model says what it is doing while it does it, and we check it.

LINGO-2 (Wayve, 2024: a vision-language-action model for driving) writes a running commentary ("slowing down
for the cyclist") from the same model that outputs the driving actions, and Wayve proposes the agreement of the
two as a way to see what the model does and why. Ours is the shipped flow VLA (notebook 06) taught to speak:

    scene, wrist images + instruction --VLM prefix--> keys, values --flow expert--> a chunk of 10 actions
                                                           |
                                                           +--> GPT language head --> "carrying the red block
                                                                                       to the bin."
    every chunk: the words, then the actions; the simulator checks whether they agree (``agrees``)

The commentary comes after the prefix, written with the GPT's own language head (no new weights); the flow
expert reads the prefix's keys and values before the words are written, so the actions do not depend on them
and a copy acts bit for bit as the flow VLA. Its labels come from the demonstrations (``commentary_labels``): the
subtask of each frame and what the gripper does in the chunk that starts there.

Consistency is ours: Wayve published no metric. A chunk's words agree with what the arm did when the block they
name is the one the gripper heads for, is over or holds, and the gripper does what they say (``agrees``). Then
Wayve's claim, that a disagreement is a warning sign, becomes a measurement: is an episode with a disagreeing
chunk more likely to fail than one without?

Where ours differs, and why: LINGO-2 comments on driving in free language learned from human commentary; ours says
one of five template phrases about one block (the demonstrations have no commentators), which is what lets a
program check each one.
"""

from __future__ import annotations

import re
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
from vlacourse.lm.gpt import GPTConfig, KVCache
from vlacourse.policies.flow import FlowVLA
from vlacourse.policies.policy import TASK_KEY, ChunkBatches, load_policy
from vlacourse.policies.recipe import HeadRecipe
from vlacourse.sim.env import MAX_STEP
from vlacourse.sim.tasks import BIN_CENTER, BIN_INNER_HALF, COLORS
from vlacourse.training import PREFIX_STEPS, train_by_schedule
from vlacourse.vlm.course_vlm import VLM

CHECKPOINT = "course_commenting_vla.safetensors"

PHRASES = (
    "going to the {color} block",
    "closing the gripper on the {color} block",
    "lifting the {color} block",
    "carrying the {color} block to the bin",
    "letting go of the {color} block",
)
OPEN_WIDTH = 0.075  # metres between the fingers: above this the gripper is open (fully open: 0.08)
STILL = 0.002  # metres a step: slower than this the gripper is not travelling across the table
NEAR = 0.025  # metres, horizontally: the gripper is over a block (a block's half side is 2 cm)
CHUNK = HeadRecipe.chunk_size  # actions a label looks ahead: a chunk of the flow VLA, which the words come before


def phrase(kind: int, color: str) -> str:
    return PHRASES[kind].format(color=color)


def commentary_labels(dataset) -> list[str]:
    """What the arm is doing at each frame of pick_place demonstrations, in words: from the frame's subtask, the
    gripper's command and opening, and the chunk of motion that starts there."""
    arrays = dataset.arrays
    actions, opening = arrays["action"], arrays["observation.state"][:, 3]
    ends = dataset.episode_data_index["to"]
    episode_end = np.repeat(ends, np.diff(np.r_[0, ends]))  # (N,) the index after each frame's episode
    labels = []
    for i, subtask in enumerate(arrays["subtask_index"]):
        words = dataset.subtasks[subtask]
        color = re.search(r"the (\w+) block", words).group(1)
        chunk = actions[i : min(i + CHUNK, episode_end[i])]  # (<= CHUNK, 4)
        closing = actions[i, 3] > 0
        if not closing and opening[i] < OPEN_WIDTH:
            kind = 4  # letting go
        elif words.startswith("pick"):
            kind = 1 if closing else 0
        else:
            travelling = np.abs(chunk[:, :2]).max() * MAX_STEP > STILL  # an action of 1 moves MAX_STEP a step
            kind = 3 if travelling or chunk[:, 2].mean() < 0 else 2
        labels.append(phrase(kind, color))
    return labels


@dataclass(frozen=True)
class Moment:
    """What the consistency check needs of the simulator at one instant."""

    gripper: np.ndarray  # (3,) the grasp point
    blocks: dict[str, np.ndarray]  # colour -> (3,) the block's centre
    pinched: frozenset[str]  # the blocks both pads touch


def moment(arm) -> Moment:
    return Moment(
        arm.gripper_position(),
        {color: arm.block_position(color) for color in COLORS},
        frozenset(color for color in COLORS if arm.touching_pads(color) == 2),
    )


def said(words: str) -> tuple[int, str] | None:
    """(which phrase, the colour it names) for words that are one of the PHRASES, else None."""
    for kind, template in enumerate(PHRASES):
        match = re.fullmatch(template.format(color="(" + "|".join(COLORS) + ")"), words.strip())
        if match:
            return kind, match.group(1)
    return None


def agrees(words: str, start: Moment, end: Moment, gripper: np.ndarray) -> bool:
    """Whether ``words``, said before a chunk, tell what the arm did during it: ``start`` and ``end`` are the chunk's
    first and last instants, ``gripper`` its (n,) gripper commands (1 closes). A phase may end inside the chunk,
    so the words need to hold at its start or at its end. Words that are none of the phrases never agree."""
    if (parsed := said(words)) is None:
        return False
    kind, color = parsed
    over = min(np.hypot(*(m.gripper[:2] - m.blocks[color][:2])) for m in (start, end)) < NEAR
    pinched = color in start.pinched or color in end.pinched
    if kind == 0:  # going to: open, closing in on the block or over it
        closer = np.hypot(*(end.gripper[:2] - end.blocks[color][:2])) < np.hypot(
            *(start.gripper[:2] - start.blocks[color][:2])
        )
        return gripper.min() < 0 and (closer or over)
    if kind == 1:  # closing the gripper on: closing, over the block
        return gripper.max() > 0 and over
    if kind == 2:  # lifting: the block between the pads, going up
        return pinched and end.gripper[2] > start.gripper[2]
    if kind == 3:  # carrying to the bin: the block between the pads, nearer the bin or over it
        to_bin = [np.abs(m.gripper[:2] - BIN_CENTER).max() for m in (start, end)]
        return pinched and (to_bin[1] < to_bin[0] or to_bin[1] < BIN_INNER_HALF)
    return gripper.min() < 0 and over  # letting go: opening, over the block


class CommentingFlowVLA(FlowVLA):
    """The flow VLA that says, before each chunk, what it is doing (see the module): the same weights, and a
    commentary loss on the GPT's language head."""

    @classmethod
    def from_flow(cls, flow: FlowVLA) -> CommentingFlowVLA:
        """A commenting copy of ``flow``: before fine-tuning, its actions are the flow VLA's, bit for bit."""
        vlm = VLM(flow.vision.config, GPTConfig(**{**flow.gpt.config.__dict__, "vocab_size": flow.text_vocab}))
        vla = cls(flow.config, None, vlm, flow.tokenizer, flow.instructions)
        vla.load_state_dict(flow.state_dict())
        return vla.to(flow.device)

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """The flow VLA's loss, reading the prefix's keys and values, then the commentary's next-token loss on
        words written after the prefix (they join the cache only after the expert has read it)."""
        cache = KVCache(self.gpt.config.n_layer)
        prefix, pointing = self.read_prefix(self.images_of(batch), self.instruction_ids(batch[TASK_KEY]), None, cache)
        loss, parts = self.flow_loss(cache, batch)
        ids, targets = self.text_ids(batch["commentary"])  # (B, L) each
        logits = self.text_logits(prefix, cache, ids)  # (B, L, V)
        words = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return self.add_pointing_loss(loss + words, parts | {"commentary_loss": words.item()}, pointing, batch)

    @cached_property
    def phrase_tokens(self) -> int:
        """Tokens the longest phrase takes, its full stop included: as long as its text may run."""
        return self.longest_text(phrase(kind, color) for kind in range(len(PHRASES)) for color in COLORS)

    def comment(self, observation: dict[str, Any]) -> str:
        """What it says it is doing, for one observation of the env."""
        images, instructions, _ = self.observation_tensors([observation])
        return self.say(images, instructions, None, self.phrase_tokens)[0]


class CommentaryBatches(ChunkBatches):
    """``ChunkBatches`` with each frame's commentary label."""

    def __init__(self, dataset, labels: list[str], *args, **kwargs):
        super().__init__(dataset, *args, **kwargs)
        self.labels = labels

    def batch_at(self, frames: np.ndarray) -> dict[str, Any]:
        return super().batch_at(frames) | {"commentary": [self.labels[i] for i in frames]}


def commented_episode(vla: CommentingFlowVLA, env, seed: int) -> dict[str, Any]:
    """Run ``env``'s episode of ``seed`` to its end: before each chunk the VLA says what it is doing, then the chunk
    runs; whether the words agreed with what the arm did. The flow's noise is seeded by ``seed`` too, so a rerun
    is the same episode. The episode's success, words and agreements."""
    observation = env.reset(seed=seed)[0]
    torch.manual_seed(seed)
    words, agreed = [], []
    while True:
        said_now, start = vla.comment(observation), moment(env.arm)
        chunk = vla.executed_actions(vla.predict_action_chunk(observation))  # (n, 4)
        gripper = []  # the commands the chunk gave before the episode ended
        for action in chunk:
            observation, _, terminated, truncated, info = env.step(action)
            gripper.append(action[3])
            if terminated or truncated:
                break
        words.append(said_now)
        agreed.append(bool(agrees(said_now, start, moment(env.arm), np.array(gripper))))  # JSON keeps Python bools
        if terminated or truncated:
            return {"success": bool(info["success"]), "words": words, "agreed": agreed}


def warning_sign(episodes: list[dict[str, Any]]) -> dict[str, float]:
    """Wayve's claim measured: how often failed and successful episodes hold a disagreeing chunk, the failure
    rate among episodes that do against the overall one, and the share of disagreeing chunks in each kind."""
    failed = [e for e in episodes if not e["success"]]
    succeeded = [e for e in episodes if e["success"]]
    flagged = [e for e in episodes if not all(e["agreed"])]

    def share(group: list[dict[str, Any]], measure) -> float:
        return float(np.mean([measure(e) for e in group])) if group else float("nan")

    return {
        "consistent_chunks": float(np.mean([a for e in episodes for a in e["agreed"]])),
        "flagged_among_failed": share(failed, lambda e: not all(e["agreed"])),
        "flagged_among_succeeded": share(succeeded, lambda e: not all(e["agreed"])),
        "failure_rate": len(failed) / len(episodes),
        "failure_rate_when_flagged": share(flagged, lambda e: not e["success"]),
        "disagreeing_share_failed": share(failed, lambda e: 1 - np.mean(e["agreed"])),
        "disagreeing_share_succeeded": share(succeeded, lambda e: 1 - np.mean(e["agreed"])),
    }


@dataclass
class CommentaryRecipe:
    seed: int = 0
    steps: int = 1500  # fine-tuning steps from the shipped flow VLA, on its own demonstrations (recipe.HeadRecipe)
    batch_size: int = 32
    lr: float = 3e-4  # peak, after 100 warmup steps, with cosine decay: a third of the flow VLA's own
    eval_episodes: int = 200  # on the arm, the flow VLA's evaluation seeds first


def train_commenting_vla(
    recipe: CommentaryRecipe, progress: bool = True, stop_after: int | None = None
) -> tuple[CommentingFlowVLA, dict[str, Any]]:
    """The shipped flow VLA fine-tuned to comment, and (unless ``stop_after`` cuts it short) measured on the arm:
    its success, each episode's words and agreements, and ``warning_sign``."""
    from vlacourse.notebook import seed_everything
    from vlacourse.policies.flow import load_course_flow_vla
    from vlacourse.policies.policy import split_episodes
    from vlacourse.sim.dataset import load_or_collect
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluation_seed

    start = time.perf_counter()
    head = HeadRecipe()
    dataset = load_or_collect(head.suite, head.episodes, head.seed, progress=progress, workers=2)
    vla = CommentingFlowVLA.from_flow(load_course_flow_vla())
    seed_everything(recipe.seed)
    training = split_episodes(dataset.num_episodes)[0]
    batches = CommentaryBatches(
        dataset, commentary_labels(dataset), vla.config, recipe.batch_size, recipe.seed, training
    )
    history = train_by_schedule(vla.train(), batches, recipe.steps, recipe.lr, progress, stop_after)
    metrics: dict[str, Any] = {"recipe": asdict(recipe), "prefix_losses": history.losses[:PREFIX_STEPS]}
    if stop_after is None:
        metrics["train_seconds"] = time.perf_counter() - start
        vla.eval()
        env, episodes = TabletopEnv(head.suite), []
        for episode in tqdm(range(recipe.eval_episodes), desc="commented episodes", disable=not progress):
            episodes.append(commented_episode(vla, env, evaluation_seed(recipe.seed, episode)))
        metrics |= {"success": float(np.mean([e["success"] for e in episodes])), **warning_sign(episodes)}
        metrics["episodes"] = episodes
    return vla, metrics


def load_course_commenting_vla(path: str | Path | None = None, device: str | torch.device = "cpu") -> CommentingFlowVLA:
    """The shipped commenting VLA (made by ``python -m vlacourse.hierarchy.lingo train``), or the one at ``path``;
    ``.metrics`` holds what it measured when it was made."""
    return load_policy(path, CHECKPOINT, "python -m vlacourse.hierarchy.lingo train", device)


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.hierarchy.lingo", "the commenting VLA (LINGO-2, notebook 10)")
    make = commands.add("train", "fine-tune the flow VLA to comment, measure its words against its actions", CHECKPOINT)
    make.add_argument("--steps", type=int, default=CommentaryRecipe.steps)
    args = commands.parse(argv)
    vla, metrics = train_commenting_vla(CommentaryRecipe(steps=args.steps), progress=not args.quiet)
    vla.save(args.out, metrics)
    print(f"wrote {args.out}")
    print({k: round(v, 3) for k, v in metrics.items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
