"""Demonstrations: the scripted expert's episodes, recorded frame by frame, cached on disk.

Each frame has the fields of a LeRobotDataset, so the names are the ones a learner meets in LeRobot:

    observation.images.scene  (H, W, 3) uint8     observation.images.wrist  (H, W, 3) uint8
    observation.state         (9,) float32        action                    (4,) float32
    observation.environment_state (16,) float32   the objects' positions: labels, never a policy input
    episode_index, frame_index, index             timestamp (s, frame_index / fps)
    task_index -> task (the instruction)          subtask_index -> subtask (the next step in words)
    next.done, next.reward

Unlike LeRobot, images stay uint8 (H, W, C) numpy arrays and frames are numpy, not torch: the
policies' own pre-processing converts them. The file is one ``.npz`` per (suite, episodes, seed, image
size, version), under ``$VLACOURSE_CACHE`` or ``~/.cache/vlacourse``: loaded when present, rebuilt when
missing or unreadable, written atomically so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from vlacourse.sim.arm import CONTROL_HZ
from vlacourse.sim.env import CAMERAS, TabletopEnv
from vlacourse.sim.expert import ScriptedExpert

DATASET_VERSION = 2  # bump when the simulator, expert or format changes: old caches are then ignored


@dataclass(frozen=True)
class Suite:
    """What the expert demonstrates: tasks taken in turn, and how the demonstrations vary."""

    tasks: tuple[str, ...]  # episode i does tasks[i % len(tasks)]
    styles: tuple[str, ...] = ("steady",)  # operator styles, taken in turn
    noise: float = 0.0  # std of the noise on executed actions (labels stay clean)
    recovery_fraction: float = 0.0  # share of episodes whose first grasp misses on purpose


SUITES = {
    "reach": Suite(("reach",)),
    "push": Suite(("push",)),
    "pick_place": Suite(("pick_place",)),
    "stack": Suite(("stack",)),
    "clear_table": Suite(("clear_table",)),
    # Three operators who differ in speed, hover height and pauses: a policy with several ways to act (notebook 08).
    "pick_place_styles": Suite(("pick_place",), styles=("steady", "quick", "careful")),
    "short": Suite(("reach", "push", "pick_place", "stack")),
    # The white paper's data-quality advice at once: several operators, noise, failures and recoveries.
    "diverse": Suite(
        ("reach", "push", "pick_place", "stack"),
        styles=("steady", "quick", "careful"),
        noise=0.1,
        recovery_fraction=0.2,
    ),
}
IMAGE_KEYS = tuple(f"observation.images.{c}" for c in CAMERAS)
ARRAY_KEYS = (
    *IMAGE_KEYS,
    "observation.state",
    "observation.environment_state",
    "action",
    "episode_index",
    "frame_index",
    "index",
    "timestamp",
    "task_index",
    "subtask_index",
    "next.done",
    "next.reward",
)


def cache_dir() -> Path:
    return Path(os.environ.get("VLACOURSE_CACHE", Path.home() / ".cache" / "vlacourse"))


def episode_seed(seed: int, episode: int) -> int:
    """Seeds of training episodes; evaluation uses seeds from 10**9 up, so the two never meet."""
    return seed * 100_000 + episode


class DemoDataset:
    """Frames of expert demonstrations; ``ds[i]`` is one frame as a dict, ``ds.episode(e)`` one episode."""

    fps = CONTROL_HZ

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        tasks: list[str],
        subtasks: list[str],
        episode_success: np.ndarray,
        meta: dict[str, Any],
    ):
        self.arrays, self.tasks, self.subtasks = arrays, tasks, subtasks
        self.episode_success, self.meta = episode_success, meta
        ends = np.flatnonzero(np.diff(arrays["episode_index"])) + 1
        self.episode_data_index = {"from": np.r_[0, ends], "to": np.r_[ends, len(arrays["action"])]}
        self.stats = {key: _stats(arrays[key]) for key in ("observation.state", "action")}

    def __len__(self) -> int:
        return len(self.arrays["action"])

    @property
    def num_episodes(self) -> int:
        return len(self.episode_data_index["from"])

    @property
    def features(self) -> dict[str, tuple[tuple[int, ...], str]]:
        return {key: (value.shape[1:], str(value.dtype)) for key, value in self.arrays.items()}

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} is out of range: the dataset has {len(self)} frames")
        frame = {key: value[index] for key, value in self.arrays.items()}
        frame["task"] = self.tasks[frame["task_index"]]
        frame["subtask"] = self.subtasks[frame["subtask_index"]]
        return frame

    def episode(self, episode: int) -> dict[str, np.ndarray]:
        """All arrays of one episode (views, not copies)."""
        if not 0 <= episode < self.num_episodes:
            raise IndexError(f"episode {episode} is out of range: the dataset has {self.num_episodes} episodes")
        start, stop = self.episode_data_index["from"][episode], self.episode_data_index["to"][episode]
        return {key: value[start:stop] for key, value in self.arrays.items()}

    def save(self, path: Path) -> None:
        """Write compressed (the images deflate about 13x) and atomically: a temporary file renamed into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            temporary,
            **self.arrays,
            tasks=np.array(self.tasks),
            subtasks=np.array(self.subtasks),
            episode_success=self.episode_success,
            meta_keys=np.array(list(self.meta)),
            meta_values=np.array([str(v) for v in self.meta.values()]),
        )
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> DemoDataset:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in ARRAY_KEYS if key in f}
            missing = [k for k in ARRAY_KEYS if k not in arrays and k not in IMAGE_KEYS]
            if missing or len({len(v) for v in arrays.values()}) != 1:
                raise ValueError(f"{path} is incomplete (missing {missing} or ragged arrays)")
            meta = dict(zip(f["meta_keys"].tolist(), f["meta_values"].tolist(), strict=True))
            return cls(arrays, f["tasks"].tolist(), f["subtasks"].tolist(), f["episode_success"], meta)


