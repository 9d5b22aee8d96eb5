"""The course VLM: a ViT whose patch tokens, projected into the GPT's embedding space, are read as a
prefix before the text (LLaVA, Liu et al. 2023; the two-layer MLP projector of LLaVA-1.5).

    image --ViT (SigLIP-trained, frozen)--> 64 patch tokens --MLP projector--> 64 "image words" --+
    "question: is the red block in the bin? answer:" --token embeddings--------------------------+--> GPT --> " yes"

The course checkpoint is made in three stages, as LLaVA-style models are: a language model trained on
text (notebook 01's corpus), a vision encoder trained contrastively on image-caption pairs (SigLIP),
then the projector and the language model trained together on captions and questions about images,
with the vision encoder frozen (LLaVA's second stage; its first, the projector alone, is what notebook
02 shows). ``python -m vlacourse.vlm.course_vlm train`` runs all three from scratch, deterministically on one
machine, and writes ``vlacourse/data/course_vlm.safetensors`` (in float16); ``load_course_vlm()``
reads it. At real scale each stage uses millions to billions of examples; here, 6000 rendered scenes.
Stage 3 is the slow one: "which block is left of which" needs the most steps. What the shipped file
measured on held-out scenes (retrieval, answers) is in its metadata and in RESULTS.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

from vlacourse.checkpoint import read_metadata
from vlacourse.cli import Commands
from vlacourse.lm.corpus import load_corpus
from vlacourse.lm.gpt import GPT, GPTConfig, KVCache
from vlacourse.lm.language_model import TokenWindows
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.training import PREFIX_STEPS, round_to_float16, train
from vlacourse.vlm.vision import SigLIP, ViT, ViTConfig, retrieval_top1

if TYPE_CHECKING:  # vlacourse.vlm.scenes imports MuJoCo, which must not load before its backend is chosen
    from vlacourse.vlm.scenes import Scene

CHECKPOINT = "course_vlm.safetensors"


def text_after_image(gpt: GPT, prefix: torch.Tensor, ids: torch.Tensor, targets: torch.Tensor | None = None):
    """(logits (B, T, vocab), loss): the GPT reads text ``ids`` (B, T) after an image ``prefix`` (B, N, C), the
    loss on ``targets`` (B, T) (-100: no loss; None: no loss at all). The VLM's forward pass, and the question
    loss of a VLA that keeps training its VLM (``vlacourse.policies.insulation``)."""
    x = torch.cat([prefix, gpt.wte(ids)], dim=1)  # (B, N + T, C)
    if targets is not None:
        targets = torch.cat([torch.full(prefix.shape[:2], -100, device=ids.device), targets], dim=1)  # (B, N + T)
    logits, loss = gpt.forward_embeddings(x, targets)
    return logits[:, prefix.shape[1] :], loss


class VLM(nn.Module):
    def __init__(self, vit: ViTConfig, gpt: GPTConfig):
        super().__init__()
        self.vision = ViT(vit)
        self.projector = nn.Sequential(nn.Linear(vit.n_embd, gpt.n_embd), nn.GELU(), nn.Linear(gpt.n_embd, gpt.n_embd))
        self.gpt = GPT(gpt)

    def image_prefix(self, images: torch.Tensor) -> torch.Tensor:
        return self.projector(self.vision(images))  # (B, num_patches, gpt.n_embd)

    def forward(self, images: torch.Tensor, ids: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits for text ``ids`` (B, T) read after the image prefix; loss on ``targets`` (-100: no loss)."""
        return text_after_image(self.gpt, self.image_prefix(images), ids, targets)

    @torch.no_grad()
    def generate(
        self, images: torch.Tensor, prompt: list[int], max_new_tokens: int, stop_token: int
    ) -> list[list[int]]:
        """Greedy continuation of ``prompt`` for each image; the prefix and prompt are encoded once, cached."""
        return self.generate_after(self.image_prefix(images), prompt, max_new_tokens, stop_token)

    @torch.no_grad()
    def generate_after(
        self, prefix: torch.Tensor, prompt: list[int], max_new_tokens: int, stop_token: int
    ) -> list[list[int]]:
        """The same after an image prefix (B, N, C) already projected: each row's tokens up to ``stop_token``. A row
        of k tokens took k + 1 forward passes (the stop token's included), or ``max_new_tokens`` if it never stopped."""
        cache = KVCache(self.gpt.config.n_layer)
        ids = torch.tensor([prompt] * len(prefix), device=prefix.device)
        x = torch.cat([prefix, self.gpt.wte(ids)], dim=1)
        logits = self.gpt.lm_head(self.gpt.features(x, cache))[:, -1]
        out = []
        for _ in range(max_new_tokens):
            token = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            out.append(token)
            if (torch.cat(out, dim=1) == stop_token).any(dim=1).all():
                break
            logits = self.gpt(token, cache=cache)[0][:, -1]
        tokens = torch.cat(out, dim=1).tolist()
        return [row[: row.index(stop_token)] if stop_token in row else row for row in tokens]


