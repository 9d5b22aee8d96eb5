"""The planner's demonstrations, training and measure on the arm (notebook 10).

    seeded episode of pick_place or stack --reset--> top view + instruction + the expert's decision (two pixels)
                                                         |
    shifted copies (the view and both pixels moved together: CLIPort's and Transporter's augmentation)
                                                         |
    cross-entropy over pixels for the pick, and for the place given the demonstrated pick (``Planner``)
                                                         |
    new seeded episodes: decide on the top view, carry it out with the expert's motions, count the successes

One decision per episode: our tasks are one pick and one place, so a demonstration is the episode's first top
view and the expert's decision on it (CLIPort's demonstrations hold one such pair per step of a longer task).
``python -m vlacourse.hierarchy.planning train`` makes the shipped planner (``course_planner.safetensors``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from vlacourse.checkpoint import KeptParts, metrics_of, read_metadata, read_recording
from vlacourse.cli import Commands
from vlacourse.hierarchy.cliport import FROZEN, Planner, PlannerConfig
from vlacourse.training import PREFIX_STEPS, History, train_by_schedule

if TYPE_CHECKING:  # these import MuJoCo, which a command may import only after choosing its GL backend
    from vlacourse.hierarchy.primitives import Decision
    from vlacourse.hierarchy.top_view import TopImage, TopView

TASKS = ("pick_place", "stack")  # a pick and a place each
EVALUATION_SEEDS = 10_000  # evaluation episodes are seeded from here: never a demonstration's layout
CHECKPOINT = "course_planner.safetensors"
CURVES = "planner_curves.json"
# CLIPort's measures (Shridhar et al. 2021, Sec. 5 and Table 1): success against the number of demonstrations,
# and each stream alone. The two-stream planner at 100 demonstrations is the shipped one, so not retrained here.
CURVE_RUNS = {
    "two@1": ("two", 1),
    "two@10": ("two", 10),
    "spatial@100": ("spatial", 100),
    "semantic@100": ("semantic", 100),
}


@dataclass
class PlannerRecipe:
    seed: int = 0
    demonstrations: int = 100  # per task, from seeds seed, seed + 1, ...
    steps: int = 2400
    batch_size: int = 8
    lr: float = 1e-3  # peak, after 100 warmup steps, with cosine decay
    shift: int = 8  # pixels: each example is moved by up to this much, rows and columns, with its labels
    eval_episodes: int = 100  # per task, on the training colours
    heldout_episodes: int = 50  # per task, on the held-out colour/task combinations
    streams: str = "two"  # PlannerConfig.streams


def collect_planner_demos(task: str, count: int, seed: int = 0, split: str = "train", progress: bool = False) -> dict:
    """``count`` seeded episodes' first top view, instruction and the expert's decision (pick and place pixels)."""
    from vlacourse.hierarchy.primitives import expert_decision
    from vlacourse.hierarchy.top_view import TopView
    from vlacourse.sim.env import TabletopEnv

    env, view = TabletopEnv(task, split=split, cameras=()), TopView()
    rgb, heights, instructions, picks, places = [], [], [], [], []
    for episode in tqdm(range(seed, seed + count), desc=f"{task} top views", disable=not progress):
        env.reset(seed=episode)
        image, decision = view(env), expert_decision(env)
        rgb.append(image.rgb)
        heights.append(image.heights)
        instructions.append(env.task_spec.instruction)
        picks.append(np.round(decision.pick))
        places.append(np.round(decision.place))
    view.close()
    return {
        "rgb": torch.as_tensor(np.stack(rgb)),  # (N, 64, 112, 3) uint8
        "heights": torch.as_tensor(np.stack(heights)),  # (N, 64, 112) metres
        "instructions": instructions,
        "pick": torch.as_tensor(np.stack(picks), dtype=torch.long),  # (N, 2) row, column
        "place": torch.as_tensor(np.stack(places), dtype=torch.long),
    }


def merge(*demos: dict) -> dict:
    """Several collections of demonstrations as one."""
    joined = {k: torch.cat([d[k] for d in demos]) for k in demos[0] if k != "instructions"}
    return joined | {"instructions": [text for d in demos for text in d["instructions"]]}


def encode(tokenizer, instructions: list[str], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, T), padded with 0 at the end, and each instruction's length (B,)."""
    encoded = [tokenizer.encode(text) for text in instructions]
    T = max(map(len, encoded))
    ids = torch.tensor([e + [0] * (T - len(e)) for e in encoded], device=device)
    return ids, torch.tensor([len(e) for e in encoded], device=device)


