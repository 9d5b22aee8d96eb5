"""Real-time chunking: act while the next chunk is being computed (Black, Galliker, Levine 2025, arXiv 2506.07339).

A chunking policy that needs d control steps to compute a chunk either pauses for those d steps or keeps
executing the chunk it has while the next one is computed. The new chunk then arrives d steps late: its
first d actions are for moments already past, and the rest may disagree with the chunk being executed,
which makes the arm jump at the switch. RTC (section 4) treats the new chunk as *inpainting*: its first d
actions are committed (the robot executes them from the previous chunk anyway), so each denoising step is
guided toward the previous chunk's remaining actions, and the sample fills in a continuation of them.

    time ->        k-s            k          k+d              k-s+H        k+H
    previous chunk [== executed ==|== still executed ==|-- planned, not executed --]
    new chunk (observed at k)     [  frozen: weight 1  |  guided: weight decays  | free: weight 0 ]
                                   inference runs here  ^ the switch

    soft mask (section 4), for chunk index i:           W_i = 1                           i < d
                                                        W_i = c_i (e^c_i - 1) / (e - 1)  d <= i < H - s,
                                                              c_i = (H - s - i) / (H - s - d + 1)
                                                        W_i = 0                           i >= H - s

The guidance (section 4, after Pokle et al.'s PiGDM): at every Euler step, the chunk the expert would
reach from here in one jump, A_hat = x_t - t v(x_t, t) (pi0's convention: noise at t = 1), is compared
with the target Y (the previous chunk's remaining actions), and the step is corrected by the vector-
Jacobian product of the weighted error through A_hat:

    g = ((Y - A_hat) * W)^T dA_hat/dx_t        x_(t - 1/N) = x_t - (1/N) (v(x_t, t) - w(t) g)
    w(t) = min(beta, (t^2 + (1 - t)^2) / (t (1 - t)))   (the paper's (1 - tau) / (tau r_tau^2), tau = 1 - t)

with beta = 5. Nothing is retrained: RTC changes only how the trained flow expert (``vlacourse.policies.flow``)
samples. The baselines of the paper's experiments: *synchronous* (pause while thinking), *naive* switching
(execute the new chunk from index d as it comes), *temporal ensembling* (ACT, Zhao et al. 2023: average every
chunk's prediction for the current step with weights exp(-m i), i = 0 the oldest, m = 0.01), and *hard
masking* (the same guidance with W = 1 on the first d actions and 0 after: the frozen prefix alone).

Where ours differs, and why:
- The paper's delay is real latency on a GPU; ours is a parameter d (control steps), so that runs are
  deterministic; ``measured_delay`` turns a measured chunk time into d for this machine.
- ACT queries the policy at every control step; our ensemble queries it every s steps like the other
  strategies, so that all spend the same inference; with H = 10 and s = 5 it averages two chunks.
- The paper's chunks are H = 50 (pi0.5) or 8 (its simulated benchmark); the course's flow VLA makes 10.

The recorded sweep (``python -m vlacourse.chunking.rtc record``) is in ``rtc_sweep.json``, which notebook 08
reads; RESULTS.md tabulates it.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vlacourse.checkpoint import KeptParts, read_recording
from vlacourse.cli import Commands
from vlacourse.policies.flow import CHECKPOINT, FlowVLA, Guidance, euler_path, load_course_flow_vla
from vlacourse.policies.policy import torch_threads

if TYPE_CHECKING:  # the simulator is imported where it runs: MuJoCo fixes its rendering backend when first imported
    from vlacourse.sim.env import TabletopEnv

STRATEGIES = ("synchronous", "naive", "ensemble", "hard_mask", "rtc")
STRATEGY_NAMES = {
    "synchronous": "synchronous (pause)",
    "naive": "naive switching",
    "ensemble": "temporal ensembling",
    "hard_mask": "hard-mask inpainting",
    "rtc": "RTC (soft mask)",
}
CONTROL_PERIOD = 0.02  # seconds per control step: the course's arm runs at 50 Hz
MOTION = slice(0, 3)  # dx, dy, dz: the gripper command (index 3) is a step by design, not a jump to measure


@dataclass(frozen=True)
class ExecutionConfig:
    strategy: str = "rtc"  # one of STRATEGIES
    delay: int = 0  # d: control steps one inference takes; the robot keeps executing meanwhile (but synchronous)
    horizon: int = 5  # s: control steps between the starts of two inferences
    beta: float = 5.0  # RTC's clip on the guidance weight (section 4)
    ensemble_m: float = 0.01  # ACT's temporal ensembling: weight exp(-m i) for the i-th oldest prediction

    def check(self, chunk_size: int) -> None:
        """The loop needs d <= s (one inference at a time) and s + d <= H (the chunk lasts until the next)."""
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: choose one of {STRATEGIES}")
        d, s = self.delay, self.horizon
        if not isinstance(d, int) or not isinstance(s, int) or d < 0 or s < 1:
            raise ValueError(f"delay d must be an int >= 0 and horizon s an int >= 1, got d={d!r}, s={s!r}")
        if d > s or s + d > chunk_size:
            raise ValueError(
                f"need d <= s <= H - d with chunk size H = {chunk_size}, got d={d}, s={s}: "
                f"with this delay choose s in [{max(d, 1)}, {chunk_size - d}]"
            )
        if not 0 <= self.beta < math.inf or self.ensemble_m < 0:
            raise ValueError(f"beta must be finite and >= 0 and ensemble_m >= 0, got {self.beta}, {self.ensemble_m}")


def soft_mask(chunk_size: int, delay: int, horizon: int) -> np.ndarray:
    """(H,) RTC's guidance weights (its soft mask): 1 on the frozen first d, decaying exponentially to 0 at H - s."""
    i = np.arange(chunk_size)
    c = (chunk_size - horizon - i) / (chunk_size - horizon - delay + 1)
    decay = c * np.expm1(c) / (math.e - 1)
    return np.where(i < delay, 1.0, np.where(i < chunk_size - horizon, decay, 0.0))


