"""The single-system VLA: the course VLM fine-tuned end to end to write actions as tokens (RT-2, OpenVLA).

RT-2 (Brohan et al. 2023) and OpenVLA (Kim et al. 2024) change two things in a VLM, and nothing else:
the output vocabulary (256 action-bin tokens join the text tokens, ``vlacourse.policies.binning``) and the data
(robot demonstrations, read as "image + instruction -> action tokens"). The model is the same
transformer, trained with the same next-token loss:

    scene image --ViT--projector--> 64 tokens --+
    wrist image --ViT--projector--> 64 tokens --+
    "put the red block in the bin"  BPE tokens --+--> GPT (causal) --> a0,dx a0,dy a0,dz a0,g a1,dx ... a(H-1),g
    state (9 numbers) --linear--> 1 token ------+         each action token is predicted from all before it

The GPT's embedding table (tied to its output layer) grows by 256 rows, one per bin; the new rows are
drawn around the mean of the text embeddings, with their spread. Decoding is greedy and constrained to
the bin tokens, so the model cannot emit text where an action belongs. A chunk of H = 10 actions (0.2 s
at 50 Hz) is 40 tokens: one forward pass each, which is what makes this kind of VLA slow.

The shipped binning VLA (``load_course_vla``) is trained by ``HeadRecipe``, as the FAST and flow VLAs, on
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
- The state enters as one projected token, as in pi0, rather than as text.
- An auxiliary localisation loss (``PolicyConfig.locate_weight``): a linear head on the state token's last
  hidden state predicts where each block and zone is from the gripper (labels from the dataset's
  ``observation.environment_state``); it trains with the action loss and is not used at inference.
  Embodied chain-of-thought (Zawalski et al. 2024, ECoT) trains OpenVLA to write the objects' boxes and
  the gripper's position before its actions, and Chen et al. 2025 (Training Strategies for Efficient
  Embodied Reasoning) found that most of the gain comes from the better representation learned by
  predicting them, even when they are not generated at test time. Ours is the lightest form: a
  regression head instead of tokens, because at 64x64 pixels and a few thousand steps behaviour
  cloning alone barely learns where the named block is (notebook 04).

What it measured (success on the arm, chunk error, speed) is in the shipped file's metadata and in
RESULTS.md; notebook 04's "What did not work on the way" tells what did not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.checkpoint import read_recording
from vlacourse.cli import REQUIRED, Commands
from vlacourse.lm.gpt import GPT, GPTConfig, KVCache
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.policies.binning import NUM_BINS, BinningTokenizer
from vlacourse.policies.policy import (
    ENVIRONMENT_STATE_DIM,
    POINTING_KEY,
    STATE_KEY,
    TASK_KEY,
    ChunkBatches,
    Policy,
    PolicyConfig,
    PolicyHistory,
    actions_per_second,
    check_observation,
    load_policy,
    locate_loss,
    observations_of,
    split_episodes,
    train_policy,
    warn_unseen_words,
)
from vlacourse.training import PREFIX_STEPS
from vlacourse.vlm.course_vlm import VLM, load_course_vlm
from vlacourse.vlm.vision import KeypointReadout, Pointer, Pointing, ViTConfig, pointing_loss

CHECKPOINT = "course_vla_binning.safetensors"


def grow_vocabulary(gpt: GPT, extra: int) -> GPT:
    """A copy of ``gpt`` with ``extra`` new tokens at the end of its vocabulary; the new rows are drawn with
    the old rows' mean and spread per feature (so they start as ordinary, distinct tokens)."""
    config = GPTConfig(**{**gpt.config.__dict__, "vocab_size": gpt.config.vocab_size + extra})
    grown = GPT(config)
    state = gpt.state_dict()
    old = state["wte.weight"]
    new = old.mean(0) + old.std(0) * torch.randn(extra, old.shape[1])  # (extra, C), drawn like the old rows
    state["wte.weight"] = torch.cat([old, new])  # (V + extra, C)
    state["lm_head.weight"] = state["wte.weight"]
    grown.load_state_dict(state)
    return grown