def shifted(image: torch.Tensor, rows: int, columns: int) -> torch.Tensor:
    """(H, W, ...) moved down by ``rows`` and right by ``columns``, zeros where nothing moved in."""
    out = torch.zeros_like(image)
    H, W = image.shape[:2]
    out[max(0, rows) : H + min(0, rows), max(0, columns) : W + min(0, columns)] = image[
        max(0, -rows) : H + min(0, -rows), max(0, -columns) : W + min(0, -columns)
    ]
    return out


class PlannerBatches:
    """Random demonstrations, each shifted by a random offset with its pick and place pixels (resampled until both
    stay in the view); seeded."""

    def __init__(self, demos: dict, tokenizer, batch_size: int, shift: int, seed: int, device="cpu"):
        self.demos, self.batch_size, self.shift, self.device = demos, batch_size, shift, device
        self.ids, self.lengths = encode(tokenizer, demos["instructions"], "cpu")
        self.rng = np.random.default_rng(seed)

    def __call__(self) -> dict[str, torch.Tensor]:
        d, rows = self.demos, []
        H, W = d["rgb"].shape[1:3]
        for i in self.rng.integers(len(d["pick"]), size=self.batch_size):
            while True:
                offset = torch.as_tensor(self.rng.integers(-self.shift, self.shift + 1, size=2))
                pick, place = d["pick"][i] + offset, d["place"][i] + offset
                inside = lambda p: 0 <= p[0] < H and 0 <= p[1] < W  # noqa: E731
                if inside(pick) and inside(place):
                    break
            r, c = offset.tolist()
            rows.append((shifted(d["rgb"][i], r, c), shifted(d["heights"][i], r, c), pick, place, i))
        rgb, heights, pick, place, index = zip(*rows, strict=True)
        index = torch.tensor(index)
        T = int(self.lengths[index].max())
        batch = {
            "rgb": torch.stack(rgb),
            "heights": torch.stack(heights),
            "ids": self.ids[index, :T],
            "lengths": self.lengths[index],
            "pick": torch.stack(pick),
            "place": torch.stack(place),
        }
        return {k: v.to(self.device) for k, v in batch.items()}


def build_planner(config: PlannerConfig, device: str | torch.device = "cpu") -> tuple[Planner, object]:
    """A fresh planner on the course VLM's frozen ViT and SigLIP text tower, and the course tokenizer."""
    from vlacourse.vlm.course_vlm import load_course_vlm

    siglip, _, tokenizer, _ = load_course_vlm()
    return Planner(config, siglip.image_tower, siglip.text_tower).to(device), tokenizer


@dataclass
class PlannedEpisode:
    """One episode as the planner saw, decided and carried it out (what notebook 10's widget draws)."""

    instruction: str
    split: str  # "train" or "heldout": whether the instruction's colour/task combination was ever trained on
    view: TopImage
    pick_logits: np.ndarray  # (64, 112)
    place_logits: np.ndarray  # (64, 112), given the chosen pick
    decision: Decision
    success: bool
    frames: list[np.ndarray]  # the scene camera every FRAME_EVERY steps, and at the end


