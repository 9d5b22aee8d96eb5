"""The policy interface every VLA of the course shares, its data pipeline, and its training loop.

In the spirit of LeRobot's policies, a policy is a torch module with

    forward(batch) -> (loss, parts)          training: a batch of frames with their action chunks
    predict_action_chunk(observation)        inference: the next ``chunk_size`` actions, (H, action_dim)
    select_action(observation)               the control loop: pops an action queue, refilled with the
                                             first ``n_action_steps`` actions of a new chunk when empty
    reset()                                  a new episode: empties the queue
    save(path) / Policy.load(path)           one safetensors file: weights, normalisation statistics
                                             and the config, so a loaded policy needs nothing else

    observation (env dict) --check_observation--> tensors --model--> chunk (H, D) --queue--> action (D,)
                                                                                     ^ refilled every n_action_steps

Pre-processing (checks, tokenising the instruction, normalising the state) happens in the policy; the
environment hands it its raw observation dict, the same one the scripted expert reads.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_model, save_model

from vlacourse.checkpoint import read_metadata
from vlacourse.training import History, train

if TYPE_CHECKING:
    from vlacourse.widgets.interactive import LiveLossPlot

STATE_KEY, ACTION_KEY, TASK_KEY = "observation.state", "action", "task"
ENVIRONMENT_STATE_KEY = "observation.environment_state"  # labels for auxiliary losses, never an input
ENVIRONMENT_STATE_DIM = 16  # x, y, z of four blocks, x, y of two zones (vlacourse.sim.env)
POINTING_KEY = "pointing"  # labels: where the named block is in each camera (vlacourse.sim.cameras)


@dataclass
class PolicyConfig:
    chunk_size: int = 10  # H: actions predicted at once (0.2 s at 50 Hz)
    n_action_steps: int = 10  # actions executed from each chunk before predicting the next one
    cameras: tuple[str, ...] = ("scene", "wrist")  # images the policy reads, by camera name
    image_size: int = 64  # pixels per side of each camera image
    state_dim: int = 9  # observation.state: gripper x, y, z, opening, 5 joint angles
    action_dim: int = 4  # dx, dy, dz, gripper
    locate_weight: float = 1.0  # weight of the auxiliary loss that locates the objects (0 turns it off)
    keypoints: int = 16  # spatial-softmax keypoints read out of each camera's patch tokens (0: none)
    point_weight: float = 0.0  # weight of the loss that points at the named block; > 0 adds a pointer
    action_repeat: int = 1  # control steps each predicted action is held (5: a 10 Hz policy on the 50 Hz arm)

    def __post_init__(self):
        self.cameras = tuple(self.cameras)  # JSON gives lists back
        if self.action_repeat < 1:
            raise ValueError(
                f"action_repeat must be at least 1 (1: one action per control step), got {self.action_repeat}"
            )
        if not 1 <= self.n_action_steps <= self.chunk_size:
            raise ValueError(
                f"n_action_steps must be between 1 and chunk_size={self.chunk_size}, got {self.n_action_steps}"
            )


def held_actions(actions: np.ndarray, repeat: int) -> np.ndarray:
    """(..., T, D) actions of a policy that acts every ``repeat`` control steps, from the (..., T * repeat, D)
    actions of the control steps: each moves as the mean of its steps, so that held for ``repeat`` steps it goes
    as far in the arm's own units (and the actions' statistics stay those of the dataset), and commands the
    gripper as the last of them. ``repeat`` = 1 gives the actions back."""
    if repeat == 1:
        return actions
    grouped = actions.reshape(*actions.shape[:-2], -1, repeat, actions.shape[-1])  # (..., T, repeat, D)
    return np.concatenate([grouped[..., :3].mean(-2), grouped[..., -1, 3:]], axis=-1)  # (..., T, D)


OFFSET_UNIT = 0.1  # metres: object offsets are learned in units of 10 cm, so that they are about 1


def object_offsets(environment_state: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """(B, 16): where each object is from the gripper, in units of ``OFFSET_UNIT``: x, y, z of the four
    blocks, then x, y of the two zones. The target of the auxiliary localisation loss: what a policy must
    know to move to a block, and what behaviour cloning alone teaches slowly (see ``vlacourse.policies.vlm_prefix``)."""
    gripper = state[:, :3]  # (B, 3)
    blocks = environment_state[:, :12].view(-1, 4, 3) - gripper[:, None]  # (B, 4, 3)
    zones = environment_state[:, 12:].view(-1, 2, 2) - gripper[:, None, :2]  # (B, 2, 2)
    return torch.cat([blocks.flatten(1), zones.flatten(1)], dim=1) / OFFSET_UNIT


def locate_loss(predicted: torch.Tensor, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, float]:
    """L1 between predicted and true object offsets, and the median error of the blocks' x, y in cm."""
    error = predicted - object_offsets(batch[ENVIRONMENT_STATE_KEY], batch[STATE_KEY])  # (B, 16)
    block_cm = error[:, :12].detach().view(-1, 4, 3)[..., :2].norm(dim=-1) * OFFSET_UNIT * 100  # (B, 4)
    return error.abs().mean(), block_cm.median().item()