@torch.no_grad()
def attention_to_image(vlm: VLM, image: torch.Tensor, prompt: list[int], layer: int = -1) -> torch.Tensor:
    """How much the last prompt token (the one that predicts the answer) attends to each image patch in
    one layer, averaged over heads: (grid, grid), summing to that position's share of attention on the image.

    scaled_dot_product_attention does not return its weights, so they are recomputed for that layer."""
    gpt = vlm.gpt
    layer = layer % gpt.config.n_layer
    x = torch.cat([vlm.image_prefix(image[None]), gpt.wte(torch.tensor([prompt], device=image.device))], dim=1)
    x = x + gpt.wpe(torch.arange(x.shape[1], device=x.device))
    for block in gpt.blocks[:layer]:
        x = block(x)
    attention = gpt.blocks[layer].attn
    B, T, C = x.shape
    q, k, _ = attention.c_attn(gpt.blocks[layer].ln_1(x)).split(C, dim=2)
    q, k = (t.view(B, T, attention.n_head, C // attention.n_head).transpose(1, 2) for t in (q, k))  # (B, nh, T, hs)
    # The last query may read every position (it is last), so the causal mask removes nothing here.
    scores = q[:, :, -1:] @ k.transpose(-2, -1) / (C // attention.n_head) ** 0.5  # (B, nh, 1, T)
    weights = scores.softmax(dim=-1).mean(dim=1)[0, 0]  # (T,): averaged over heads
    patches = vlm.vision.config.num_patches
    grid = int(patches**0.5)
    return weights[:patches].view(grid, grid)


def question_prompt(question: str) -> str:
    return f"question: {question} answer:"


def examples(scenes: list[Scene], rng: np.random.Generator) -> list[tuple[int, str, str]]:
    """(scene index, prompt, target) for a caption and four questions per scene."""
    out = []
    for i, scene in enumerate(scenes):
        out.append((i, "caption:", f" {scene.caption()}\n"))
        out += [(i, question_prompt(q), f" {a}\n") for q, a in scene.questions(rng)]
    return out


def encode_examples(tokenizer: BPETokenizer, batch: list[tuple[int, str, str]]):
    """Inputs (B, T) and targets (B, T): the loss is on the target text only, after the prompt."""
    rows = []
    for _, prompt, target in batch:
        prompt_ids, target_ids = tokenizer.encode(prompt), tokenizer.encode(target)
        full = prompt_ids + target_ids
        rows.append((full[:-1], [-100] * (len(prompt_ids) - 1) + target_ids))
    width = max(len(inputs) for inputs, _ in rows)
    ids = torch.tensor([inputs + [0] * (width - len(inputs)) for inputs, _ in rows])
    targets = torch.tensor([t + [-100] * (width - len(t)) for _, t in rows])
    return ids, targets


def encode_captions(tokenizer: BPETokenizer, captions: list[str]):
    """Padded ids (B, T) and lengths (B,) for the text tower."""
    encoded = [tokenizer.encode(c) for c in captions]
    width = max(map(len, encoded))
    return torch.tensor([e + [0] * (width - len(e)) for e in encoded]), torch.tensor([len(e) for e in encoded])


def images_of(scenes: list[Scene], device="cpu") -> torch.Tensor:
    return torch.from_numpy(np.stack([s.image for s in scenes])).to(device)


def caption_batches(scenes: list[Scene], tokenizer: BPETokenizer, batch_size: int, seed: int, device="cpu"):
    """A function that returns a random batch (images, caption ids, lengths) for SigLIP, seeded."""
    rng = np.random.default_rng(seed)
    images = images_of(scenes, device)
    ids, lengths = (t.to(device) for t in encode_captions(tokenizer, [s.caption() for s in scenes]))

    def batch():
        pick = torch.from_numpy(rng.choice(len(scenes), batch_size, replace=False)).to(device)
        return images[pick], ids[pick], lengths[pick]

    return batch


def qa_batches(scenes: list[Scene], tokenizer: BPETokenizer, batch_size: int, seed: int, device="cpu"):
    """A function that returns a random batch (images, ids, targets) of captions and questions, seeded."""
    rng = np.random.default_rng(seed)
    images = images_of(scenes, device)
    pool = examples(scenes, rng)

    def batch():
        chosen = [pool[i] for i in rng.choice(len(pool), batch_size, replace=False)]
        ids, targets = encode_examples(tokenizer, chosen)
        return images[[i for i, _, _ in chosen]], ids.to(device), targets.to(device)

    return batch


def answer(vlm: VLM, tokenizer: BPETokenizer, images: torch.Tensor, question: str) -> list[str]:
    """The VLM's greedy answer to ``question`` about each image (B, H, W, 3), up to the end of the line."""
    out = vlm.generate(images, tokenizer.encode(question_prompt(question)), 8, stop_token=tokenizer.encode("\n")[0])
    return [tokenizer.decode(tokens).strip() for tokens in out]


def heldout_questions(scenes: list[Scene], seed: int = 0) -> list[tuple[int, str, str]]:
    """(scene index, question, answer): the questions the VLM's accuracy is measured on, four a scene, seeded."""
    rng = np.random.default_rng(seed)
    return [(i, q, a) for i, s in enumerate(scenes) for q, a in s.questions(rng)]


@torch.no_grad()
def question_accuracy(vlm: VLM, tokenizer: BPETokenizer, scenes: list[Scene], seed: int = 0, batch: int = 128):
    """Accuracy of the VLM's answers, and of always giving each question kind's most common answer."""
    from vlacourse.vlm.scenes import question_kind

    asked = heldout_questions(scenes, seed)
    correct = 0
    device = next(vlm.parameters()).device
    for question in sorted({q for _, q, _ in asked}):
        group = [(i, a) for i, q, a in asked if q == question]
        for start in range(0, len(group), batch):
            part = group[start : start + batch]
            said = answer(vlm, tokenizer, images_of([scenes[i] for i, _ in part], device), question)
            correct += sum(s == a for s, (_, a) in zip(said, part, strict=True))
    by_kind: dict[str, list[str]] = {}
    for _, q, a in asked:
        by_kind.setdefault(question_kind(q), []).append(a)
    majority = sum(max(answers.count(x) for x in set(answers)) for answers in by_kind.values())
    return correct / len(asked), majority / len(asked)


@torch.no_grad()
def caption_retrieval(siglip: SigLIP, tokenizer: BPETokenizer, scenes: list[Scene], group: int = 32) -> float:
    """Image-to-text top-1 within groups of ``group`` held-out scenes (chance is 1/group)."""
    device = next(siglip.parameters()).device
    scores = []
    for start in range(0, len(scenes) - group + 1, group):
        part = scenes[start : start + group]
        ids, lengths = (t.to(device) for t in encode_captions(tokenizer, [s.caption() for s in part]))
        scores.append(retrieval_top1(siglip.embed_images(images_of(part, device)), siglip.embed_texts(ids, lengths)))
    return float(np.mean(scores))


@dataclass
class Recipe:
    """Everything that decides the course checkpoint; changing any of it changes the weights."""

    seed: int = 0  # seeds every stage; the scenes are drawn from seeds 1000 * seed + 1 (train) and + 2 (held out)
    vocab_size: int = 512  # BPE vocabulary, as in notebook 01
    train_scenes: int = 6000  # rendered scenes with captions and questions
    heldout_scenes: int = 512  # never trained on; the metrics are measured here
    warmup_steps: int = 100  # linear warmup before the cosine decay of stages 2 and 3
    lm_steps: int = 600  # stage 1: next-token training on the corpus
    siglip_steps: int = 1000  # stage 2: contrastive image-caption training
    siglip_batch_size: int = 128  # image-caption pairs per step: each batch holds 128 matches, 16256 mismatches
    siglip_lr: float = 5e-4
    vlm_steps: int = 2400  # stage 3: projector and GPT on captions and questions
    vlm_batch_size: int = 64  # captions and questions per step
    vlm_lr: float = 1e-3
    vit: ViTConfig = None  # defaults below
    text: GPTConfig = None
    gpt: GPTConfig = None

    def training_scenes(self, count: int | None = None, progress: bool = True) -> list[Scene]:
        """The first ``count`` (default: all) of the scenes the checkpoint trained on, rendered again: what a model
        built on it co-trains on to keep its captions and answers (notebooks 02 and 07)."""
        from vlacourse.vlm.scenes import SceneMaker

        return SceneMaker(self.vit.image_size).make_many(
            count or self.train_scenes, seed=self.seed * 1000 + 1, progress=progress
        )

    def heldout(self, count: int | None = None, progress: bool = True) -> list[Scene]:
        """The first ``count`` (default: all) of the held-out scenes the checkpoint's metrics are measured on
        (rendered, never trained on)."""
        from vlacourse.vlm.scenes import SceneMaker

        return SceneMaker(self.vit.image_size).make_many(
            count or self.heldout_scenes, seed=self.seed * 1000 + 2, progress=progress
        )

    def __post_init__(self):
        self.vit = self.vit or ViTConfig()
        self.text = self.text or GPTConfig(block_size=64, n_layer=2)
        self.gpt = self.gpt or GPTConfig(block_size=256)


def train_language_model(
    recipe: Recipe, progress: bool = True, stop_after: int | None = None
) -> tuple[GPT, BPETokenizer, list[float]]:
    """Stage 1: the tokenizer, and the GPT trained on the course's corpus as in notebook 01 (the language model
    the VLM starts from); also its losses. Run right after ``seed_everything(recipe.seed)``, it gives the
    checkpoint's own stage 1 again (VL-JEPA and its token VLM start from it, ``vlacourse.vlm.vl_jepa_recipe``)."""
    tokenizer = BPETokenizer.train(load_corpus(), recipe.vocab_size)
    for config in (recipe.text, recipe.gpt):
        config.vocab_size = tokenizer.vocab_size
    language_model = GPT(recipe.gpt)
    windows = TokenWindows(tokenizer.encode(load_corpus()), window=64, batch_size=32, seed=recipe.seed)
    losses = train(language_model, windows.batch, recipe.lm_steps, lr=3e-3, progress=progress, stop_after=stop_after)
    return language_model, tokenizer, losses.losses


def train_course_vlm(
    recipe: Recipe, progress: bool = True, stop_after: int | None = None
) -> tuple[SigLIP, VLM, BPETokenizer, dict]:
    """The three stages from scratch; returns the models, the tokenizer and the held-out metrics.

    ``stop_after`` runs only the first steps of each stage's schedule and measures nothing on held-out
    scenes: its metrics are each stage's losses, the prefix that ``make test`` reruns (``prefix_losses``)."""
    from vlacourse.notebook import seed_everything

    seed_everything(recipe.seed)
    losses = {}
    language_model, tokenizer, losses["language"] = train_language_model(recipe, progress, stop_after)
    # 2. Vision: SigLIP on image-caption pairs.
    scenes = recipe.training_scenes(progress=progress)
    siglip = SigLIP(recipe.vit, recipe.text)
    captions = caption_batches(scenes, tokenizer, recipe.siglip_batch_size, seed=recipe.seed)
    # 5e-4 after a warmup: at 1e-3 every embedding collapses to one vector (see vlacourse.vlm.vision).
    losses["siglip"] = train(
        siglip,
        captions,
        recipe.siglip_steps,
        lr=recipe.siglip_lr,
        warmup_steps=recipe.warmup_steps,
        cosine=True,
        weight_decay=0.0,
        progress=progress,
        stop_after=stop_after,
    ).losses
    # 3. The VLM: projector and GPT trained on captions and questions, vision frozen.
    vlm = VLM(recipe.vit, recipe.gpt)
    vlm.vision.load_state_dict(siglip.image_tower.state_dict())
    vlm.gpt.load_state_dict(language_model.state_dict())
    vlm.vision.requires_grad_(False)
    answers = qa_batches(scenes, tokenizer, recipe.vlm_batch_size, seed=recipe.seed + 1)
    losses["vlm"] = train(
        vlm,
        answers,
        recipe.vlm_steps,
        lr=recipe.vlm_lr,
        warmup_steps=recipe.warmup_steps,
        cosine=True,
        progress=progress,
        stop_after=stop_after,
    ).losses
    if stop_after is not None:
        return siglip, vlm, tokenizer, {"prefix_losses": losses}
    siglip.eval()
    vlm.eval()
    round_to_float16(siglip, vlm)  # measure the weights as they ship
    heldout = recipe.heldout(progress=progress)
    accuracy, majority = question_accuracy(vlm, tokenizer, heldout)
    metrics = {
        "retrieval_top1": caption_retrieval(siglip, tokenizer, heldout),
        "retrieval_chance": 1 / 32,
        "vqa_accuracy": accuracy,
        "vqa_majority": majority,
    }
    return siglip, vlm, tokenizer, metrics


def save_course_vlm(path: Path, siglip: SigLIP, vlm: VLM, tokenizer: BPETokenizer, recipe: Recipe, metrics: dict):
    """One safetensors file, weights in float16 (half the size; the accuracy stays within a point)."""
    tensors = {f"siglip.{k}": v for k, v in siglip.state_dict().items()}
    tensors |= {f"vlm.{k}": v for k, v in vlm.state_dict().items() if not k.startswith(("vision.", "gpt.lm_head"))}
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in tensors.items()}
    metadata = {
        "merges": json.dumps(tokenizer.merges),
        "vit": json.dumps(asdict(recipe.vit)),
        "text": json.dumps(asdict(recipe.text)),
        "gpt": json.dumps(asdict(recipe.gpt)),
        "metrics": json.dumps(metrics),
        "recipe_seed": str(recipe.seed),
    }
    save_file(tensors, str(path), metadata=metadata)


def load_course_vlm(path: str | Path | None = None, device: str | torch.device = "cpu"):
    """(siglip, vlm, tokenizer, metrics) from the shipped checkpoint, or from ``path``."""
    if path is None:
        with resources.as_file(resources.files("vlacourse") / "data" / CHECKPOINT) as shipped:
            return load_course_vlm(shipped, device)
    metadata = read_metadata(path, f"make it again with `python -m vlacourse.vlm.course_vlm train --out {path}`")
    tensors = {k: v.float() for k, v in load_file(str(path)).items()}
    vit, text, gpt = (json.loads(metadata[k]) for k in ("vit", "text", "gpt"))
    siglip = SigLIP(ViTConfig(**vit), GPTConfig(**text))
    siglip.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("siglip.")})
    vlm = VLM(ViTConfig(**vit), GPTConfig(**gpt))
    vlm.vision.load_state_dict(siglip.image_tower.state_dict())
    missing = vlm.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("vlm.")}, strict=False)
    assert set(missing.missing_keys) <= {k for k in vlm.state_dict() if k.startswith(("vision.", "gpt.lm_head"))}
    tokenizer = BPETokenizer([tuple(m) for m in json.loads(metadata["merges"])])
    return siglip.to(device).eval(), vlm.to(device).eval(), tokenizer, json.loads(metadata["metrics"])


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.vlm.course_vlm", "the course VLM")
    commands.add("train", "train the course VLM from scratch and write its checkpoint", CHECKPOINT).add_argument(
        "--seed", type=int, default=0
    )
    args = commands.parse(argv)
    start = time.perf_counter()
    # The prefix first (a minute): its losses ship with the checkpoint, for make test to rerun against.
    prefix = train_course_vlm(Recipe(seed=args.seed), progress=not args.quiet, stop_after=PREFIX_STEPS)[3]
    recipe = Recipe(seed=args.seed)
    siglip, vlm, tokenizer, metrics = train_course_vlm(recipe, progress=not args.quiet)
    save_course_vlm(args.out, siglip, vlm, tokenizer, recipe, metrics | prefix)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
