"""The FAST VLA: notebook 04's VLA writing FAST tokens instead of bins (pi0-FAST, Pertsch et al. 2025, sec. VI).

Everything but the action vocabulary is the binning VLA's (``vlacourse.policies.binning_vla``): the same course
VLM, prefix, keypoint and state tokens, loss and greedy decoding with a KV cache. The chunk is written as its FAST
tokens (``vlacourse.policies.fast``: DCT, scale and round, BPE), then an end-of-chunk token:

    prefix (images, instruction, state) --GPT--> f1 f2 ... fn <end>     n varies with the motion: a few
                                                                        for a glide, more for a grasp
    decoding: the prefix pass, then one pass per token until <end>; tokens -> FAST decode -> chunk (H, D)

Bins spend H * D = 40 tokens on every chunk of 10 actions; FAST spends about 3 to 7 on ours (notebook
05), so a chunk takes that many forward passes instead of 40, and each token says something new instead
of nearly repeating the one before.

Where ours differs, and why:
- pi0-FAST is PaliGemma-3B with FAST's 2048-token vocabulary written over the least-used text tokens; ours
  adds the FAST vocabulary (1024, fitted on the training chunks) and an end token to the course VLM's
  vocabulary, as the binning VLA adds its bins.
- Decoding is constrained twice: to the action tokens, so the model cannot write text where a chunk
  belongs, and to whole chunks (``FASTVLA.whole_chunks_only``): a token only if its coefficients fit in
  what the chunk has left, the end token only once all H * D are written. pi0-FAST's released code
  (openpi) constrains neither: a sequence of the wrong length decodes to zero actions with a warning
  (ours does the same, ``FASTTokenizer.decode``), and the arm stops for a chunk. At our scale the model
  writes such sequences often, and those stops are most of its failures (notebook 05 measures both ways;
  ``whole_chunks = False`` turns the constraint off).
- Chunks that run past an episode's end repeat its last action (``ChunkBatches``); FAST encodes the whole
  chunk, padding included, since a chunk with holes has no DCT: the target there is to hold still.

The shipped FAST VLA is trained by ``recipe.HeadRecipe``, as the flow VLA, on the VLM that points; its file
records that recipe and what was measured when it was made (notebook 05 reads them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.policies.binning_vla import BinningVLA
from vlacourse.policies.compression import demonstration_chunks
from vlacourse.policies.fast import FASTTokenizer
from vlacourse.policies.policy import PolicyConfig, held_actions, load_policy
from vlacourse.policies.recipe import train_head_command
from vlacourse.policies.vlm_prefix import VLMPolicy, build_on_vlm
from vlacourse.vlm.course_vlm import VLM


def fast_token_targets(
    fast: FASTTokenizer, chunks: torch.Tensor, device: str | torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens, targets), each (B, L), for chunks (B, H, D): each chunk's FAST tokens and the end token
    (``fast.vocab_size``), padded to the longest with end tokens that the loss skips (-100 in ``targets``)."""
    end = fast.vocab_size
    sequences = [fast.encode(chunk) + [end] for chunk in chunks.cpu().numpy()]
    longest = max(map(len, sequences))
    tokens = torch.full((len(sequences), longest), end, dtype=torch.long)
    targets = torch.full_like(tokens, -100)
    for row, sequence in enumerate(sequences):
        tokens[row, : len(sequence)] = targets[row, : len(sequence)] = torch.tensor(sequence)
    return tokens.to(device), targets.to(device)


