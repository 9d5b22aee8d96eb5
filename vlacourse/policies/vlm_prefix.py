"""The VLM prefix every VLA of the course reads its actions after, and how a VLA is built on the course VLM.

    scene image --ViT--projector--> 64 tokens --+
    wrist image --ViT--projector--> 64 tokens --+
    "put the red block in the bin"  BPE tokens --+--> GPT (causal) --> hidden states, read by the action head:
    [the point it makes, 1 token] --------------+     binning and FAST write the next tokens, the flow expert
    keypoints, 1 token per camera --------------+     attends to the keys and values
    state (9 numbers) --linear--> 1 token ------+

``VLMPolicy`` holds the prefix, its pre-processing (each instruction padded on the left to one width, so that
the state and action tokens sit at the positions they had in training), saving and loading. A subclass says
how actions come out of it: ``binning_vla``, ``fast_vla``, ``flow`` and ``insulation`` in this package. A
head that writes tokens grows the GPT's vocabulary (``grow_vocabulary``) and trains with
``action_token_loss``; ``build_on_vlm`` starts any of them from the course VLM or from the VLM that points.

Where ours differs, and why:
- The state enters as one projected token, as in pi0 (Black et al. 2024), rather than as text.
- A keypoint token per camera (``vlm.vision.KeypointReadout``, a spatial softmax, Levine et al. 2016) and,
  on the VLM that points (``vlacourse.vlm.pointing``), the point itself: the GPT reads the images and the
  instruction, points at the named block in each camera, and reads that point as one more token before the
  state. Our 64x64 cameras show a block as a few pixels, and behaviour cloning alone barely learns where
  the named block is (notebook 04).
- An auxiliary localisation loss (``PolicyConfig.locate_weight``): a linear head on the state token's last
  hidden state predicts where each block and zone is from the gripper (labels from the dataset's
  ``observation.environment_state``); it trains with the action loss and is not used at inference.
  Embodied chain-of-thought (Zawalski et al. 2024, ECoT) trains OpenVLA to write the objects' boxes and
  the gripper's position before its actions, and Chen et al. 2025 (Training Strategies for Efficient
  Embodied Reasoning) found that most of the gain comes from the better representation learned by
  predicting them, even when they are not generated at test time. Ours is a regression head instead of
  tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.lm.gpt import GPT, GPTConfig, KVCache
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.policies.policy import (
    ENVIRONMENT_STATE_DIM,
    POINTING_KEY,
    STATE_KEY,
    TASK_KEY,
    Policy,
    PolicyConfig,
    check_observation,
    locate_loss,
    warn_unseen_words,
)
from vlacourse.vlm.course_vlm import VLM, load_course_vlm, text_after_image
from vlacourse.vlm.vision import KeypointReadout, Pointer, Pointing, ViTConfig, pointing_loss

TEXT_END = "."  # text after the prefix ends with a full stop: the tokenizer splits it from words, so it is one token


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

    def vqa_loss(self, images: torch.Tensor, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The VLM's own loss on captions and questions (notebook 02's, ``course_vlm.qa_batches``), on this
        policy's vision encoder, projector and GPT: co-training keeps what the VLM knew while it learns more."""
        return text_after_image(self.gpt, self.projector(self.vision(images)), ids, targets)[1]

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

    # Text after the prefix, in the VLM's own tokens: a command (``hierarchy.navila``), a commentary (``.lingo``).
    @property
    def end_token(self) -> int:
        return self.tokenizer.encode(TEXT_END)[0]

    def longest_text(self, texts) -> int:
        """Tokens the longest of ``texts`` takes as ``text_ids`` writes it, its full stop included."""
        return max(len(self.tokenizer.encode(f" {text}{TEXT_END}")) for text in texts)

    def text_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, targets), each (B, L): each text's tokens, " move left 4 cm.", padded on the right (targets -100
        there, which a loss skips)."""
        encoded = [self.tokenizer.encode(f" {text}{TEXT_END}") for text in texts]
        width = max(map(len, encoded))
        ids = torch.tensor([e + [self.end_token] * (width - len(e)) for e in encoded], device=self.device)
        real = torch.tensor([[i < len(e) for i in range(width)] for e in encoded], device=self.device)
        return ids, ids.masked_fill(~real, -100)

    def text_logits(self, prefix: torch.Tensor, cache: KVCache, ids: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits over the text vocabulary (B, L, V) for each of the (B, L) tokens ``ids`` written
        after a prefix whose hidden states are ``prefix`` (B, P, C) and whose keys and values are in ``cache``
        (which then holds the text's too): the prefix's last position predicts the first token."""
        hidden = torch.cat([prefix[:, -1:], self.gpt.features(self.gpt.wte(ids[:, :-1]), cache)], dim=1)  # (B, L, C)
        return self.gpt.lm_head(hidden)[..., : self.text_vocab]

    @torch.no_grad()
    def say(self, images, instructions, state, max_tokens: int) -> list[str]:
        """Greedy text after the prefix (with the state's token, unless ``state`` is None), up to its full stop or
        ``max_tokens`` (give the longest text's tokens, its full stop included: shorter cuts words off)."""
        tokens = self.greedy_tokens(images, instructions, state, max_tokens, self.end_token, text=True)
        return [self.tokenizer.decode(row).split(TEXT_END)[0].strip() for row in tokens.tolist()]

    @torch.no_grad()
    def greedy_tokens(
        self,
        images,
        instructions,
        state,
        max_tokens: int,
        stop: int | None = None,
        allowed: Callable[[torch.Tensor], torch.Tensor] | None = None,
        text: bool = False,
    ) -> torch.Tensor:
        """(B, n) tokens, n <= max_tokens: one pass over the prefix, then one pass per token, until ``max_tokens``
        or every row has written ``stop``. Action tokens (0-based: action token a is vocabulary id text_vocab + a),
        or with ``text`` the VLM's own text tokens. ``allowed``, given the tokens written so far (B, i), says
        which may come next (B, tokens of that kind): constrained decoding. ``decoding_steps`` keeps n, the
        forward passes this took (the last token's pass is skipped: nothing reads it)."""
        first, last = (0, self.text_vocab) if text else (self.text_vocab, self.gpt.config.vocab_size)
        cache = KVCache(self.gpt.config.n_layer)
        hidden = self.read_prefix(images, instructions, state, cache)[0][:, -1:]  # (B, 1, C)
        batch = len(instructions)
        tokens, stopped = [], torch.zeros(batch, dtype=torch.bool, device=self.device)
        for i in range(max_tokens):
            logits = self.gpt.lm_head(hidden)[:, -1, first:last]  # (B, tokens of the kind written)
            if allowed is not None:
                written = torch.cat(tokens, dim=1) if tokens else stopped.new_zeros(batch, 0, dtype=torch.long)
                logits = logits.masked_fill(~allowed(written), float("-inf"))
            token = logits.argmax(-1, keepdim=True)  # (B, 1)
            tokens.append(token)
            if stop is not None:
                stopped |= token[:, 0] == stop
            if i == max_tokens - 1 or stopped.all():
                break
            hidden = self.gpt.features(self.gpt.wte(token + first), cache)
        self.decoding_steps = len(tokens)
        return torch.cat(tokens, dim=1)  # (B, n)

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