def decide_on(
    planner: Planner, tokenizer, image: TopImage, instruction: str
) -> tuple[Decision, np.ndarray, np.ndarray]:
    """The planner's decision on one top view, with its pick map and its place map given that pick (64, 112)."""
    from vlacourse.hierarchy.primitives import Decision

    device = planner.device
    ids, lengths = encode(tokenizer, [instruction], device)
    rgb, heights = torch.as_tensor(image.rgb[None], device=device), torch.as_tensor(image.heights[None], device=device)
    picks, places, pick_logits, place_logits = planner.decide(rgb, heights, ids, lengths)
    decision = Decision(tuple(picks[0].tolist()), tuple(places[0].tolist()))
    return decision, pick_logits[0].cpu().numpy(), place_logits[0].cpu().numpy()


def plan_and_execute(
    planner: Planner, tokenizer, env, view: TopView, seed: int, color: str | None = None
) -> PlannedEpisode:
    """Reset ``env`` (pick_place or stack) to the seeded episode, with the block named ``color`` if given, decide on
    its top view (rendered by ``view``) and carry the decision out, keeping frames."""
    from vlacourse.hierarchy.primitives import execute

    env.reset(seed=seed, options={} if color is None else {"color": color})
    image = view(env)
    decision, pick_logits, place_logits = decide_on(planner, tokenizer, image, env.task_spec.instruction)
    frames: list[np.ndarray] = []
    success = execute(env, image, decision, frames=frames)
    instruction = env.task_spec.instruction
    return PlannedEpisode(instruction, env.split, image, pick_logits, place_logits, decision, success, frames)


def outcomes(planner: Planner, tokenizer, task: str, episodes: int, split: str = "train") -> list[bool]:
    """Seeded episodes of ``task`` (from EVALUATION_SEEDS): decide on the top view, carry it out; whether each
    succeeded."""
    from vlacourse.hierarchy.primitives import execute
    from vlacourse.hierarchy.top_view import TopView
    from vlacourse.sim.env import TabletopEnv

    env, view = TabletopEnv(task, split=split, cameras=()), TopView()
    succeeded = []
    for seed in range(EVALUATION_SEEDS, EVALUATION_SEEDS + episodes):
        env.reset(seed=seed)
        image = view(env)
        decision = decide_on(planner, tokenizer, image, env.task_spec.instruction)[0]
        succeeded.append(execute(env, image, decision))
    view.close()
    return succeeded


def train_planner(
    recipe: PlannerRecipe, progress: bool = True, stop_after: int | None = None, device="cpu"
) -> tuple[Planner, History, dict]:
    """The planner trained by the recipe on both tasks' demonstrations, its history, and (unless ``stop_after``
    cuts the run short) its success on the arm, seen and held-out combinations."""
    from vlacourse.notebook import seed_everything

    start = time.perf_counter()
    demos = merge(*(collect_planner_demos(t, recipe.demonstrations, recipe.seed, progress=progress) for t in TASKS))
    seed_everything(recipe.seed)
    planner, tokenizer = build_planner(PlannerConfig(streams=recipe.streams), device)
    batches = PlannerBatches(demos, tokenizer, recipe.batch_size, recipe.shift, recipe.seed, device)
    history = train_by_schedule(planner, batches, recipe.steps, recipe.lr, progress, stop_after)
    metrics = {"recipe": asdict(recipe), "prefix_losses": history.losses[:PREFIX_STEPS]}
    if stop_after is None:
        planner.eval()
        for task in TASKS:  # each episode's outcome: make test reruns the first ones
            metrics[f"{task}_outcomes"] = outcomes(planner, tokenizer, task, recipe.eval_episodes)
            metrics[f"{task}_heldout_outcomes"] = outcomes(planner, tokenizer, task, recipe.heldout_episodes, "heldout")
        metrics["seconds"] = time.perf_counter() - start
    return planner, history, metrics


def save_planner(planner: Planner, path: str | Path, metrics: dict) -> None:
    """The planner's own weights (the frozen parts ship with the course VLM), its config and what it measured."""
    metadata = {"config": json.dumps(asdict(planner.config)), "metrics": json.dumps(metrics)}
    save_file({k: v.contiguous() for k, v in planner.own_state_dict().items()}, str(path), metadata=metadata)


