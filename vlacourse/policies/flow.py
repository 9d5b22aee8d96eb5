"""A flow-matching action expert on the course VLM (pi0, Black et al. 2024, sections III-IV; the openpi code).

Token-by-token actions are slow (notebooks 04, 05). pi0 adds an *action expert*: a second, smaller set of
transformer weights that reads the VLM's keys and values and turns Gaussian noise into a whole chunk of
continuous actions in a few integration steps:

    prefix: scene, wrist patches + instruction + keypoints --VLM (GPT)--> keys, values per layer (once per chunk)
                                                                               |  read at every layer
    suffix: [state] [a_0 + time] ... [a_(H-1) + time] --action expert blocks---+--> velocity (H, D)

    attention mask (rows: queries, columns: keys)     prefix  state  actions
                                            prefix      causal  -      -        the prefix never reads the suffix
                                            state         x     x      -
                                            actions       x     x      x        actions read each other both ways

Flow matching (Lipman et al. 2023; pi0's convention): with actions A (normalised to [-1, 1]) and noise
e ~ N(0, I), the point at time t is x_t = t * e + (1 - t) * A, and the expert learns the velocity that
carries it, u = e - A, by mean squared error. t is drawn from Beta(1.5, 1), scaled to [0.001, 1], which
puts more training at the noisy end (t near 1). To act, start at x_1 = e and take ``num_steps`` Euler
steps, x_(t - 1/N) = x_t - (1/N) * v(x_t, t), down to t = 0. The prefix's keys and values do not depend
on x or t, so they are computed once per chunk and cached across the steps.

Where ours differs, and why:
- pi0's expert has its own width (1024 for Gemma's 2048); ours has the VLM's width (128), so that its
  queries and the VLM's keys have the same head size without a projection; its weights are separate.
- pi0 embeds the time with a sine-cosine code mixed into each action token by an MLP; so do we. pi0's
  positions are RoPE; ours are learned embeddings for the H + 1 suffix tokens.
- pi0's prefix (images and text) attends bidirectionally, PaliGemma's prefix-LM mask; ours is the course
  VLM, a causal GPT, and stays so, as the VLM was trained.
- The auxiliary localisation loss of the VLM prefix (``vlacourse.policies.vlm_prefix``) reads the expert's state
  token.
- The shipped flow VLA starts from the course VLM taught to point on rendered scenes (``vlacourse.vlm.pointing``)
  and reads its own point as a prefix token: our stand-in for PaliGemma's pre-training on locating what
  words name. It is trained by ``recipe.HeadRecipe``; its file records that recipe and what was measured
  when it was made (notebook 06 reads them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.checkpoint import read_recording
from vlacourse.lm.gpt import Block, GPTConfig, KVCache
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.policies.policy import (
    STATE_KEY,
    TASK_KEY,
    ChunkBatches,
    PolicyConfig,
    actions_per_second,
    chunk_error,
    load_policy,
    observations_of,
    split_episodes,
)
from vlacourse.policies.recipe import train_head_command
from vlacourse.policies.vlm_prefix import VLMPolicy, build_on_vlm
from vlacourse.vlm.course_vlm import VLM


@dataclass
class FlowConfig(PolicyConfig):
    num_steps: int = 10  # Euler steps from noise to actions at inference (pi0: 10)
    beta_alpha: float = 1.5  # t ~ Beta(alpha, 1): more training at the noisy end (pi0: 1.5)

    def __post_init__(self):
        super().__post_init__()
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be at least 1 Euler step from noise to actions, got {self.num_steps}")
        if self.beta_alpha <= 0:
            raise ValueError(f"beta_alpha must be positive (pi0 uses 1.5), got {self.beta_alpha}")


def sample_time(
    batch_size: int, alpha: float, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """(B,) flow times in [0.001, 1]: 0.999 * Beta(alpha, 1) + 0.001, as openpi draws them. Beta(alpha, 1)
    is u ** (1 / alpha) for u uniform on [0, 1] (inverse transform of its CDF t ** alpha)."""
    u = torch.rand(batch_size, generator=generator, device=device)
    return 0.999 * u ** (1 / alpha) + 0.001


def time_code(t: torch.Tensor, width: int, min_period: float = 4e-3, max_period: float = 4.0) -> torch.Tensor:
    """(B,) times -> (B, width) sines and cosines over periods from ``min_period`` to ``max_period`` (pi0)."""
    fraction = torch.linspace(0, 1, width // 2, device=t.device)
    period = min_period * (max_period / min_period) ** fraction  # (width / 2,)
    angle = 2 * math.pi * t[:, None] / period  # (B, width / 2)
    return torch.cat([angle.sin(), angle.cos()], dim=1)


Velocity = Callable[[torch.Tensor, float], torch.Tensor]  # (x_t (B, H, D), t) -> v(x_t, t) (B, H, D)
Guidance = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]  # (x_t, v, t) -> a term added to v


def euler_path(
    velocity: Velocity, noise: torch.Tensor, num_steps: int, guidance: Guidance | None = None
) -> list[torch.Tensor]:
    """The Euler path from x_1 = ``noise`` to a chunk x_0: ``num_steps`` + 1 tensors (B, H, D), the noise first.
    Each step is x_(t - 1/N) = x_t - (1/N) (v(x_t, t) + guidance(x_t, v, t)), at t = 1, 1 - 1/N, ..., 1/N.
    ``guidance`` (real-time chunking's, ``vlacourse.chunking.rtc``) receives x_t with gradients on, to take
    vector-Jacobian products through v; without it, the plain sampler of pi0."""
    N = num_steps
    x, path = noise, [noise]
    for step in range(N):
        t = 1 - step / N
        if guidance is None:
            v = velocity(x, t)
        else:
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)
                v = velocity(x, t)
                v = v + guidance(x, v, t)
        x = (x - v / N).detach()  # (B, H, D): one Euler step of size 1/N toward t = 0
        path.append(x)
    return path


def suffix_mask(prefix_length: int, chunk_size: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """(1 + H, P + 1 + H) booleans, True where a suffix query may read a key: every query reads the whole
    prefix and the state; only the action tokens read the action tokens."""
    mask = torch.ones(1 + chunk_size, prefix_length + 1 + chunk_size, dtype=torch.bool, device=device)
    mask[0, prefix_length + 1 :] = False  # the state token does not read the noisy actions
    return mask


class ExpertBlock(Block):
    """A GPT block whose attention also reads the prefix's cached keys and values (never writing them)."""

    def __init__(self, config: GPTConfig):
        super().__init__(config, causal=False)

    def forward(
        self, x: torch.Tensor, prefix_keys: torch.Tensor, prefix_values: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        q, k, v = self.attn.heads(self.ln_1(x))  # (B, nh, T, hs) each, T = 1 + H
        k, v = torch.cat([prefix_keys, k], dim=2), torch.cat([prefix_values, v], dim=2)  # (B, nh, P + T, hs)
        x = x + self.attn.merge(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
        return x + self.mlp(self.ln_2(x))


class FlowVLA(VLMPolicy):
    """The course VLM as the prefix, and a pi0-style action expert that integrates noise into a chunk."""

    config_class = FlowConfig

    def __init__(
        self,
        config: FlowConfig,
        stats: dict,
        vlm: VLM,
        tokenizer: BPETokenizer,
        instructions: list[str],
        action_vocab: int = 0,
    ):
        """``action_vocab``: tokens the VLM learns to write besides the expert's actions (knowledge insulation's
        FAST tokens); none for pi0."""
        super().__init__(config, stats, vlm, tokenizer, instructions, action_vocab)
        gpt = self.gpt.config
        C, H, D = gpt.n_embd, config.chunk_size, config.action_dim
        self.action_in = nn.Linear(D, C)
        self.action_time_mlp = nn.Sequential(nn.Linear(2 * C, C), nn.SiLU(), nn.Linear(C, C))  # pi0's mixing of t
        self.suffix_positions = nn.Parameter(torch.randn(1, 1 + H, C) * 0.02)  # state, then a_0 .. a_(H-1)
        self.expert = nn.ModuleList([ExpertBlock(gpt) for _ in range(gpt.n_layer)])
        self.expert_ln = nn.LayerNorm(C, bias=gpt.bias)
        self.action_out = nn.Linear(C, D)

    # Actions are learned normalised, their 1st and 99th percentiles at -1 and +1 (as FAST's bounds).
    def normalize_actions(self, actions: torch.Tensor) -> torch.Tensor:
        return 2 * (actions - self.action_q01) / (self.action_q99 - self.action_q01 + 1e-8) - 1

    def unnormalize_actions(self, normalized: torch.Tensor) -> torch.Tensor:
        return (normalized + 1) / 2 * (self.action_q99 - self.action_q01) + self.action_q01

    def prefix_cache(self, images, instructions) -> KVCache:
        """One pass of the VLM over the prefix: its keys and values at every layer, (B, nh, P, hs) each."""
        cache = KVCache(self.gpt.config.n_layer)
        self.read_prefix(images, instructions, None, cache)
        return cache

    def expert_hidden(self, cache: KVCache, state: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, 1 + H, C): the expert's final hidden states for the state and the noisy chunk x_t at times t."""
        C = self.gpt.config.n_embd
        actions = self.action_time_mlp(
            torch.cat(
                [
                    self.action_in(x_t),  # (B, H, C)
                    time_code(t, C)[:, None].expand(-1, x_t.shape[1], -1),
                ],
                dim=2,
            )
        )
        x = torch.cat([self.state_token(state), actions], dim=1) + self.suffix_positions  # (B, 1 + H, C)
        mask = suffix_mask(cache.length, self.config.chunk_size, x.device)
        for layer, block in enumerate(self.expert):
            x = block(x, cache.keys[layer], cache.values[layer], mask)
        return self.expert_ln(x)

    def velocity(self, cache: KVCache, state: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.action_out(self.expert_hidden(cache, state, x_t, t)[:, 1:])  # (B, H, D)

    def velocity_field(self, cache: KVCache, state: torch.Tensor) -> Velocity:
        """v(x_t, t) for one prefix and state, every chunk of the batch at the same time t: what ``euler_path``
        integrates."""
        return lambda x_t, t: self.velocity(cache, state, x_t, torch.full((len(x_t),), t, device=x_t.device))

    # Training: flow matching on the normalised chunk.
    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cache = KVCache(self.gpt.config.n_layer)
        _, pointing = self.read_prefix(self.images_of(batch), self.instruction_ids(batch[TASK_KEY]), None, cache)
        return self.add_pointing_loss(*self.flow_loss(cache, batch), pointing, batch)

    def flow_loss(self, cache: KVCache, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The expert's loss (flow matching, plus the localisation loss) reading the prefix's ``cache``: whatever
        the keys and values there are attached to, this loss's gradient reaches (``vlacourse.policies.insulation``)."""
        actions = self.normalize_actions(batch["action"])  # (B, H, D)
        noise = torch.randn_like(actions)
        t = sample_time(len(actions), self.config.beta_alpha, device=self.device)  # (B,)
        x_t = t[:, None, None] * noise + (1 - t[:, None, None]) * actions
        hidden = self.expert_hidden(cache, batch[STATE_KEY], x_t, t)
        error = (self.action_out(hidden[:, 1:]) - (noise - actions)).pow(2).mean(-1)  # (B, H)
        loss = error[~batch["action_is_pad"]].mean()
        return self.add_locate_loss(loss, {"flow_loss": loss.item()}, hidden[:, 0], batch)

    # Inference: Euler from noise (t = 1) to actions (t = 0), the prefix computed once.
    @contextmanager
    def sampling_steps(self, num_steps: int) -> Iterator[FlowVLA]:
        """Sample with ``num_steps`` Euler steps inside the block, then go back to the configured number: the
        trained weights serve any number of steps (pi0 picks 10)."""
        configured = self.config
        self.config = replace(configured, num_steps=num_steps)  # checked like any FlowConfig
        try:
            yield self
        finally:
            self.config = configured

    @torch.no_grad()
    def denoise(
        self, images, instructions, state, noise: torch.Tensor | None = None, recompute_prefix: bool = False
    ) -> list[torch.Tensor]:
        """The Euler path from noise to a chunk: ``num_steps`` + 1 normalised chunks (B, H, D), the noise x_1
        first, x_0 last. ``noise`` fixes the start; ``recompute_prefix`` runs the VLM again at every step
        (the slow way, for the test that the cache changes nothing)."""
        H, D, N = self.config.chunk_size, self.config.action_dim, self.config.num_steps
        if noise is not None and tuple(noise.shape) != (len(state), H, D):
            raise ValueError(
                f"noise must have the shape of the chunks, ({len(state)}, {H}, {D}): one (chunk_size, "
                f"action_dim) draw per observation, got {tuple(noise.shape)}"
            )
        x = torch.randn(len(state), H, D, device=self.device) if noise is None else noise.to(self.device)
        if recompute_prefix:

            def velocity(x_t: torch.Tensor, t: float) -> torch.Tensor:
                return self.velocity_field(self.prefix_cache(images, instructions), state)(x_t, t)
        else:
            velocity = self.velocity_field(self.prefix_cache(images, instructions), state)
        self.decoding_steps = 1 + N  # the prefix pass, then one expert pass per step
        return euler_path(velocity, x, N)

    def generate(self, images, instructions, state) -> np.ndarray:
        """(B, H, D) actions: the end of the Euler path, in action units."""
        return self.unnormalize_actions(self.denoise(images, instructions, state)[-1]).cpu().numpy()

    def denoising_path(self, observation: dict[str, Any], noise: torch.Tensor, **kwargs) -> np.ndarray:
        """(num_steps + 1, S, H, D): for S starting noises (S, H, D) and one observation, every Euler step's
        chunk in action units; the last is what the policy would execute. The same noise gives the same path."""
        if noise.ndim != 3:
            raise ValueError(
                f"noise must be (S, chunk_size, action_dim), S starting points for one observation, "
                f"got shape {tuple(noise.shape)}"
            )
        images, instructions, state = self.observation_tensors([observation])
        S = len(noise)
        images = [image.expand(S, *image.shape[1:]) for image in images]  # one observation, S noises
        path = self.denoise(images, instructions.expand(S, -1), state.expand(S, -1), noise, **kwargs)
        return np.stack([self.unnormalize_actions(x).cpu().numpy() for x in path])


def build_flow_vla(
    dataset,
    chunk_size: int = 10,
    action_repeat: int = 1,
    num_steps: int = 10,
    device: str | torch.device = "cpu",
    pointing_vlm: VLMPolicy | None = None,
) -> FlowVLA:
    """A fresh flow-matching VLA with the dataset's statistics and instructions, on the course VLM or on
    ``pointing_vlm`` (``vlm_prefix.build_on_vlm``); it acts every ``action_repeat`` control steps."""
    config = FlowConfig(
        chunk_size=chunk_size,
        n_action_steps=chunk_size,
        action_repeat=action_repeat,
        num_steps=num_steps,
        point_weight=float(pointing_vlm is not None),
    )
    return build_on_vlm(FlowVLA, config, dataset, pointing_vlm).to(device)


CHECKPOINT = "course_vla_flow.safetensors"


def load_course_flow_vla(path: str | Path | None = None, device: str | torch.device = "cpu") -> FlowVLA:
    """The shipped flow VLA (made by ``python -m vlacourse.policies.flow train``), or the one at ``path``;
    ``.metrics`` holds what ``recipe.train_and_measure`` measured when it was made."""
    return load_policy(path, CHECKPOINT, "python -m vlacourse.policies.flow train", device)


ON_COURSE_VLM = "flow_on_course_vlm.json"


def load_flow_on_course_vlm(path: str | Path | None = None) -> dict:
    """What the shipped flow VLA's recipe gives on the course VLM, which never learned to point
    (``HeadRecipe(pointing=False)``): the metrics ``python -m vlacourse.policies.flow baseline`` recorded (no weights
    ship), or those at ``path``. Notebook 06 sets them beside the shipped VLA's."""
    return read_recording(path, ON_COURSE_VLM, "python -m vlacourse.policies.flow baseline")


@torch.no_grad()
def sweep_num_steps(
    policy: FlowVLA, dataset, num_steps=(1, 2, 5, 10, 20), frames: int = 64, seed: int = 0
) -> dict[int, dict[str, float]]:
    """Quality and cost against the number of Euler steps, the one knob pi0 exposes at inference: for each
    N, the chunk error on ``frames`` held-out frames (the same noise for every N) and the time per chunk on
    one observation. The trained weights stay the same; only ``config.num_steps`` changes."""
    held_out = ChunkBatches(dataset, policy.config, frames, seed, split_episodes(dataset.num_episodes)[1])()
    observation = observations_of(held_out, policy.config)[0]
    results = {}
    for n in num_steps:
        with policy.sampling_steps(n):
            torch.manual_seed(seed)  # the same starting noise for every N
            results[n] = {"chunk_error": chunk_error(policy, held_out), **actions_per_second(policy, observation, 10)}
    return results


if __name__ == "__main__":
    train_head_command(
        "python -m vlacourse.policies.flow",
        "the flow-matching VLA (notebook 06)",
        build_flow_vla,
        CHECKPOINT,
        measure_more=lambda policy, dataset: {
            "num_steps": {str(n): result for n, result in sweep_num_steps(policy, dataset).items()}
        },
    )