class VLMPolicy(Policy):
    """What every VLA of the course built on the course VLM shares: the prefix the actions are read after
    (both cameras' patch tokens, the instruction, a keypoint token per camera, the state), its
    pre-processing, saving and loading. A subclass decides how actions come out of it: the tokens it adds to
    the vocabulary (``action_vocab``), ``forward`` (the training loss) and ``generate``."""

    def __init__(
        self,
        config: PolicyConfig,
        stats: dict,
        vlm: VLM,
        tokenizer: BPETokenizer,
        instructions: list[str],
        action_vocab: int = 0,
    ):
        super().__init__(config, stats)
        self.tokenizer = tokenizer
        self.text_vocab = vlm.gpt.config.vocab_size  # action token a is token text_vocab + a
        self.vision, self.projector = vlm.vision, vlm.projector
        self.gpt = grow_vocabulary(vlm.gpt, action_vocab)
        self.state_projector = nn.Linear(config.state_dim, self.gpt.config.n_embd)
        # Per camera, K keypoints read out of the ViT's patch grid, projected into one token (see the module).
        grid = int(self.vision.config.num_patches**0.5)
        self.keypoint_readouts = nn.ModuleList(
            [
                nn.Sequential(
                    KeypointReadout(self.vision.config.n_embd, config.keypoints, grid),
                    nn.Linear(2 * config.keypoints, self.gpt.config.n_embd),
                )
                for _ in config.cameras
            ]
            if config.keypoints
            else []
        )
        # Reads the state token's last hidden state, where the first action token is predicted: training
        # only (the auxiliary localisation loss), never at inference.
        self.locator = nn.Linear(self.gpt.config.n_embd, ENVIRONMENT_STATE_DIM)
        # Points at the block the instruction names, in every camera, and hands the point on as one token
        # (``vlacourse.vlm.pointing``): the VLM says where before the actions are read.
        if config.point_weight > 0:
            self.pointer = Pointer(self.gpt.config.n_embd, self.vision.config.n_embd, grid, len(config.cameras))
            self.point_projector = nn.Linear(3 * len(config.cameras), self.gpt.config.n_embd)
        self.instructions = sorted(set(instructions))  # what it was trained on: used to warn on unseen words
        self.known_words = {w for text in self.instructions for w in text.lower().split()}
        self._encoded: dict[str, list[int]] = {}  # instruction -> token ids, each encoded once
        # Every instruction is padded to the longest one seen in training, so that the state and action
        # tokens sit at the same positions in training and at inference.
        self.instruction_width = max(len(self._encode(text)) for text in self.instructions)
        self.decoding_steps = 0  # forward passes the last predicted chunk took

    @property
    def action_vocab_size(self) -> int:
        """Tokens added to the VLM's vocabulary for actions (action token i is text token text_vocab + i)."""
        return self.gpt.config.vocab_size - self.text_vocab

    # Pre-processing.
    def _encode(self, text: str) -> list[int]:
        if text not in self._encoded:
            self._encoded[text] = self.tokenizer.encode(f"instruction: {text}")
        return self._encoded[text]

    def instruction_ids(self, instructions: list[str]) -> torch.Tensor:
        """(B, T) token ids, padded on the left with the token of " " to ``instruction_width`` (or to the
        longest given, if longer): all rows end together, at the same position as in training."""
        encoded = [self._encode(text) for text in instructions]
        width = max(self.instruction_width, *map(len, encoded))
        pad = self.tokenizer.encode(" ")[0]
        return torch.tensor([[pad] * (width - len(e)) + e for e in encoded], device=self.device)

    def prefix(
        self, images: list[torch.Tensor], instructions: torch.Tensor, state: torch.Tensor | None
    ) -> torch.Tensor:
        """The embeddings the actions are read after: (B, cameras * 65 + T_text + 1, C), with keypoints; the
        state's token last, unless ``state`` is None (a policy that reads the state elsewhere). A pointing
        policy's prefix depends on the GPT's reading of its start: see ``read_prefix``."""
        patches = [self.vision(image) for image in images]  # each (B, 64, C_vit)
        return torch.cat([self.image_and_text_tokens(patches, instructions), self.late_tokens(patches, state)], dim=1)

    def image_and_text_tokens(self, patches: list[torch.Tensor], instructions: torch.Tensor) -> torch.Tensor:
        """(B, cameras * 64 + T_text, C): each camera's patch tokens, projected, then the instruction's."""
        return torch.cat([self.projector(p) for p in patches] + [self.gpt.wte(instructions)], dim=1)

    def late_tokens(
        self, patches: list[torch.Tensor], state: torch.Tensor | None, pointing: Pointing | None = None
    ) -> torch.Tensor:
        """(B, [1 +] cameras + [1], C): the point's token, the keypoint tokens and the state's, those there are."""
        tokens = [self.point_projector(pointing.features())[:, None]] if pointing is not None else []
        if self.config.keypoints:
            tokens += [readout(p)[:, None] for readout, p in zip(self.keypoint_readouts, patches, strict=True)]
        if state is not None:
            tokens.append(self.state_token(state))  # (B, 1, C)
        return torch.cat(tokens, dim=1)

    def read_prefix(
        self, images: list[torch.Tensor], instructions: torch.Tensor, state: torch.Tensor | None, cache: KVCache
    ) -> tuple[torch.Tensor, Pointing | None]:
        """The GPT's hidden states over the prefix (B, P, C), its keys and values left in ``cache``, and where the
        policy pointed (None without a pointer). A pointing policy reads in two passes, as a VLM that answers
        before it goes on: the images and the instruction; the point they lead to; then the rest."""
        if self.config.point_weight == 0:
            return self.gpt.features(self.prefix(images, instructions, state), cache), None
        patches = [self.vision(image) for image in images]  # each (B, 64, C_vit)
        hidden, pointing = self.point(patches, instructions, cache)
        rest = self.gpt.features(self.late_tokens(patches, state, pointing), cache)  # (B, P - P_first, C)
        return torch.cat([hidden, rest], dim=1), pointing

    def point(
        self, patches: list[torch.Tensor], instructions: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, Pointing]:
        """Where the named block is in each camera, from the GPT's hidden state at the instruction's last token
        (it has read both images): (hidden states over images and instruction (B, P_first, C), the pointing)."""
        hidden = self.gpt.features(self.image_and_text_tokens(patches, instructions), cache)
        return hidden, self.pointer(patches, hidden[:, -1])

    def add_pointing_loss(
        self, loss: torch.Tensor, parts: dict[str, float], pointing: Pointing | None, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``loss`` plus the pointer's, weighted by ``point_weight``, on a batch with ``"pointing"`` targets
        (``ChunkBatches``), and ``parts`` with its parts; both unchanged when the policy did not point."""
        if pointing is None:
            return loss, parts
        point, point_parts = pointing_loss(pointing, batch[POINTING_KEY], self.config.cameras)
        return loss + self.config.point_weight * point, parts | point_parts

    def add_locate_loss(
        self, loss: torch.Tensor, parts: dict[str, float], state_hidden: torch.Tensor, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``loss`` plus the localisation loss read off the state token's last hidden state (B, C), weighted by
        ``locate_weight``, and ``parts`` with its median block error in cm; unchanged when the weight is 0."""
        if self.config.locate_weight <= 0:
            return loss, parts
        locate, located_cm = locate_loss(self.locator(state_hidden), batch)
        return loss + self.config.locate_weight * locate, parts | {"locate_cm": located_cm}

    def state_token(self, state: torch.Tensor) -> torch.Tensor:
        """(B, state_dim) -> (B, 1, C): the normalised state, projected to one token (as pi0 does)."""
        return self.state_projector(self.normalize_state(state))[:, None]

    def images_of(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return [batch[f"observation.images.{c}"] for c in self.config.cameras]

    # Inference: one batch of observations in, one chunk per observation out.
    @torch.no_grad()
    def predict_action_chunk(self, observation: dict[str, Any]) -> np.ndarray:
        return self.predict_action_chunks([observation])[0]

    @torch.no_grad()
    def predict_action_chunks(self, observations: list[dict[str, Any]]) -> np.ndarray:
        return self.generate(*self.observation_tensors(observations))

    def observation_tensors(self, observations: list[dict[str, Any]]):
        """(images, instruction ids, state) of B observations, as a batch on the policy's device."""
        for observation in observations:
            check_observation(observation, self.config)
            warn_unseen_words(observation[TASK_KEY], self.known_words)
        images = [
            torch.from_numpy(np.stack([o[f"observation.images.{c}"] for o in observations])).to(self.device)
            for c in self.config.cameras
        ]  # each (B, H, W, 3)
        state = torch.as_tensor(
            np.stack([o[STATE_KEY] for o in observations]), dtype=torch.float32, device=self.device
        )  # (B, state_dim)
        return images, self.instruction_ids([o[TASK_KEY] for o in observations]), state

    def generate(self, images, instructions, state) -> np.ndarray:
        """(B, H, D) actions for a batch of observation tensors."""
        raise NotImplementedError

    # Saving: the text tokenizer, the instructions and a subclass's own constructor arguments (by name and
    # type: FAST's tokenizer) go into the file's metadata, each argument by ``to_json``, back by ``from_json``.
    saved_arguments: dict[str, type] = {}

    def extra_metadata(self) -> dict[str, str]:
        return {
            "merges": json.dumps(self.tokenizer.merges),
            "instructions": json.dumps(self.instructions),
            "vit": json.dumps(self.vision.config.__dict__),
            "gpt": json.dumps(self.gpt.config.__dict__),
            "text_vocab": str(self.text_vocab),
            **{name: getattr(self, name).to_json() for name in self.saved_arguments},
        }

    @classmethod
    def from_metadata(cls, config: PolicyConfig, metadata: dict[str, str]) -> VLMPolicy:
        gpt = GPTConfig(**{**json.loads(metadata["gpt"]), "vocab_size": int(metadata["text_vocab"])})
        vlm = VLM(ViTConfig(**json.loads(metadata["vit"])), gpt)
        tokenizer = BPETokenizer([tuple(m) for m in json.loads(metadata["merges"])])
        arguments = {name: kind.from_json(metadata[name]) for name, kind in cls.saved_arguments.items()}
        return cls(config, None, vlm, tokenizer, json.loads(metadata["instructions"]), **arguments)


def action_token_loss(logits: torch.Tensor, targets: torch.Tensor, text_vocab: int) -> torch.Tensor:
    """The next-token loss on action tokens: (B, L, vocab) logits against (B, L) targets numbered among the
    action tokens (action token a is vocabulary id ``text_vocab`` + a; -100: padding, skipped)."""
    ids = torch.where(targets >= 0, targets + text_vocab, targets)  # (B, L) ids in the whole vocabulary
    return F.cross_entropy(logits.flatten(0, 1), ids.flatten(), ignore_index=-100)


def build_on_vlm(
    cls: type[VLMPolicy], config: PolicyConfig, dataset, pointing_vlm: VLMPolicy | None = None, **extra
) -> VLMPolicy:
    """A fresh ``cls`` policy with the dataset's statistics and instructions, on the course VLM or, given
    ``pointing_vlm`` (``vlacourse.vlm.pointing``), on copies of its ViT, projector, GPT and pointer: it then points
    before it acts (``config.point_weight`` must be > 0) and has read the pointing instructions too."""
    if pointing_vlm is None:
        _, vlm, tokenizer, _ = load_course_vlm()
        return cls(config, dataset.stats, vlm, tokenizer, dataset.tasks, **extra)
    if config.point_weight <= 0:
        raise ValueError("a policy built on a pointing VLM points: give it a config with point_weight > 0")
    vlm = VLM(pointing_vlm.vision.config, pointing_vlm.gpt.config)
    vlm.load_state_dict(
        {k: v for k, v in pointing_vlm.state_dict().items() if k.split(".")[0] in ("vision", "projector", "gpt")}
    )
    instructions = dataset.tasks + pointing_vlm.instructions
    policy = cls(config, dataset.stats, vlm, pointing_vlm.tokenizer, instructions, **extra)
    policy.pointer.load_state_dict(pointing_vlm.pointer.state_dict())
    return policy


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

    # Inference: greedy, constrained to the action tokens, one token at a time with a KV cache.
    @torch.no_grad()
    def greedy_action_tokens(
        self,
        images,
        instructions,
        state,
        max_tokens: int,
        stop: int | None = None,
        allowed: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """(B, n) action tokens (0-based), n <= max_tokens: one pass over the prefix, then one pass per token,
        until ``max_tokens`` or every row has written ``stop``. ``allowed``, given the tokens written so far
        (B, i), says which may come next (B, action_vocab): constrained decoding. ``decoding_steps`` keeps n,
        the forward passes this chunk took (the last token's pass is skipped: nothing reads it)."""
        cache = KVCache(self.gpt.config.n_layer)
        hidden = self.read_prefix(images, instructions, state, cache)[0][:, -1:]  # (B, 1, C)
        tokens, stopped = [], torch.zeros(len(state), dtype=torch.bool, device=self.device)
        for i in range(max_tokens):
            logits = self.gpt.lm_head(hidden)[:, -1, self.text_vocab :]  # (B, action_vocab): action tokens only
            if allowed is not None:
                written = torch.cat(tokens, dim=1) if tokens else stopped.new_zeros(len(state), 0, dtype=torch.long)
                logits = logits.masked_fill(~allowed(written), float("-inf"))
            token = logits.argmax(-1, keepdim=True)  # (B, 1)
            tokens.append(token)
            if stop is not None:
                stopped |= token[:, 0] == stop
            if i == max_tokens - 1 or stopped.all():
                break
            hidden = self.gpt.features(self.gpt.wte(token + self.text_vocab), cache)
        self.decoding_steps = len(tokens)
        return torch.cat(tokens, dim=1)  # (B, n)

    def generate(self, images, instructions, state) -> np.ndarray:
        """(B, H, D) actions: H * D greedy bins, decoded to their centres."""
        H, D = self.config.chunk_size, self.config.action_dim
        bins = self.greedy_action_tokens(images, instructions, state, H * D)  # (B, H*D)
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
    """The shipped binning VLA (made by ``python -m vlacourse.policies.vla train``), or the one at ``path``;
    ``.metrics`` holds what ``train_and_measure`` measured when it was made."""
    return load_policy(path, CHECKPOINT, "python -m vlacourse.policies.vla train", device)


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


# The FAST paper's experiment for bins (Pertsch et al. 2025, sec. IV): the same 0.2 s chunks at 10 Hz, where
# consecutive actions differ more, so that fewer of their bin tokens copy the one before.
AT_10_HZ = HeadRecipe(chunk_size=2, action_repeat=5)

AT_10_HZ_RECORDING = "binning_at_10hz.json"


def load_binning_at_10hz(path: str | Path | None = None) -> dict:
    """What the binning VLA's recipe gives at 10 Hz (``AT_10_HZ``): the metrics
    ``python -m vlacourse.policies.vla 10hz`` recorded (no weights ship), or those at ``path``. Notebook 04 sets
    them beside the shipped 50 Hz VLA's."""
    return read_recording(path, AT_10_HZ_RECORDING, "python -m vlacourse.policies.vla 10hz")


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
    """The command line of every action head on the VLM (``python -m vlacourse.policies.vla``, ``.fast_vla``,
    ``.flow``): ``train`` trains by ``HeadRecipe()``, measures (``train_and_measure``, then ``measure_more``) and writes
    the checkpoint with its metrics; each of ``variants`` (name: (what it is, its recipe); ``baseline`` unless
    given) trains and measures by its recipe and writes only the metrics, as JSON."""
    variants = {"baseline": BASELINE} if variants is None else variants
    commands = Commands(prog, description)
    commands.add("train", "train by vla.HeadRecipe and write the checkpoint", checkpoint)
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


if __name__ == "__main__":
    train_head_command(
        "python -m vlacourse.policies.vla",
        "the binning VLA (notebook 04)",
        build_vla,
        CHECKPOINT,
        variants={
            "baseline": BASELINE,
            "10hz": ("the same recipe at 10 Hz: chunks of 2 actions, each held 5 control steps", AT_10_HZ),
        },
    )
