"""The single-system VLA: the course VLM fine-tuned end to end to write actions as tokens (RT-2, OpenVLA).

RT-2 (Brohan et al. 2023) and OpenVLA (Kim et al. 2024) change two things in a VLM, and nothing else:
the output vocabulary (256 action-bin tokens join the text tokens, ``vlacourse.policies.binning``) and the data
(robot demonstrations, read as "image + instruction -> action tokens"). The model is the same
transformer, trained with the same next-token loss:

    scene image --ViT--projector--> 64 tokens --+
    wrist image --ViT--projector--> 64 tokens --+
    "put the red block in the bin"  BPE tokens --+--> GPT (causal) --> a0,dx a0,dy a0,dz a0,g a1,dx ... a(H-1),g
    state (9 numbers) --linear--> 1 token ------+         each action token is predicted from all before it

The prefix, with the tokens that say where the named block is, is ``vlacourse.policies.vlm_prefix``'s.

The GPT's embedding table (tied to its output layer) grows by 256 rows, one per bin; the new rows are
drawn around the mean of the text embeddings, with their spread. Decoding is greedy and constrained to
the bin tokens, so the model cannot emit text where an action belongs. A chunk of H = 10 actions (0.2 s
at 50 Hz) is 40 tokens: one forward pass each, which is what makes this kind of VLA slow.

The shipped binning VLA (``load_course_vla``) is trained by ``recipe.HeadRecipe``, as the FAST and flow VLAs, on
the VLM that points (``vlacourse.vlm.pointing``); its file records that recipe and what was measured.

Where ours differs, and why:
- RT-2 and OpenVLA predict one action per step, from one image, without the robot's state. We predict a
  chunk of 10 (ACT, Zhao et al. 2023; pi0-FAST does so too): a chunk costs 40 forward passes instead of
  4 per action, but one prefix pass per 10 actions, and executing a chunk smooths out the jitter of
  single-step predictions. The arm's state and a wrist camera are given because our 64x64 scene
  camera sees a block as a few pixels: the wrist camera sees the grasp.
- OpenVLA's robots act at 5 to 15 Hz, our arm at 50 Hz, a rate at which the FAST paper (Pertsch et al. 2025,
  sec. IV) finds per-step bins fail. ``AT_10_HZ`` is that paper's experiment on our arm: a policy that acts
  every 5 control steps (``PolicyConfig.action_repeat``), in chunks of 2 such actions (the same 0.2 s, 8 tokens).

What it measured (success on the arm, chunk error, speed) is in the shipped file's metadata and in
RESULTS.md; notebook 04's "What did not work on the way" tells what did not.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlacourse.checkpoint import read_recording
from vlacourse.lm.gpt import KVCache
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.policies.binning import NUM_BINS, BinningTokenizer
from vlacourse.policies.policy import (
    STATE_KEY,
    TASK_KEY,
    PolicyConfig,
    actions_per_second,
    load_policy,
)
from vlacourse.policies.recipe import BASELINE, HeadRecipe, train_head_command
from vlacourse.policies.vlm_prefix import VLMPolicy, action_token_loss, build_on_vlm
from vlacourse.vlm.course_vlm import VLM

CHECKPOINT = "course_vla_binning.safetensors"


class BinningVLA(VLMPolicy):
    """The course VLM + 256 action-bin tokens, trained end to end on demonstrations (see the module)."""

    def __init__(
        self,
        config: PolicyConfig,
        stats: dict,
        vlm: VLM,
        tokenizer: BPETokenizer,
        instructions: list[str],
        action_vocab: int = NUM_BINS,
    ):
        """``action_vocab``: one token per bin (bin b is text token text_vocab + b); FAST passes its own."""
        super().__init__(config, stats, vlm, tokenizer, instructions, action_vocab)

    @property
    def action_tokenizer(self) -> BinningTokenizer:
        """Bins over the 1st-99th percentiles of the training actions (stored with the weights)."""
        return BinningTokenizer(self.action_q01.cpu().numpy(), self.action_q99.cpu().numpy(), NUM_BINS)

    # Training: next-token loss on the action tokens only.
    def action_token_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens, targets), each (B, L): the chunk's action tokens (0-based) and the same with the padded
        actions' tokens set to -100, which the loss skips. Bins: L = H * D, a0 dims, then a1 dims, ..."""
        bins = torch.from_numpy(self.action_tokenizer.encode(batch["action"].cpu().numpy())).to(self.device)
        B, H, D = bins.shape
        tokens = bins.view(B, H * D)  # (B, H*D)
        return tokens, tokens.masked_fill(batch["action_is_pad"].repeat_interleave(D, dim=1), -100)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        images, instructions = self.images_of(batch), self.instruction_ids(batch[TASK_KEY])
        tokens, targets = self.action_token_targets(batch)  # (B, L) each
        # The last prefix position predicts the first action token; action token i predicts token i + 1.
        actions = self.gpt.wte(tokens[:, :-1] + self.text_vocab)  # (B, L - 1, C)
        pointing = None
        if self.config.point_weight == 0:  # one pass over prefix and actions
            prefix = self.prefix(images, instructions, batch[STATE_KEY])  # (B, P, C)
            hidden = self.gpt.features(torch.cat([prefix, actions], dim=1))[:, prefix.shape[1] - 1 :]  # (B, L, C)
        else:  # the prefix as the policy reads it (pointing first), then the actions after it
            cache = KVCache(self.gpt.config.n_layer)
            prefix, pointing = self.read_prefix(images, instructions, batch[STATE_KEY], cache)  # (B, P, C)
            hidden = torch.cat([prefix[:, -1:], self.gpt.features(actions, cache)], dim=1)  # (B, L, C)
        logits = self.gpt.lm_head(hidden)  # (B, L, vocab)
        loss = action_token_loss(logits, targets, self.text_vocab)
        with torch.no_grad():
            predicted = logits[..., self.text_vocab :].argmax(-1)
            accuracy = (predicted == tokens)[targets != -100].float().mean().item()
        parts = {"action_loss": loss.item(), "token_accuracy": accuracy}
        loss, parts = self.add_locate_loss(loss, parts, hidden[:, 0], batch)
        return self.add_pointing_loss(loss, parts, pointing, batch)

    def generate(self, images, instructions, state) -> np.ndarray:
        """(B, H, D) actions: H * D greedy bins, decoded to their centres."""
        H, D = self.config.chunk_size, self.config.action_dim
        bins = self.greedy_tokens(images, instructions, state, H * D)  # (B, H*D)
        return self.action_tokenizer.decode(bins.view(-1, H, D).cpu().numpy())