def hard_mask(chunk_size: int, delay: int) -> np.ndarray:
    """(H,) the ablation's weights: the frozen first d only."""
    return (np.arange(chunk_size) < delay).astype(float)


def guidance_mask(config: ExecutionConfig, chunk_size: int) -> np.ndarray | None:
    """(H,) the weights a guided strategy inpaints with; None for the strategies that do not guide."""
    if config.strategy == "rtc":
        return soft_mask(chunk_size, config.delay, config.horizon)
    if config.strategy == "hard_mask":
        return hard_mask(chunk_size, config.delay)
    return None


def guidance_weight(t: float, beta: float) -> float:
    """min(beta, (t^2 + (1 - t)^2) / (t (1 - t))) in pi0's time (t = 1 noise): unbounded at both ends, so clipped."""
    if t <= 0 or t >= 1:
        return beta
    return min(beta, (t**2 + (1 - t) ** 2) / (t * (1 - t)))


def rtc_guidance(target: torch.Tensor, weights: torch.Tensor, beta: float) -> Guidance:
    """RTC's term for ``flow.euler_path`` (section 4): -w(t) g, g = ((Y - A_hat) * W)^T dA_hat/dx_t, with
    A_hat = x_t - t v the chunk one jump from x_t would reach, Y = ``target`` (B, H, D, normalised) and
    W = ``weights`` (H,)."""

    def guidance(x_t: torch.Tensor, v: torch.Tensor, t: float) -> torch.Tensor:
        denoised = x_t - t * v  # A_hat (B, H, D)
        error = (target - denoised) * weights[None, :, None]  # (B, H, D)
        (correction,) = torch.autograd.grad(denoised, x_t, grad_outputs=error.detach())  # the VJP
        return -guidance_weight(t, beta) * correction

    return guidance