def _stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """LeRobot's normalisation statistics per dimension, plus the 1st/99th percentiles FAST and RT-2 use."""
    return {
        "mean": values.mean(0),
        "std": values.std(0),
        "min": values.min(0),
        "max": values.max(0),
        "q01": np.quantile(values, 0.01, axis=0),
        "q99": np.quantile(values, 0.99, axis=0),
    }


def collect(
    suite: str = "pick_place",
    episodes: int = 100,
    seed: int = 0,
    image_size: int = 64,
    progress: bool = True,
    workers: int = 1,
) -> DemoDataset:
    """Run the expert for ``episodes`` episodes of ``suite`` and record every frame (no cache).

    ``workers`` > 1 records consecutive runs of episodes in that many processes: the same dataset, faster
    on a machine with more cores."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}: choose one of {sorted(SUITES)}")
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    bounds = np.linspace(0, episodes, min(workers, episodes) + 1).astype(int)
    ranges = [(suite, int(a), int(b), seed, image_size) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if len(ranges) == 1:
        parts = [_record(*ranges[0], progress=progress)]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a fresh process opens its own rendering context
        with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(
                tqdm(
                    pool.map(_record, *zip(*ranges, strict=True)),
                    total=len(ranges),
                    desc=f"collecting {suite} ({len(ranges)} workers)",
                    disable=not progress,
                )
            )
    # Each part numbered its own tasks and subtasks in order of appearance: renumber them as one run would.
    tasks: dict[str, int] = {}
    subtasks: dict[str, int] = {}
    columns: dict[str, list] = {key: [] for key in ARRAY_KEYS}
    for arrays, part_tasks, part_subtasks, _ in parts:
        task_ids = np.array([tasks.setdefault(t, len(tasks)) for t in part_tasks])
        subtask_ids = np.array([subtasks.setdefault(t, len(subtasks)) for t in part_subtasks])
        arrays["task_index"] = task_ids[arrays["task_index"]]
        arrays["subtask_index"] = subtask_ids[arrays["subtask_index"]]
        for key, value in arrays.items():
            columns[key].append(value)
    arrays = {key: np.concatenate(values) for key, values in columns.items() if values}
    arrays["index"] = np.arange(len(arrays["action"]))
    arrays["timestamp"] = (arrays["frame_index"] / CONTROL_HZ).astype(np.float32)
    successes = np.concatenate([part[3] for part in parts])
    meta = {"suite": suite, "episodes": episodes, "seed": seed, "image_size": image_size, "version": DATASET_VERSION}
    return DemoDataset(arrays, list(tasks), list(subtasks), successes, meta)


def _record(suite: str, first: int, stop: int, seed: int, image_size: int, progress: bool = False):
    """Episodes ``first`` to ``stop - 1`` of ``collect``: (arrays, tasks, subtasks, successes), with task and
    subtask indices into this part's own lists."""
    config = SUITES[suite]
    env = TabletopEnv(config.tasks[0], image_size=image_size)
    rng = np.random.default_rng(seed)
    rng.random(first)  # the draws of the episodes before this part, so each episode gets the same draw
    columns: dict[str, list] = {key: [] for key in ARRAY_KEYS if key not in ("index", "timestamp")}
    tasks: dict[str, int] = {}
    subtasks: dict[str, int] = {}
    successes = []
    bar = tqdm(range(first, stop), desc=f"collecting {suite}", disable=not progress, unit="episode")
    for episode in bar:
        task = config.tasks[episode % len(config.tasks)]
        expert = ScriptedExpert(
            env,
            style=config.styles[episode % len(config.styles)],
            noise=config.noise,
            recovery=bool(rng.random() < config.recovery_fraction),
            seed=episode_seed(seed, episode),
        )
        observation, info = env.reset(seed=episode_seed(seed, episode), options={"task": task})
        task_index = tasks.setdefault(observation["task"], len(tasks))
        for frame in range(env.max_steps):
            action = expert.select_action(observation)
            for key in IMAGE_KEYS + ("observation.state", "observation.environment_state"):
                columns[key].append(observation[key])
            columns["action"].append(expert.label.astype(np.float32))  # the clean label, not the noisy action
            columns["subtask_index"].append(subtasks.setdefault(info["subtask"], len(subtasks)))
            columns["episode_index"].append(episode)
            columns["frame_index"].append(frame)
            columns["task_index"].append(task_index)
            observation, reward, terminated, truncated, info = env.step(action)
            columns["next.done"].append(terminated or truncated)
            columns["next.reward"].append(reward)
            if terminated or truncated:
                break
        successes.append(bool(terminated))
        bar.set_postfix(success=f"{np.mean(successes):.0%}")
    arrays = {key: np.asarray(values) for key, values in columns.items() if values}
    return arrays, list(tasks), list(subtasks), np.array(successes)


def cache_path(suite: str, episodes: int, seed: int, image_size: int = 64) -> Path:
    return cache_dir() / f"{suite}-n{episodes}-seed{seed}-{image_size}px-v{DATASET_VERSION}.npz"


def load_or_collect(
    suite: str = "pick_place",
    episodes: int = 100,
    seed: int = 0,
    image_size: int = 64,
    progress: bool = True,
    workers: int = 1,
) -> DemoDataset:
    """The cached dataset for these arguments, collected (and cached) first if needed."""
    path = cache_path(suite, episodes, seed, image_size)
    if path.exists():
        try:
            return DemoDataset.load(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(f"cached dataset {path} is unreadable ({error}); collecting it again", stacklevel=2)
    dataset = collect(suite, episodes, seed, image_size, progress, workers)
    dataset.save(path)
    return dataset