def check_observation(observation: dict[str, Any], config: PolicyConfig) -> None:
    """A clear error for an observation a policy cannot read, before any compute runs."""
    image_keys = [f"observation.images.{c}" for c in config.cameras]
    missing = [k for k in (*image_keys, STATE_KEY, TASK_KEY) if k not in observation]
    if missing:
        raise KeyError(
            f"the observation has no {missing}: a policy reads {image_keys + [STATE_KEY, TASK_KEY]} "
            f"(build the env with cameras={config.cameras})"
        )
    size = config.image_size
    for key in image_keys:
        image = np.asarray(observation[key])
        if image.shape != (size, size, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"{key} must be a ({size}, {size}, 3) uint8 image, got {image.dtype} {image.shape}: "
                f"make the env with image_size={size}"
            )
    state = np.asarray(observation[STATE_KEY])
    if state.shape != (config.state_dim,) or not np.all(np.isfinite(state)):
        raise ValueError(f"{STATE_KEY} must be {config.state_dim} finite numbers, got {state.shape}: {state}")
    if not isinstance(observation[TASK_KEY], str) or not observation[TASK_KEY].strip():
        raise ValueError(f"{TASK_KEY} must be the instruction as a non-empty string, got {observation[TASK_KEY]!r}")


class Policy(nn.Module):
    """The base class: the action queue, save and load. Subclasses define the model."""

    config_class = PolicyConfig

    def __init__(self, config: PolicyConfig, stats: dict[str, dict[str, np.ndarray]] | None):
        """``stats`` are a dataset's (``DemoDataset.stats``); None leaves placeholders that ``load`` fills."""
        super().__init__()
        self.config = config
        # Normalisation statistics are buffers: saved with the weights, moved with .to(device).
        for key, dim in ((STATE_KEY, config.state_dim), (ACTION_KEY, config.action_dim)):
            for name in ("mean", "std", "q01", "q99"):
                value = np.ones(dim) if stats is None else np.asarray(stats[key][name])
                self.register_buffer(f"{key.replace('.', '_')}_{name}", torch.as_tensor(value, dtype=torch.float32))
        self._queue: deque[np.ndarray] = deque()

    @property
    def device(self) -> torch.device:
        return self.observation_state_mean.device

    def normalize_state(self, state: torch.Tensor) -> torch.Tensor:
        return (state - self.observation_state_mean) / (self.observation_state_std + 1e-6)

    def reset(self) -> None:
        self._queue.clear()

    @property
    def queued_actions(self) -> int:
        """Actions left in the queue: ``select_action`` predicts a new chunk when this is 0."""
        return len(self._queue)

    @property
    def steps_per_chunk(self) -> int:
        """Control steps one chunk lasts on the arm: ``n_action_steps`` actions, each held ``action_repeat`` steps."""
        return self.config.n_action_steps * self.config.action_repeat

    def executed_actions(self, chunk: np.ndarray) -> np.ndarray:
        """The control steps' actions a chunk (H, D) becomes: its first ``n_action_steps``, each held for
        ``action_repeat`` steps."""
        return np.repeat(chunk[: self.config.n_action_steps], self.config.action_repeat, axis=0)

    @torch.no_grad()
    def select_action(self, observation: dict[str, Any]) -> np.ndarray:
        """The next action (action_dim,): from the queue, or from a new chunk when the queue is empty."""
        if not self._queue:
            self._queue.extend(self.executed_actions(self.predict_action_chunk(observation)))
        return self._queue.popleft()

    def predict_action_chunk(self, observation: dict[str, Any]) -> np.ndarray:
        """The next ``chunk_size`` actions (H, action_dim) for one observation dict of the env."""
        raise NotImplementedError

    def predict_action_chunks(self, observations: list[dict[str, Any]]) -> np.ndarray:
        """(B, H, action_dim) for B observations, e.g. of B environments run side by side. Subclasses
        batch the forward passes; this default predicts one by one."""
        return np.stack([self.predict_action_chunk(observation) for observation in observations])

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss on a batch of ``ChunkBatches``, and its parts as plain numbers for logging."""
        raise NotImplementedError

    def extra_metadata(self) -> dict[str, str]:
        """Whatever else a subclass needs to be rebuilt (a tokenizer), as strings."""
        return {}

    def save(self, path: str | Path, metrics: dict | None = None) -> None:
        """Weights and buffers; tied weights (an LM head sharing its embedding) are stored once."""
        module = type(self).__module__
        if module == "__main__":  # made by `python -m vlacourse.x`: store the name that `load` can import
            module = sys.modules["__main__"].__spec__.name
        metadata = {
            "class": f"{module}:{type(self).__qualname__}",
            "config": json.dumps(asdict(self.config)),
            "metrics": json.dumps(metrics or {}),
            **self.extra_metadata(),
        }
        save_model(self, str(path), metadata=metadata)

    @staticmethod
    def load(path: str | Path, device: str | torch.device = "cpu", made_by: str | None = None) -> Policy:
        """Any course policy from its file; ``policy.metrics`` holds what was measured when it was saved.
        ``made_by``: the command that makes the file, named in the error if the file is unreadable."""
        remedy = f"make it again with `{made_by} --out {path}`" if made_by else "save or train the policy again"
        metadata = read_metadata(path, remedy)
        if "class" not in metadata:
            raise ValueError(
                f"{path} holds no course policy (its metadata names no policy class): "
                "load it with the function that saved it"
            )
        module, name = metadata["class"].split(":")
        cls = getattr(importlib.import_module(MOVED_MODULES.get(module, module)), name)
        policy = cls.from_metadata(cls.config_class(**json.loads(metadata["config"])), metadata)
        missing, unexpected = load_model(policy, str(path), strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path} does not fit {cls.__name__} (missing {missing}, unexpected {unexpected}): "
                "it was saved by another version of the course"
            )
        policy.metrics = json.loads(metadata["metrics"])
        return policy.to(device).eval()

    @classmethod
    def from_metadata(cls, config: PolicyConfig, metadata: dict[str, str]) -> Policy:
        """An untrained policy of the saved shape, rebuilt from ``extra_metadata``; ``load`` fills its weights."""
        raise NotImplementedError


# Where the modules that saved earlier checkpoints live now: files made before the package took its
# subpackage layout name their class by the old, flat module.
MOVED_MODULES = {
    "vlacourse.vla": "vlacourse.policies.binning_vla",
    "vlacourse.fast_vla": "vlacourse.policies.fast_vla",
    "vlacourse.flow": "vlacourse.policies.flow",
    "vlacourse.insulation": "vlacourse.policies.insulation",
    "vlacourse.pointing": "vlacourse.vlm.pointing",
}


NO_OP_MOTION = 0.05  # an action below this on every axis (0.5 mm per step) does not move the arm


def no_op_frames(dataset) -> np.ndarray:
    """(N,) bool: frames whose action neither moves the arm (``NO_OP_MOTION``) nor changes the gripper
    command from the frame before (the first frame of an episode counts as unchanged).

    OpenVLA removes such "no-op" transitions from its LIBERO fine-tuning data (Kim et al. 2024, appendix E).
    Here they are the first frames of every move: the expert's minimum-jerk paths start at rest, so the
    arm at rest is labelled "do not move". A policy that learns that label stands still and sees the same
    frame again: measured on reach, the binning VLA then never leaves its start (notebook 04)."""
    actions, starts = dataset.arrays[ACTION_KEY], dataset.episode_data_index["from"]  # (N, 4), (E,)
    previous_gripper = np.roll(actions[:, 3], 1)  # (N,)
    previous_gripper[starts] = actions[starts, 3]
    still = np.abs(actions[:, :3]).max(axis=1) < NO_OP_MOTION
    return still & (actions[:, 3] == previous_gripper)


class ChunkBatches:
    """Random batches of frames from a ``DemoDataset``, each with the action chunk that follows it.

    A frame near the end of its episode has fewer than H actions left: the chunk is padded with the
    last action and ``action_is_pad`` marks the padding, so the loss can skip it (as LeRobot does).
    A policy that holds each action for ``action_repeat`` control steps learns chunks of ``held_actions``.
    With ``skip_no_ops`` no chunk starts at a no-op frame (``no_op_frames``); chunks still run through them.
    """

    def __init__(
        self,
        dataset,
        config: PolicyConfig,
        batch_size: int,
        seed: int,
        episodes=None,
        device: str | torch.device = "cpu",
        skip_no_ops: bool = True,
    ):
        self.dataset, self.config, self.batch_size, self.device = dataset, config, batch_size, device
        self.rng = np.random.default_rng(seed)
        episodes = range(dataset.num_episodes) if episodes is None else episodes
        starts, stops = dataset.episode_data_index["from"], dataset.episode_data_index["to"]
        self.frames = np.concatenate([np.arange(starts[e], stops[e]) for e in episodes])
        if skip_no_ops:
            self.frames = self.frames[~no_op_frames(dataset)[self.frames]]
        self.episode_end = np.zeros(len(dataset), np.int64)
        for start, stop in zip(starts, stops, strict=True):
            self.episode_end[start:stop] = stop
        arrays = dataset.arrays
        self.images = {c: torch.from_numpy(arrays[f"observation.images.{c}"]) for c in config.cameras}
        self.state = torch.from_numpy(arrays[STATE_KEY])
        self.actions = arrays[ACTION_KEY]
        self.task_index = arrays["task_index"]
        # The objects' true positions, for policies that learn to locate them as an auxiliary task.
        self.environment_state = torch.from_numpy(arrays[ENVIRONMENT_STATE_KEY])
        self.pointing = pointing_targets(arrays, dataset.tasks) if config.point_weight > 0 else None

    def batch_at(self, frames: np.ndarray) -> dict[str, torch.Tensor]:
        H, k = self.config.chunk_size, self.config.action_repeat
        wanted = frames[:, None] + np.arange(H * k)[None, :]  # (B, H * k) control step of each chunk action
        is_pad = wanted[:, ::k] >= self.episode_end[frames][:, None]  # (B, H): an action that starts past the end
        wanted = np.minimum(wanted, self.episode_end[frames][:, None] - 1)
        index = torch.from_numpy(frames)
        actions = torch.from_numpy(held_actions(self.actions[wanted], k))  # (B, H, D)
        batch = {f"observation.images.{c}": images[index] for c, images in self.images.items()}
        batch |= {
            STATE_KEY: self.state[index],
            ACTION_KEY: actions,
            "action_is_pad": torch.from_numpy(is_pad),
            ENVIRONMENT_STATE_KEY: self.environment_state[index],
        }
        if self.pointing is not None:
            batch[POINTING_KEY] = self.pointing[index]  # (B, cameras, 3)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        batch[TASK_KEY] = [self.dataset.tasks[i] for i in self.task_index[frames]]  # the instructions, as text
        return batch

    def __call__(self) -> dict[str, torch.Tensor]:
        return self.batch_at(self.rng.choice(self.frames, self.batch_size))


def pointing_targets(arrays: dict[str, np.ndarray], tasks: list[str]) -> torch.Tensor:
    """(N, cameras, 3): where each frame's named block (the first colour its instruction names) appears in the
    scene and wrist cameras, u, v and whether in view: the pointer's labels, from the simulator's positions."""
    from vlacourse.sim.cameras import PointingLabels, named_block

    labels = PointingLabels()(arrays[STATE_KEY], arrays[ENVIRONMENT_STATE_KEY])  # (N, blocks, cameras, 3)
    named = np.array([named_block(text) for text in tasks])[arrays["task_index"]]  # (N,)
    return torch.from_numpy(labels[np.arange(len(named)), named])


def load_policy(path: str | Path | None, shipped: str, command: str, device: str | torch.device = "cpu") -> Policy:
    """The policy saved at ``path``; without one, the file ``shipped`` in the package's data, which
    ``command`` makes (a clear error if this version of the course does not ship it)."""
    if path is not None:
        return Policy.load(path, device, made_by=command)
    with resources.as_file(resources.files("vlacourse") / "data" / shipped) as file:
        if not file.exists():
            raise FileNotFoundError(
                f"this version of the course ships no {shipped} yet: make one with "
                f"`{command} --out {shipped}` and pass its path"
            )
        return Policy.load(file, device, made_by=command)


def split_episodes(num_episodes: int, validation_fraction: float = 0.05) -> tuple[list[int], list[int]]:
    """The last episodes are kept for the validation loss (every task appears: tasks are taken in turn)."""
    held = max(1, round(num_episodes * validation_fraction))
    return list(range(num_episodes - held)), list(range(num_episodes - held, num_episodes))


def observations_of(batch: dict[str, Any], config: PolicyConfig) -> list[dict[str, Any]]:
    """The frames of a training batch as the environment hands them to a policy, one dict per frame."""
    keys = [f"observation.images.{c}" for c in config.cameras] + [STATE_KEY]
    arrays = {k: batch[k].cpu().numpy() for k in keys}
    return [{**{k: arrays[k][i] for k in keys}, TASK_KEY: task} for i, task in enumerate(batch[TASK_KEY])]


@torch.no_grad()
def chunk_error(policy: Policy, batch: dict[str, Any]) -> float:
    """Mean absolute difference between the chunks the policy predicts for a batch's frames and the
    demonstrated chunks, over the real (unpadded) actions, in action units: comparable across action
    heads (bins, FAST tokens, flow), where their losses are not."""
    predicted = torch.as_tensor(policy.predict_action_chunks(observations_of(batch, policy.config)))  # (B, H, D)
    error = (predicted - batch[ACTION_KEY].cpu()).abs().mean(-1)  # (B, H)
    return error[~batch["action_is_pad"].cpu()].mean().item()


CHUNK_ERROR_FRAMES = 64  # of the validation frames, those whose chunks are predicted (it costs more than a loss)


def validation_frames(
    dataset, config: PolicyConfig, seed: int = 0, device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """The 256 held-out frames on which ``train_policy(seed=seed)`` measures its validation loss, the same every
    time so that the curve compares like with like; its ``chunk_error`` is on the first ``CHUNK_ERROR_FRAMES``."""
    return ChunkBatches(dataset, config, 256, seed + 1, split_episodes(dataset.num_episodes)[1], device)()


@dataclass
class PolicyHistory(History):
    success_steps: list[int] = field(default_factory=list)  # steps at which the policy was run on the arm
    success_rates: list[float] = field(default_factory=list)  # its success rate there
    chunk_errors: list[float] = field(default_factory=list)  # ``chunk_error`` on validation frames, each eval
    measurements: list[dict] = field(default_factory=list)  # what ``measure()`` returned, each eval


def train_policy(
    policy: Policy,
    dataset,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-4,
    seed: int = 0,
    warmup_steps: int = 100,
    eval_every: int = 250,
    eval_task: str | None = None,
    eval_episodes: int = 0,
    checkpoint: str | Path | None = None,
    plot: LiveLossPlot | None = None,
    progress: bool = True,
    co_training: Callable[[], Any] | None = None,
    measure: Callable[[], dict] | None = None,
    stop_after: int | None = None,
) -> PolicyHistory:
    """The course's one loop for training a policy on demonstrations, on the policy's device.

    Every ``eval_every`` steps: the validation loss on held-out demonstration episodes, the error of the
    chunks predicted for 64 of their frames (``chunk_error``), and, if
    ``eval_episodes`` > 0, the success rate over that many seeded episodes of ``eval_task`` on the arm;
    with ``checkpoint``, the policy is saved there each time; with ``measure``, what it returns (kept in
    ``history.measurements``). ``co_training()`` gives data of another kind for every training batch, as
    ``batch["co_training"]`` (notebook 07's captions and questions). ``stop_after``: only the first steps of
    the schedule (see ``training.train``). Seeded: the same arguments give the same weights on the same machine."""
    from vlacourse.notebook import seed_everything
    from vlacourse.sim.evaluate import evaluate

    seed_everything(seed)
    batches = ChunkBatches(
        dataset, policy.config, batch_size, seed, split_episodes(dataset.num_episodes)[0], policy.device
    )
    validation_batch = validation_frames(dataset, policy.config, seed, policy.device)
    predicted_frames = {k: v[:CHUNK_ERROR_FRAMES] for k, v in validation_batch.items()}
    history = PolicyHistory()

    def evaluate_policy() -> float:
        loss = policy(validation_batch)[0].item()
        history.chunk_errors.append(chunk_error(policy, predicted_frames))
        if eval_episodes:
            result = evaluate(policy, eval_task, episodes=eval_episodes, seed=seed, progress=False)
            history.success_steps.append(history.steps[-1])
            history.success_rates.append(result.success_rate)
        if checkpoint is not None:
            policy.save(checkpoint)
        if measure is not None:
            history.measurements.append(measure())
        return loss

    def next_batch() -> dict[str, Any]:
        return batches() if co_training is None else {**batches(), "co_training": co_training()}

    return train(
        policy,
        next_batch,
        steps,
        lr=lr,
        evaluate=evaluate_policy,
        eval_every=eval_every,
        plot=plot,
        progress=progress,
        warmup_steps=warmup_steps,
        cosine=True,
        history=history,
        compute_loss=lambda model, batch: model(batch)[0],
        stop_after=stop_after,
    )


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` CPU threads (one, as a robot's small computer might give a policy), then go back."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def actions_per_second(policy: Policy, observation: dict[str, Any], chunks: int = 20) -> dict[str, float]:
    """Inference speed on one observation: milliseconds per chunk, and actions per second when every
    control step of a chunk is executed (``n_action_steps`` actions, each held ``action_repeat`` steps) before the
    next chunk is predicted."""
    policy.predict_action_chunk(observation)  # warm up (first calls allocate)
    start = time.perf_counter()
    for _ in range(chunks):
        policy.predict_action_chunk(observation)
    ms = (time.perf_counter() - start) / chunks * 1000
    return {"ms_per_chunk": ms, "actions_per_second": policy.steps_per_chunk / ms * 1000}


def warn_unseen_words(instruction: str, known: set[str]) -> None:
    """The documented fallback for words the policy never read in training: it still acts (byte-level BPE
    encodes any text) but says so, because its action is then a guess."""
    unseen = sorted(set(instruction.lower().split()) - known)
    if unseen:
        warnings.warn(
            f"the policy never saw the word(s) {unseen} in its training instructions: it will act, but "
            f"on a guess. Use the words of the course's tasks (vlacourse.sim.tasks.TEMPLATES).",
            stacklevel=3,
        )
