"""Closed-loop evaluation: run a policy on the arm for seeded episodes and report how often it succeeds.

A policy is anything with ``reset()`` and ``select_action(observation) -> action``: the scripted expert,
and every VLA of the course. Episodes use seeds from 10**9 up, which demonstrations never use, and the
same seeds give the same numbers. Success rates come with a 95% Wilson score interval (Wilson 1927):
with 50 episodes a measured 80% means anything from about 67% to 89%, worth knowing before comparing.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from vlacourse.sim.env import TabletopEnv

EVAL_SEED_BASE = 10**9


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95% for the default z)."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes} of {trials}")
    p = successes / trials
    denominator = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


@dataclass(frozen=True)
class EvalResult:
    task: str
    split: str  # "train" or "heldout" colour/task combinations
    episodes: int
    successes: int
    mean_length: float  # control steps per episode (a success ends the episode early)
    policy_hz: float  # actions per second of policy compute alone
    loop_hz: float  # control steps per second of the whole loop, simulation and rendering included

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)

    def __str__(self) -> str:
        low, high = self.interval
        return (
            f"{self.task:<12} {self.split:<8} success {self.success_rate:6.1%} "
            f"[{low:.0%}, {high:.0%}] over {self.episodes} episodes, mean length {self.mean_length:5.1f} "
            f"steps, policy {self.policy_hz:,.0f} actions/s"
        )


def check_policy(policy, env: TabletopEnv) -> None:
    """A policy needs reset() and select_action(); one bound to an environment (the scripted expert reads
    its simulator) must be bound to this one."""
    for method in ("reset", "select_action"):
        if not callable(getattr(policy, method, None)):
            raise TypeError(
                f"a policy needs reset() and select_action(observation); {type(policy).__name__} has no {method}()"
            )
    if getattr(policy, "env", env) is not env:
        raise ValueError(
            f"this {type(policy).__name__} is bound to another environment than the one it would act "
            "in: build it on the same env, e.g. env = TabletopEnv(task); ScriptedExpert(env)"
        )


def evaluation_seed(seed: int, episode: int) -> int:
    """Seeds of evaluation episodes, from 10**9 up: never a demonstration's (``dataset.episode_seed``)."""
    return EVAL_SEED_BASE + seed * 100_000 + episode


def evaluate(
    policy,
    task: str = "pick_place",
    episodes: int = 50,
    seed: int = 0,
    split: str = "train",
    env: TabletopEnv | None = None,
    progress: bool = True,
    side_by_side: int = 1,
) -> EvalResult:
    """Run ``policy`` for ``episodes`` seeded episodes of ``task`` and measure it.

    Pass ``env`` when the policy is bound to one (the scripted expert reads its simulator); it is then
    reset to ``task`` and its own split is used. ``side_by_side`` > 1 runs that many environments at once
    and asks a course policy for their chunks in one batch (``predict_action_chunks``): the same episodes,
    several times faster on a GPU (the success counts may differ from one-by-one runs in rare episodes,
    where a batch's float rounding flips a close call).
    """
    if side_by_side > 1:
        return _evaluate_side_by_side(policy, task, episodes, seed, split, side_by_side, progress)
    env = env or TabletopEnv(task, split=split)
    check_policy(policy, env)
    successes, lengths, policy_seconds, steps = 0, [], 0.0, 0
    start = time.perf_counter()
    for episode in tqdm(range(episodes), desc=f"evaluating {task}", disable=not progress, unit="episode"):
        observation, _ = env.reset(seed=evaluation_seed(seed, episode), options={"task": task})
        policy.reset()
        while True:
            tic = time.perf_counter()
            action = policy.select_action(observation)
            policy_seconds += time.perf_counter() - tic
            observation, _, terminated, truncated, _ = env.step(np.asarray(action))
            steps += 1
            if terminated or truncated:
                break
        successes += int(terminated)
        lengths.append(env.steps)
    loop_seconds = time.perf_counter() - start
    return EvalResult(
        task,
        env.split,
        episodes,
        successes,
        float(np.mean(lengths)),
        steps / max(policy_seconds, 1e-9),
        steps / loop_seconds,
    )


def _evaluate_side_by_side(
    policy, task: str, episodes: int, seed: int, split: str, width: int, progress: bool
) -> EvalResult:
    """``evaluate`` with ``width`` environments stepped in lockstep, each with its own action queue; a
    finished environment starts the next unplayed episode."""
    if not all(callable(getattr(policy, name, None)) for name in ("predict_action_chunks", "executed_actions")):
        raise TypeError(
            f"side_by_side needs a course policy (with predict_action_chunks and executed_actions); "
            f"{type(policy).__name__} lacks them: use side_by_side=1"
        )
    envs = [TabletopEnv(task, split=split) for _ in range(min(width, episodes))]
    next_episode, successes, lengths, policy_seconds, steps = 0, 0, [], 0.0, 0
    observations, queues = [None] * len(envs), [[] for _ in envs]
    start = time.perf_counter()
    bar = tqdm(total=episodes, desc=f"evaluating {task}", disable=not progress, unit="episode")
    for i, env in enumerate(envs):
        observations[i], _ = env.reset(seed=evaluation_seed(seed, next_episode), options={"task": task})
        next_episode += 1
    running = list(range(len(envs)))
    while running:
        needing = [i for i in running if not queues[i]]
        if needing:
            tic = time.perf_counter()
            chunks = policy.predict_action_chunks([observations[i] for i in needing])  # (B, H, D)
            policy_seconds += time.perf_counter() - tic
            for i, chunk in zip(needing, chunks, strict=True):
                queues[i] = list(policy.executed_actions(chunk))
        for i in list(running):
            env = envs[i]
            observations[i], _, terminated, truncated, _ = env.step(np.asarray(queues[i].pop(0)))
            steps += 1
            if terminated or truncated:
                successes += int(terminated)
                lengths.append(env.steps)
                bar.update()
                queues[i] = []
                if next_episode < episodes:
                    observations[i], _ = env.reset(seed=evaluation_seed(seed, next_episode), options={"task": task})
                    next_episode += 1
                else:
                    running.remove(i)
    bar.close()
    return EvalResult(
        task,
        envs[0].split,
        episodes,
        successes,
        float(np.mean(lengths)),
        steps / max(policy_seconds, 1e-9),
        steps / (time.perf_counter() - start),
    )