def load_course_planner(path: str | Path | None = None, device="cpu") -> tuple[Planner, object, dict]:
    """(planner, tokenizer, metrics): the shipped planner (``python -m vlacourse.hierarchy.planning train``), or
    the one at ``path``."""
    if path is None:
        with resources.as_file(resources.files("vlacourse") / "data" / CHECKPOINT) as shipped:
            return load_course_planner(shipped, device)
    metadata = read_metadata(path, f"make it with `python -m vlacourse.hierarchy.planning train --out {path}`")
    config = PlannerConfig(**json.loads(metadata["config"]))
    planner, tokenizer = build_planner(config, device)
    missing, unexpected = planner.load_state_dict(load_file(str(path)), strict=False)
    assert not unexpected and all(k.startswith(FROZEN) for k in missing), (missing, unexpected)
    return planner.eval(), tokenizer, json.loads(metadata["metrics"])


def success_rate(outcomes: list[bool]) -> float:
    """The fraction of episodes that succeeded."""
    if not outcomes:
        raise ValueError("no episodes: measure at least one before asking for a success rate")
    return sum(outcomes) / len(outcomes)


def record_curves(runs: list[str], progress: bool = True, runs_dir: str | Path | None = None) -> dict:
    """The ``CURVE_RUNS`` named by ``runs``, each trained by the shipped planner's recipe but for its streams and
    demonstrations, and measured on the arm as the shipped one is. With ``runs_dir``, each finished run is kept
    there and read back rather than trained again (four runs take most of an hour)."""
    kept, recorded = KeptParts(runs_dir), {}
    for name in runs:
        streams, demonstrations = CURVE_RUNS[name]
        recipe = replace(PlannerRecipe(), streams=streams, demonstrations=demonstrations)
        made_by = {"recipe": asdict(recipe)}
        recorded[name] = kept.read(name, made_by)
        if recorded[name] is None:
            recorded[name] = train_planner(recipe, progress)[2]
            kept.write(name, made_by, recorded[name])
    return {"runs": recorded}


def load_recorded_curves(path: str | Path | None = None) -> dict:
    """The shipped recording (made by ``python -m vlacourse.hierarchy.planning curves``), or the one at ``path``."""
    return read_recording(path, CURVES, "python -m vlacourse.hierarchy.planning curves")


def planner_runs(curves: str | Path | None = None) -> dict[str, dict]:
    """Every measured planner by name ("two@100": the shipped one; the others from the ``curves`` recording, the
    shipped one without a path): what each run measured on the arm, with the recipe that made it."""
    runs = load_recorded_curves(curves)["runs"] | {"two@100": metrics_of(CHECKPOINT)}
    return {name: runs[name] for name in ("two@1", "two@10", "two@100", "spatial@100", "semantic@100")}


def print_outcomes(title: str, metrics: dict) -> None:
    for name, outcome in metrics.items():
        if name.endswith("outcomes"):
            print(f"{title} {name.removesuffix('_outcomes')}: {sum(outcome)} of {len(outcome)} episodes")


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.hierarchy.planning", "the CLIPort-style planner (notebook 10)")
    make = commands.add("train", "train the planner on both tasks and measure it on the arm", CHECKPOINT)
    make.add_argument("--steps", type=int, default=PlannerRecipe.steps)
    make.add_argument("--streams", choices=["two", "spatial", "semantic"], default="two")
    curves = commands.add("curves", "train the planner on fewer demonstrations and on each stream alone", CURVES)
    curves.add_argument("--runs", nargs="+", choices=list(CURVE_RUNS), default=list(CURVE_RUNS))
    curves.add_argument("--kept", type=Path, help="a folder that keeps each finished run: run again to resume")
    args = commands.parse(argv)
    if args.command == "train":
        planner, _, metrics = train_planner(PlannerRecipe(steps=args.steps, streams=args.streams), not args.quiet)
        save_planner(planner, args.out, metrics)
        print_outcomes("", metrics)
    else:
        recording = record_curves(args.runs, not args.quiet, args.kept)
        args.out.write_text(json.dumps(recording, indent=1))
        for name, metrics in recording["runs"].items():
            print_outcomes(name, metrics)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
