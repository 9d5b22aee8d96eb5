"""Real-time chunking on a policy that has several ways to act: notebook 08's second sweep.

RTC's case (Black, Galliker, Levine 2025, arXiv 2506.07339, sections 1 and 3) rests on multimodal policies:
two chunks computed a few steps apart may choose different ways to do the task, naive switching then jumps
from one way to the other, and temporal ensembling averages them into an action of neither. The shipped
flow VLA learned from one scripted operator and is nearly unimodal (``rtc.guidance_sensitivity`` is far
below 1 on it). Here it is fine-tuned on demonstrations by three operators (``sim.expert.STYLES``: steady,
quick, careful, who differ in speed, hover height and pauses), the guidance sensitivity is measured on both
policies, and the sweep of ``vlacourse.chunking.rtc`` runs on the fine-tuned one:

    shipped flow VLA --fine-tune on "pick_place_styles" (the three operators in turn)--> styles VLA
    both: |e^T dA_hat/dx_t| / |e| at each Euler step, averaged over fixed observations
    styles VLA: every strategy at every delay (rtc.SweepRecipe), success, largest jump, jerk

Where ours differs, and why:
- The paper's policies are multimodal because people and mixed experts demonstrated them; ours because
  three scripted operators did, and their ways differ in speed and height more than in route (none goes
  around an obstacle another way).
- We fine-tune the shipped VLA for a fraction of its training rather than train a new one, to fit the
  course's compute; it keeps its normalisation statistics, which the steady operator's data set.

``python -m vlacourse.chunking.rtc_styles record`` writes ``rtc_styles_sweep.json`` (and the fine-tuned weights
beside it); notebook 08 reads the recording.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import numpy as np

from vlacourse.checkpoint import read_recording
from vlacourse.chunking.rtc import SweepRecipe, guidance_sensitivity, record_sweep
from vlacourse.cli import Commands
from vlacourse.policies.flow import FlowVLA, load_course_flow_vla
from vlacourse.policies.policy import PolicyHistory, torch_threads, train_policy
from vlacourse.training import PREFIX_STEPS

RECORDING = "rtc_styles_sweep.json"
COMMAND = "python -m vlacourse.chunking.rtc_styles record"


@dataclass(frozen=True)
class StylesRecipe:
    """The fine-tuning of the shipped flow VLA on three operators' demonstrations, and what is measured."""

    suite: str = "pick_place_styles"  # pick-and-place by the steady, quick and careful operators in turn
    episodes: int = 150  # demonstrations, 50 by each operator
    steps: int = 1500  # fine-tuning steps (the shipped VLA trained for 6000 from scratch, ``recipe.HeadRecipe``)
    batch_size: int = 32  # robot frames per step, as the shipped VLA's recipe
    lr: float = 3e-4  # peak, after 100 warmup steps, with cosine decay (``train_policy``)
    seed: int = 0  # the demonstrations' and the training's
    observations: int = 8  # start-of-episode observations the guidance sensitivity is averaged over
    sweep_episodes: int = 30  # episodes per strategy and delay in the sweep (``rtc.SweepRecipe``)


def fine_tune_on_styles(
    recipe: StylesRecipe, progress: bool = True, stop_after: int | None = None
) -> tuple[FlowVLA, PolicyHistory]:
    """The shipped flow VLA after the recipe's fine-tuning (``stop_after``: only its first steps)."""
    from vlacourse.sim.dataset import load_or_collect

    dataset = load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=progress, workers=2)
    policy = load_course_flow_vla()
    history = train_policy(
        policy,
        dataset,
        recipe.steps,
        recipe.batch_size,
        recipe.lr,
        recipe.seed,
        progress=progress,
        stop_after=stop_after,
    )
    return policy.eval(), history


def mean_sensitivity(policy: FlowVLA, observations: list[dict]) -> list[float]:
    """``rtc.guidance_sensitivity`` at each Euler step (t = 1 first), averaged over ``observations``."""
    with torch_threads(1):  # the same float sums on every run
        ratios = [guidance_sensitivity(policy, observation, seed=i) for i, observation in enumerate(observations)]
    return np.mean(ratios, axis=0).tolist()


def start_observations(count: int, task: str = "pick_place") -> list[dict]:
    """What the policy sees at the start of the first ``count`` evaluation episodes."""
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluation_seed

    env = TabletopEnv(task)
    return [env.reset(seed=evaluation_seed(0, e), options={"task": task})[0] for e in range(count)]


def record_styles_sweep(recipe: StylesRecipe, weights_out, progress: bool = True, workers: int = 2) -> dict:
    """Fine-tune, save the weights to ``weights_out``, measure both policies' sensitivity, sweep the new one."""
    tic = time.perf_counter()
    policy, history = fine_tune_on_styles(recipe, progress)
    fine_tune_seconds = time.perf_counter() - tic
    policy.save(weights_out, {"styles_recipe": asdict(recipe)})
    observations = start_observations(recipe.observations)
    sensitivity = {
        "shipped": mean_sensitivity(load_course_flow_vla(), observations),
        "styles": mean_sensitivity(policy, observations),
    }
    sweep = record_sweep(
        SweepRecipe(episodes=recipe.sweep_episodes), progress=progress, workers=workers, checkpoint=weights_out
    )
    return {
        "styles_recipe": asdict(recipe),
        "prefix_losses": history.losses[:PREFIX_STEPS],
        "chunk_error": history.chunk_errors,
        "sensitivity": sensitivity,
        "fine_tune_seconds": fine_tune_seconds,
        **sweep,
    }


def load_styles_sweep(path=None) -> dict:
    """The shipped recording (made by ``python -m vlacourse.chunking.rtc_styles record``), or the one at ``path``."""
    return read_recording(path, RECORDING, COMMAND)


def main(argv: list[str] | None = None) -> None:
    commands = Commands(
        "python -m vlacourse.chunking.rtc_styles", "real-time chunking on three operators' styles (notebook 08)"
    )
    make = commands.add("record", "fine-tune the flow VLA on three operator styles and sweep it", RECORDING)
    make.add_argument("--workers", type=int, default=2, help="processes that share the sweep's cells (one CPU each)")
    args = commands.parse(argv)
    weights = args.out.with_suffix(".safetensors")
    recording = record_styles_sweep(StylesRecipe(), weights, progress=not args.quiet, workers=args.workers)
    args.out.write_text(json.dumps(recording, indent=1))
    print(f"wrote {args.out} and {weights}")


if __name__ == "__main__":
    main()