class FASTVLA(BinningVLA):
    """The binning VLA with FAST tokens and an end token as its action vocabulary (see the module)."""

    whole_chunks = True  # constrain decoding to sequences that decode to one whole chunk (see the module)
    saved_arguments = {"fast": FASTTokenizer}  # the FAST tokenizer is saved in the file's metadata

    def __init__(
        self,
        config: PolicyConfig,
        stats: dict,
        vlm: VLM,
        tokenizer: BPETokenizer,
        instructions: list[str],
        fast: FASTTokenizer,
    ):
        if (fast.chunk_size, fast.action_dim) != (config.chunk_size, config.action_dim):
            raise ValueError(
                f"the FAST tokenizer was fitted on chunks of ({fast.chunk_size}, {fast.action_dim}), the "
                f"policy predicts ({config.chunk_size}, {config.action_dim}): fit it on this chunk size"
            )
        super().__init__(config, stats, vlm, tokenizer, instructions, action_vocab=fast.vocab_size + 1)
        self.fast = fast
        # coefficients each action token stands for (the end token: none), for constrained decoding
        self.coefficients_per_token = torch.tensor([len(fast.vocab[t]) for t in range(fast.vocab_size)] + [0])

    @property
    def end_token(self) -> int:
        return self.fast.vocab_size  # right after the FAST tokens (as ``fast_token_targets`` writes it)

    def action_token_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return fast_token_targets(self.fast, batch["action"], self.device)

    def whole_chunks_only(self, written: torch.Tensor) -> torch.Tensor:
        """(B, action_vocab): which tokens may follow ``written`` (B, i) so that the sequence decodes to one
        whole chunk: a FAST token only if its coefficients fit in what the chunk has left, the end token only
        once all H * D coefficients are written (then nothing else)."""
        lengths = self.coefficients_per_token.to(written.device)  # (action_vocab,)
        left = self.config.chunk_size * self.config.action_dim - lengths[written].sum(1)  # (B,)
        allowed = lengths[None, :] <= left[:, None]  # (B, action_vocab)
        allowed[:, self.end_token] = left == 0
        return allowed

    def generate(self, images, instructions, state) -> np.ndarray:
        """(B, H, D) actions: greedy FAST tokens, constrained to whole chunks, until the end token; each row
        decoded on its own."""
        longest = self.config.chunk_size * self.config.action_dim + 1  # no merges at all, then the end
        tokens = self.greedy_tokens(
            images,
            instructions,
            state,
            longest,
            stop=self.end_token,
            allowed=self.whole_chunks_only if self.whole_chunks else None,
        ).tolist()
        chunks = []
        for row in tokens:
            written = row[: row.index(self.end_token)] if self.end_token in row else row  # no end: invalid
            chunks.append(self.fast.decode(written))
        return np.stack(chunks)


def build_fast_vla(
    dataset,
    chunk_size: int = 10,
    action_repeat: int = 1,
    scale: float = 10.0,
    vocab_size: int = 1024,
    device: str | torch.device = "cpu",
    pointing_vlm: VLMPolicy | None = None,
) -> FASTVLA:
    """A fresh FAST VLA, its tokenizer fitted on the dataset's chunks of ``chunk_size`` actions, each held
    ``action_repeat`` control steps, on the course VLM or on ``pointing_vlm`` (``vlm_prefix.build_on_vlm``)."""
    chunks = held_actions(demonstration_chunks(dataset, chunk_size * action_repeat), action_repeat)  # (N, H, D)
    fast = FASTTokenizer.fit(chunks, vocab_size, scale)
    config = PolicyConfig(
        chunk_size=chunk_size,
        n_action_steps=chunk_size,
        action_repeat=action_repeat,
        point_weight=float(pointing_vlm is not None),
    )
    return build_on_vlm(FASTVLA, config, dataset, pointing_vlm, fast=fast).to(device)


CHECKPOINT = "course_vla_fast.safetensors"


def load_course_fast_vla(path: str | Path | None = None, device: str | torch.device = "cpu") -> FASTVLA:
    """The shipped FAST VLA (made by ``python -m vlacourse.policies.fast_vla train``), or the one at ``path``;
    ``.metrics`` holds what ``train_and_measure`` measured when it was made."""
    return load_policy(path, CHECKPOINT, "python -m vlacourse.policies.fast_vla train", device)


if __name__ == "__main__":
    train_head_command(
        "python -m vlacourse.policies.fast_vla", "the FAST VLA (notebook 05)", build_fast_vla, CHECKPOINT
    )