def guided_denoise(
    policy: FlowVLA,
    cache,
    state: torch.Tensor,
    noise: torch.Tensor,
    target: torch.Tensor,
    weights: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """(B, H, D) normalised chunk: the flow VLA's Euler sampler, each step guided toward ``target``
    (B, H, D, normalised) where ``weights`` (H,) say how much. Zero weights or beta = 0 give the plain sampler."""
    velocity = policy.velocity_field(cache, state)
    return euler_path(velocity, noise, policy.config.num_steps, rtc_guidance(target, weights, beta))[-1]


def guidance_sensitivity(policy: FlowVLA, observation: dict, seed: int = 0) -> list[float]:
    """|e^T dA_hat/dx_t| / |e| for a random error e at each Euler step of one plain sample: how far the guidance
    can move the one-jump estimate. Near 0, the policy is sure of its chunk whatever the sample, and no
    guidance can steer it; near 1, the estimate follows the sample."""
    images, instructions, state = policy.observation_tensors([observation])
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(1, policy.config.chunk_size, policy.config.action_dim, generator=generator).to(policy.device)
    ratios = []

    def probe(x_t: torch.Tensor, v: torch.Tensor, t: float) -> torch.Tensor:
        """Measures the product RTC's guidance would take at this step, and steers nothing."""
        error = torch.randn(x_t.shape, generator=generator).to(x_t.device)
        (product,) = torch.autograd.grad(x_t - t * v, x_t, grad_outputs=error)
        ratios.append((product.norm() / error.norm()).item())
        return torch.zeros_like(v)

    velocity = policy.velocity_field(policy.prefix_cache(images, instructions), state)
    euler_path(velocity, noise, policy.config.num_steps, probe)
    return ratios


@dataclass
class Trace:
    """What one episode executed, for the metrics and the widget."""

    actions: np.ndarray  # (T, D) commanded actions, one per control step
    switches: list[int]  # steps at which a new chunk took over
    chunks: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (time of its action 0, (H, D))
    paused: list[int] = field(default_factory=list)  # steps the arm held still, waiting for a chunk
    success: bool = False
    grasp_step: int | None = None  # the first step the named block was held: progress short of success
    closest: float = math.inf  # metres: the nearest the grasp point came to the named block (progress before that)
    frames: list[np.ndarray] = field(default_factory=list)  # display frames, when asked for
    frame_steps: list[int] = field(default_factory=list)  # the step of each frame

    @property
    def steps(self) -> int:
        return len(self.actions)


class ChunkPlanner:
    """Makes one chunk for an observation, given the previous chunk's actions still ahead (or None)."""

    def __init__(self, policy: FlowVLA, config: ExecutionConfig, seed: int):
        config.check(policy.config.chunk_size)
        if policy.config.action_repeat != 1:  # delays and horizons count control steps, one action each
            raise ValueError(
                f"real-time chunking needs a policy that acts every control step (action_repeat=1), "
                f"got action_repeat={policy.config.action_repeat}"
            )
        self.policy, self.config = policy, config
        self.generator = torch.Generator().manual_seed(seed)  # noise on the CPU: the same draws on any device

    @torch.no_grad()
    def __call__(self, observation: dict, ahead: np.ndarray | None) -> np.ndarray:
        """(H, D) in action units. ``ahead``: the previous chunk's actions from this observation's step on."""
        policy, config = self.policy, self.config
        H, D = policy.config.chunk_size, policy.config.action_dim
        noise = torch.randn(1, H, D, generator=self.generator).to(policy.device)
        images, instructions, state = policy.observation_tensors([observation])
        weights = guidance_mask(config, H)
        if ahead is None or weights is None:
            chunk = policy.denoise(images, instructions, state, noise)[-1]
        else:
            padded = np.concatenate([ahead, np.repeat(ahead[-1:], H - len(ahead), axis=0)])  # weight 0 past it
            target = policy.normalize_actions(torch.as_tensor(padded, dtype=torch.float32, device=policy.device))
            chunk = guided_denoise(
                policy,
                policy.prefix_cache(images, instructions),
                state,
                noise,
                target[None],
                torch.as_tensor(weights, dtype=torch.float32, device=policy.device),
                config.beta,
            )
        return policy.unnormalize_actions(chunk)[0].cpu().numpy()


def ensemble_action(chunks: list[tuple[int, np.ndarray]], t: int, m: float) -> np.ndarray:
    """ACT's temporal ensemble at step t: every chunk's action for t, weighted exp(-m i), i = 0 the oldest."""
    predictions = [chunk[t - start] for start, chunk in chunks if 0 <= t - start < len(chunk)]
    weights = np.exp(-m * np.arange(len(predictions)))
    return np.einsum("i,id->d", weights, np.stack(predictions)) / weights.sum()


def run_episode(
    policy: FlowVLA,
    config: ExecutionConfig,
    seed: int,
    task: str = "pick_place",
    env: TabletopEnv | None = None,
    max_steps: int | None = None,
    frame_every: int = 0,
) -> Trace:
    """One episode under the paper's asynchronous loop: an inference starts every s steps from the
    observation of that moment and delivers its chunk d steps later; meanwhile the robot executes the
    chunk it has. Deterministic for a seed: the episode, the noise and the simulated delay are all fixed.
    ``frame_every`` > 0 renders a display frame every that many steps and at the last (for the widget)."""
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.tasks import held

    env = env or TabletopEnv(task)
    d, s = config.delay, config.horizon
    planner = ChunkPlanner(policy, config, seed)
    observation, _ = env.reset(seed=seed, options={"task": task})
    last_steps = env.max_steps if max_steps is None else min(max_steps, env.max_steps)
    actions, switches, paused, arrived = [], [], [], []
    hold = np.array([0.0, 0.0, 0.0, -1.0])  # no motion, gripper as last commanded (open at reset)
    current: tuple[int, np.ndarray] | None = None  # (time of action 0, chunk) being executed
    pending: tuple[int, int, np.ndarray] | None = None  # (ready at, time of action 0, chunk)
    next_request, success, grasp_step, closest, frames, frame_steps = 0, False, None, math.inf, [], []
    block = env.task_spec.color  # the block the instruction names

    def deliver(chunk: tuple[int, np.ndarray], t: int) -> tuple[int, np.ndarray]:
        arrived.append(chunk)
        switches.append(t)
        return chunk

    for t in range(last_steps):
        if pending is not None and t == pending[0]:  # the inference started d steps ago delivers
            current, pending = deliver(pending[1:], t), None
        if t == next_request:  # start an inference on this observation (after a delivery: with d = s both are now)
            ahead = None if current is None else current[1][t - current[0] :]
            chunk = planner(observation, ahead)
            if config.strategy == "synchronous":
                current = None  # the robot stops while it thinks
            start = t + d if current is None else t  # a robot that waited starts the chunk at its action 0
            pending, next_request = (t + d, start, chunk), start + s
            if d == 0:  # no delay: delivered at once
                current, pending = deliver(pending[1:], t), None
        if current is None or t < current[0]:
            action = hold
            paused.append(t)
        elif config.strategy == "ensemble":
            action = ensemble_action(arrived, t, config.ensemble_m)
        else:
            action = current[1][t - current[0]]
        hold = np.array([0.0, 0.0, 0.0, action[3]])
        actions.append(action)
        observation, _, terminated, truncated, _ = env.step(action)
        closest = min(closest, float(np.linalg.norm(env.arm.gripper_position() - env.arm.block_position(block))))
        if grasp_step is None and held(env.arm, block):
            grasp_step = t
        ended = terminated or truncated or t == last_steps - 1
        if frame_every and (t % frame_every == 0 or ended):
            frames.append(env.render())
            frame_steps.append(t)
        if terminated or truncated:
            success = bool(terminated)
            break
    return Trace(np.array(actions), switches, arrived, paused, success, grasp_step, closest, frames, frame_steps)


def boundary_jumps(trace: Trace) -> np.ndarray:
    """(switches - 1,) the change in commanded motion (dx, dy, dz) where a chunk takes over from another, in
    action units (the first chunk starts the arm from rest: not a boundary)."""
    steps = [t for t in trace.switches[1:] if t < trace.steps]
    return np.array([np.linalg.norm(trace.actions[t, MOTION] - trace.actions[t - 1, MOTION]) for t in steps])


def rms_jerk(trace: Trace) -> float:
    """Root mean square jerk of the commanded gripper target, m/s^3: the third difference of its path."""
    from vlacourse.sim.env import MAX_STEP

    velocity = trace.actions[:, MOTION] * MAX_STEP / CONTROL_PERIOD  # (T, 3) m/s
    jerk = np.diff(velocity, n=2, axis=0) / CONTROL_PERIOD**2
    return float(np.sqrt((jerk**2).sum(1).mean())) if len(jerk) else 0.0


def episode_metrics(trace: Trace) -> dict[str, float]:
    """Success, grasp, the seconds they took (NaN where not reached), how near the gripper came to the block,
    the largest boundary jump, the jerk."""
    jumps = boundary_jumps(trace)
    return {
        "success": float(trace.success),
        "grasped": float(trace.grasp_step is not None),
        "seconds": trace.steps * CONTROL_PERIOD if trace.success else math.nan,
        "seconds_to_grasp": math.nan if trace.grasp_step is None else trace.grasp_step * CONTROL_PERIOD,
        "closest_cm": 100 * trace.closest,
        "discontinuity": float(jumps.max()) if len(jumps) else 0.0,
        "jerk": rms_jerk(trace),
    }


def summarize(results: dict[str, dict[str, list[dict[str, float]]]]) -> dict[str, dict[str, dict[str, float]]]:
    """{strategy: {d: each metric averaged over the episodes, and "success_low", "success_high": the success
    rate's 95% Wilson interval}}; the seconds average the episodes that got there."""
    from vlacourse.sim.evaluate import wilson_interval

    def cell(runs: list[dict[str, float]]) -> dict[str, float]:
        low, high = wilson_interval(round(sum(m["success"] for m in runs)), len(runs))
        return {**{key: nanmean([m[key] for m in runs]) for key in runs[0]}, "success_low": low, "success_high": high}

    return {strategy: {d: cell(runs) for d, runs in cells.items()} for strategy, cells in results.items()}


def nanmean(values: list[float]) -> float:
    """The mean of the values reached (NaN where none was): seconds to succeed count successes only."""
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def measured_delay(policy: FlowVLA, observation: dict, strategy: str = "rtc", chunks: int = 5) -> int:
    """d for this machine: the mean wall time of one chunk by ``strategy``, in control steps, rounded up."""
    config = ExecutionConfig(strategy, 0, 1)
    planner = ChunkPlanner(policy, config, 0)
    ahead = planner(observation, None)
    tic = time.perf_counter()
    for _ in range(chunks):
        planner(observation, ahead)
    return math.ceil((time.perf_counter() - tic) / chunks / CONTROL_PERIOD)


RECORDING = "rtc_sweep.json"


@dataclass(frozen=True)
class SweepRecipe:
    """What ``python -m vlacourse.chunking.rtc record`` measures: the shipped flow VLA under every strategy and
    delay."""

    delays: tuple[int, ...] = (0, 1, 2, 3, 4, 5)  # d, in control steps of 20 ms; d <= s <= H - d caps it at 5
    horizon: int = 5  # s: half the chunk, so that s >= d for every delay and H - s = 5 actions overlap
    episodes: int = 100  # seeded pick-and-place episodes per strategy and delay, the same ones for each
    seed: int = 0
    task: str = "pick_place"
    threads: int = 1  # CPU threads: float sums differ with the thread count, and the recording is rerun in tests


@functools.cache
def _flow_vla(checkpoint: str | None) -> FlowVLA:
    """The flow VLA at ``checkpoint`` (None: the shipped one), loaded once per process."""
    return load_course_flow_vla(checkpoint)


def recorded_cell(
    recipe: SweepRecipe, strategy: str, delay: int, checkpoint: str | None = None
) -> tuple[list[dict[str, float]], float]:
    """One (strategy, d) cell of the recipe on the flow VLA at ``checkpoint`` (None: the shipped one): the
    metrics of each of its seeded episodes, the same episodes in every cell, and the seconds it took. Cells are
    independent: worker processes share them out."""
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluation_seed

    tic = time.perf_counter()
    policy = _flow_vla(checkpoint)
    env = TabletopEnv(recipe.task, cameras=policy.config.cameras)
    config = ExecutionConfig(strategy, delay, recipe.horizon)
    with torch_threads(recipe.threads):
        episodes = [
            episode_metrics(run_episode(policy, config, evaluation_seed(recipe.seed, e), recipe.task, env))
            for e in range(recipe.episodes)
        ]
    return episodes, time.perf_counter() - tic


def record_sweep(
    recipe: SweepRecipe,
    strategies=STRATEGIES,
    progress: bool = True,
    workers: int = 1,
    checkpoint: str | Path | None = None,
    cells_dir: str | Path | None = None,
) -> dict:
    """The recipe's sweep on the flow VLA at ``checkpoint`` (None: the shipped one), with the recipe and the
    seconds its cells took (``seconds``: their sum, each on one CPU thread). ``workers`` > 1 runs the cells in
    that many processes: the same numbers, sooner. With ``cells_dir``, each finished cell is kept there as
    it ends, and a cell already kept there by the same recipe and policy is read, not run again: a sweep of
    hours can be stopped and resumed."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    checkpoint = None if checkpoint is None else str(checkpoint)
    policy = CHECKPOINT if checkpoint is None else Path(checkpoint).name
    kept, made_by = KeptParts(cells_dir), {"recipe": asdict(recipe), "policy": policy}
    cells = [(strategy, d) for strategy in strategies for d in recipe.delays]
    done = {(strategy, d): kept.read(f"{strategy}-d{d}", made_by) for strategy, d in cells}  # None: not kept
    done = {cell: kept_cell for cell, kept_cell in done.items() if kept_cell is not None}
    bar = tqdm(total=len(cells), initial=len(done), desc="strategy x delay", disable=not progress)
    # spawn, not fork: a fresh process opens its own rendering context
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            pool.submit(recorded_cell, recipe, strategy, d, checkpoint): (strategy, d)
            for strategy, d in cells
            if (strategy, d) not in done
        }
        for future in as_completed(futures):
            (strategy, d), (episodes, seconds) = futures[future], future.result()
            done[strategy, d] = {"episodes": episodes, "seconds": seconds}
            kept.write(f"{strategy}-d{d}", made_by, done[strategy, d])
            bar.update()
    bar.close()
    results: dict[str, dict[str, list[dict[str, float]]]] = {strategy: {} for strategy in strategies}
    for strategy, d in cells:
        results[strategy][str(d)] = done[strategy, d]["episodes"]
    return {
        "recipe": asdict(recipe),
        "policy": policy,
        "chunk_size": _flow_vla(checkpoint).config.chunk_size,
        "seconds": sum(cell["seconds"] for cell in done.values()),
        "workers": workers,
        "results": results,
    }


def load_recorded_sweep(path: str | Path | None = None) -> dict:
    """The shipped recording (made by ``python -m vlacourse.chunking.rtc record``), or the one at ``path``."""
    return read_recording(path, RECORDING, "python -m vlacourse.chunking.rtc record")


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.chunking.rtc", "real-time chunking (notebook 08)")
    make = commands.add("record", "run every strategy at every delay of SweepRecipe and write the metrics", RECORDING)
    make.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    make.add_argument("--episodes", type=int, default=SweepRecipe.episodes)
    make.add_argument("--workers", type=int, default=2, help="processes that share the cells out (one CPU each)")
    make.add_argument(
        "--cells", type=Path, help="a folder that keeps each finished cell: run again to resume a stopped sweep"
    )
    args = commands.parse(argv)
    recipe = SweepRecipe(episodes=args.episodes)
    recording = record_sweep(recipe, args.strategies, not args.quiet, args.workers, cells_dir=args.cells)
    args.out.write_text(json.dumps(recording, indent=1))
    print(f"wrote {args.out}: its cells took {recording['seconds'] / 60:.1f} minutes together, each on one CPU thread")


if __name__ == "__main__":
    main()