@torch.no_grad()
def decoding_cost(policy: BinningVLA, observation: dict[str, Any], repeats: int = 10) -> dict[str, float]:
    """Where the time of one chunk goes: the prefix pass, then one pass per action token."""
    speed = actions_per_second(policy, observation, repeats)
    images, instructions, state = policy.observation_tensors([observation])
    start = time.perf_counter()
    for _ in range(repeats):
        policy.gpt.features(policy.prefix(images, instructions, state), KVCache(policy.gpt.config.n_layer))
    ms_prefix = (time.perf_counter() - start) / repeats * 1000
    passes = policy.decoding_steps  # the prefix pass + one per token but the last
    return {
        "tokens_per_chunk": passes,
        "forward_passes_per_chunk": passes,
        "ms_prefix": ms_prefix,
        "ms_per_token": (speed["ms_per_chunk"] - ms_prefix) / max(passes - 1, 1),
        **speed,
    }


def load_course_vla(path: str | Path | None = None, device: str | torch.device = "cpu") -> BinningVLA:
    """The shipped binning VLA (made by ``python -m vlacourse.policies.binning_vla train``), or the one at ``path``;
    ``.metrics`` holds what ``train_and_measure`` measured when it was made."""
    return load_policy(path, CHECKPOINT, "python -m vlacourse.policies.binning_vla train", device)


def build_vla(
    dataset,
    chunk_size: int = 10,
    action_repeat: int = 1,
    device: str | torch.device = "cpu",
    pointing_vlm: VLMPolicy | None = None,
) -> BinningVLA:
    """A fresh binning VLA with the dataset's statistics and instructions, on the course VLM or on
    ``pointing_vlm`` (``build_on_vlm``); it acts every ``action_repeat`` control steps."""
    config = PolicyConfig(
        chunk_size=chunk_size,
        n_action_steps=chunk_size,
        action_repeat=action_repeat,
        point_weight=float(pointing_vlm is not None),
    )
    return build_on_vlm(BinningVLA, config, dataset, pointing_vlm).to(device)


# The FAST paper's experiment for bins (Pertsch et al. 2025, sec. IV): the same 0.2 s chunks at 10 Hz, where
# consecutive actions differ more, so that fewer of their bin tokens copy the one before.
AT_10_HZ = HeadRecipe(chunk_size=2, action_repeat=5)

AT_10_HZ_RECORDING = "binning_at_10hz.json"


def load_binning_at_10hz(path: str | Path | None = None) -> dict:
    """What the binning VLA's recipe gives at 10 Hz (``AT_10_HZ``): the metrics
    ``python -m vlacourse.policies.binning_vla 10hz`` recorded (no weights ship), or those at ``path``. Notebook 04 sets
    them beside the shipped 50 Hz VLA's."""
    return read_recording(path, AT_10_HZ_RECORDING, "python -m vlacourse.policies.binning_vla 10hz")


if __name__ == "__main__":
    train_head_command(
        "python -m vlacourse.policies.binning_vla",
        "the binning VLA (notebook 04)",
        build_vla,
        CHECKPOINT,
        variants={
            "baseline": BASELINE,
            "10hz": ("the same recipe at 10 Hz: chunks of 2 actions, each held 5 control steps", AT_10_HZ),
        },
    )
