"""The FAST VLA: notebook 04's VLA writing FAST tokens instead of bins (pi0-FAST, Pertsch et al. 2025, sec. VI).

Everything but the action vocabulary is the binning VLA's (``vlacourse.vla``): the same course VLM, prefix,
keypoint and state tokens, loss and greedy decoding with a KV cache. The chunk is written as its FAST
tokens (``vlacourse.fast``: DCT, scale and round, BPE), then an end-of-chunk token:

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
- Decoding is constrained to the action tokens, so the model cannot write text where a chunk belongs. A
  sequence that still does not decode to a whole chunk (too many or too few coefficients) decodes to
  zero actions with a warning, as the released tokenizer does: the arm stops instead of crashing.
- Chunks that run past an episode's end repeat its last action (``ChunkBatches``); FAST encodes the whole
  chunk, padding included, since a chunk with holes has no DCT: the target there is to hold still.
"""

from __future__ import annotations

import numpy as np
import torch

from vlacourse.compression import demonstration_chunks
from vlacourse.fast import FASTTokenizer
from vlacourse.policy import PolicyConfig
from vlacourse.tokenizer import BPETokenizer
from vlacourse.vla import BinningVLA
from vlacourse.vlm import VLM, load_course_vlm


class FASTVLA(BinningVLA):
    """The binning VLA with FAST tokens and an end token as its action vocabulary (see the module)."""

    def __init__(self, config: PolicyConfig, stats: dict, vlm: VLM, tokenizer: BPETokenizer,
                 instructions: list[str], fast: FASTTokenizer):
        if (fast.chunk_size, fast.action_dim) != (config.chunk_size, config.action_dim):
            raise ValueError(f"the FAST tokenizer was fitted on chunks of ({fast.chunk_size}, {fast.action_dim}), the "
                             f"policy predicts ({config.chunk_size}, {config.action_dim}): fit it on this chunk size")
        self.fast = fast  # set first: the vocabulary grows by its size
        super().__init__(config, stats, vlm, tokenizer, instructions)

    @property
    def end_token(self) -> int:
        return self.fast.vocab_size  # right after the FAST tokens

    @property
    def action_vocab_size(self) -> int:
        return self.fast.vocab_size + 1

    def action_token_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens, targets), each (B, L): each chunk's FAST tokens and the end token, padded to the longest
        with end tokens that the loss skips (-100 in ``targets``)."""
        sequences = [self.fast.encode(chunk) + [self.end_token] for chunk in batch["action"].cpu().numpy()]
        longest = max(map(len, sequences))
        tokens = torch.full((len(sequences), longest), self.end_token, dtype=torch.long)
        targets = torch.full_like(tokens, -100)
        for row, sequence in enumerate(sequences):
            tokens[row, :len(sequence)] = targets[row, :len(sequence)] = torch.tensor(sequence)
        return tokens.to(self.device), targets.to(self.device)

    def generate(self, images, instructions, state) -> np.ndarray:
        """(B, H, D) actions: greedy FAST tokens until the end token, each row decoded on its own."""
        longest = self.config.chunk_size * self.config.action_dim + 1  # no merges at all, then the end
        tokens = self.greedy_action_tokens(images, instructions, state, longest, stop=self.end_token).tolist()
        chunks = []
        for row in tokens:
            written = row[:row.index(self.end_token)] if self.end_token in row else row  # no end: invalid
            chunks.append(self.fast.decode(written))
        return np.stack(chunks)

    def extra_metadata(self) -> dict[str, str]:
        return super().extra_metadata() | {"fast": self.fast.to_json()}

    @classmethod
    def from_metadata(cls, config: PolicyConfig, metadata: dict[str, str], **extra) -> FASTVLA:
        return super().from_metadata(config, metadata, fast=FASTTokenizer.from_json(metadata["fast"]))


def build_fast_vla(dataset, chunk_size: int = 10, scale: float = 10.0, vocab_size: int = 1024,
                   device: str | torch.device = "cpu") -> FASTVLA:
    """A fresh FAST VLA on the course VLM, its tokenizer fitted on the dataset's chunks of ``chunk_size``."""
    _, vlm, tokenizer, _ = load_course_vlm()
    fast = FASTTokenizer.fit(demonstration_chunks(dataset, chunk_size), vocab_size, scale)
    config = PolicyConfig(chunk_size=chunk_size, n_action_steps=chunk_size)
    return FASTVLA(config, dataset.stats, vlm, tokenizer, dataset.tasks, fast).to(device)


def compare_with_binning(dataset, steps: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
                         task: str = "pick_place", episodes: int = 20, progress: bool = True) -> dict:
    """The binning VLA and the FAST VLA trained alike (same data, batches, steps, seed) and measured alike:
    the error of their predicted chunks on validation frames during training (``chunk_error``: their
    losses count different tokens and cannot be compared), forward passes per chunk, actions per second
    on one observation, and success on ``episodes`` seeded episodes of ``task``."""
    from vlacourse.notebook import seed_everything
    from vlacourse.policy import actions_per_second, train_policy
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluate
    from vlacourse.vla import build_vla

    observation = TabletopEnv(task).reset(seed=seed)[0]
    results = {}
    for name, build in (("binning", build_vla), ("FAST", build_fast_vla)):
        seed_everything(seed)
        policy = build(dataset, chunk_size=10)
        history = train_policy(policy, dataset, steps, batch_size, lr, seed, eval_every=max(1, steps // 10),
                               progress=progress)
        speed = actions_per_second(policy, observation)
        result = evaluate(policy, task, episodes=episodes, seed=seed, progress=progress,
                          side_by_side=min(episodes, 10))
        results[name] = {"eval_steps": history.eval_steps, "validation_loss": history.eval_losses,
                         "chunk_error": history.chunk_errors, "forward_passes_per_chunk": policy.decoding_steps,
                         **speed, "success": result.success_rate}
    return results


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m vlacourse.fast_vla", description="the FAST VLA against binning")
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser("compare", help="train both VLAs alike on notebook 03's demonstrations")
    compare.add_argument("--steps", type=int, default=1500)
    compare.add_argument("--episodes", type=int, default=20, help="evaluation episodes on the arm")
    args = parser.parse_args(argv)
    from vlacourse.notebook import configure_mujoco_gl

    configure_mujoco_gl()  # before anything imports MuJoCo
    from vlacourse.sim.dataset import load_or_collect

    dataset = load_or_collect("pick_place", 100, 0)
    print(json.dumps(compare_with_binning(dataset, args.steps, episodes=args.episodes), indent=1))


if __name__ == "__main__":
    main()
