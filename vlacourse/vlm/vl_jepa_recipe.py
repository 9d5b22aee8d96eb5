"""VL-JEPA against a token VLM, from the same parts on the same batches; and the shipped VL-JEPA checkpoint.

    python -m vlacourse.vlm.vl_jepa_recipe train    -> vlacourse/data/course_vl_jepa.safetensors

The paper's controlled comparison (Chen et al. 2025, arXiv 2512.10942: same frozen vision encoder, same data, same
number of samples) at our scale. Both models start from the course's parts:

    X-encoder   the course SigLIP's image tower (notebook 02), frozen, for both
    language    the course GPT after stage 1 (the corpus only; ``course_vlm.train_language_model`` reruns it)
    token VLM   projector + the whole GPT: "question: ... answer:" -> " red\\n", one token per forward pass
    VL-JEPA     projector + the GPT's last two blocks, bidirectional -> embedding; Y-encoder = SigLIP's text side

and train on the same batches, each step 48 captions and questions about the course VLM's 6000 scenes (one camera)
and 16 frames of clear_table streams (both cameras) asked "what is the robot doing?". Measured on the course VLM's
512 held-out scenes and on held-out streams. The frozen encoder's patch tokens are computed once for every image.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from vlacourse.checkpoint import read_metadata
from vlacourse.cli import Commands
from vlacourse.lm.gpt import GPT
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.training import PREFIX_STEPS, round_to_float16, train
from vlacourse.vlm.course_vlm import (
    VLM,
    Recipe,
    encode_captions,
    encode_examples,
    examples,
    heldout_questions,
    load_course_vlm,
    question_prompt,
    text_after_image,
    train_language_model,
)
from vlacourse.vlm.streams import QUERY, SUBTASK_OF, Stream, film
from vlacourse.vlm.vision import SigLIP
from vlacourse.vlm.vl_jepa import VLJEPA, NearestText, VLJEPAConfig, count_parameters, same_texts

CHECKPOINT = "course_vl_jepa.safetensors"
CAMERAS = ("scene", "wrist")  # what a stream frame is read from, side by side (a scene has one camera)
STREAM_PROMPT = question_prompt(QUERY)
LOSS_EVERY = 20  # the training losses kept in the checkpoint: every 20th step's
MAX_ANSWER_TOKENS = 12  # the longest answer the token VLM may write (the longest wording is 9 tokens)


@dataclass
class JEPARecipe:
    """Everything that decides the comparison and the shipped checkpoint."""

    seed: int = 0  # seeds the batches and the models' new layers; the streams are filmed from seeds below
    train_streams: int = 60  # clear_table episodes filmed for training (seed 1000 * seed + 11)
    heldout_streams: int = 20  # filmed from seed 1000 * seed + 12, never trained on
    steps: int = 2400
    scene_batch: int = 48  # captions and questions about scenes per step
    stream_batch: int = 16  # stream frames per step
    lr: float = 1e-3
    warmup_steps: int = 100  # then cosine decay
    jepa: VLJEPAConfig = field(default_factory=VLJEPAConfig)

    def streams(self, split: str, count: int | None = None, progress: bool = True) -> list[Stream]:
        """The training or held-out streams, or the first ``count`` of them."""
        every, offset = (self.train_streams, 11) if split == "train" else (self.heldout_streams, 12)
        return film(count or every, seed=1000 * self.seed + offset, progress=progress)


@torch.no_grad()
def encode_frames(x_encoder, cameras: list[np.ndarray], batch: int = 256) -> torch.Tensor:
    """The frozen X-encoder's patch tokens of every frame, cameras side by side: (frames, cameras * patches, C)."""
    parts = []
    for start in range(0, len(cameras[0]), batch):
        images = [torch.from_numpy(c[start : start + batch]) for c in cameras]
        parts.append(torch.cat([x_encoder(i) for i in images], dim=1))
    return torch.cat(parts)


def encode_streams(x_encoder, streams: list[Stream]) -> torch.Tensor:
    """Every frame of the streams, one after the other: (frames, 2 * patches, C), the scene camera's tokens first."""
    return encode_frames(x_encoder, [np.concatenate([getattr(s, camera) for s in streams]) for camera in CAMERAS])


class Batches:
    """The same batches for both models: scene examples (caption or question) and stream frames, seeded."""

    def __init__(self, recipe: JEPARecipe, scene_tokens, scene_examples, stream_tokens, streams: list[Stream]):
        self.recipe, self.rng = recipe, np.random.default_rng(recipe.seed)
        self.scene_tokens, self.scene_examples = scene_tokens, scene_examples
        self.stream_tokens = stream_tokens  # (frames, 2 * patches, C): the streams' frames one after the other
        self.stream_captions = [c for s in streams for c in s.captions]
        self.stream_subtasks = [t for s in streams for t in s.subtasks]
        self.stream_lengths = [len(s) for s in streams]

    def __call__(self) -> list[tuple[torch.Tensor, list[tuple[str, str]]]]:
        """Two parts, each (visual tokens (B, N, C), [(prompt, answer text)]): scenes, then stream frames."""
        scenes = self.rng.choice(len(self.scene_examples), self.recipe.scene_batch, replace=False)
        frames = self.rng.choice(len(self.stream_captions), self.recipe.stream_batch, replace=False)
        chosen = [self.scene_examples[i] for i in scenes]
        return [
            (self.scene_tokens[[i for i, _, _ in chosen]], [(p, t.strip()) for _, p, t in chosen]),
            (self.stream_tokens[frames], [(STREAM_PROMPT, self.stream_captions[i]) for i in frames]),
        ]


def token_vlm_loss(tokenizer: BPETokenizer):
    """Next-token loss on the answers, each part weighted by its share of the batch."""

    def loss(model: VLM, parts):
        total = sum(len(pairs) for _, pairs in parts)
        out = 0.0
        for visual, pairs in parts:
            ids, targets = encode_examples(tokenizer, [(0, p, f" {t}\n") for p, t in pairs])
            out = out + text_after_image(model.gpt, model.projector(visual), ids, targets)[1] * len(pairs) / total
        return out

    return loss


def jepa_loss(tokenizer: BPETokenizer):
    """Bidirectional InfoNCE over the whole batch, scenes and stream frames together."""

    def loss(model: VLJEPA, parts):
        inputs = [(visual, *encode_captions(tokenizer, [p for p, _ in pairs])) for visual, pairs in parts]
        answers = [t for _, pairs in parts for _, t in pairs]
        return model(inputs, *encode_captions(tokenizer, answers), same_texts(answers))[1]

    return loss


@torch.no_grad()
def embed_bank(model: VLJEPA, tokenizer: BPETokenizer, texts: list[str]) -> NearestText:
    ids, lengths = encode_captions(tokenizer, texts)
    return NearestText(texts, model.embed_texts(ids, lengths))


@torch.no_grad()
def predict_texts(model: VLJEPA, tokenizer, visual: torch.Tensor, prompt: str, batch: int = 256) -> torch.Tensor:
    """ŝ_Y (frames, D) for one prompt over many visual inputs: one predictor pass each."""
    query, lengths = encode_captions(tokenizer, [prompt])
    out = []
    for start in range(0, len(visual), batch):
        part = visual[start : start + batch]
        out.append(model.predict(part, query.expand(len(part), -1), lengths.expand(len(part))))
    return torch.cat(out)


def jepa_answers(model: VLJEPA, tokenizer: BPETokenizer, bank: NearestText):
    """VL-JEPA's answers for (visual tokens, prompt): one predictor pass each, decoded to the nearest known answer."""
    return lambda visual, prompt: bank.decode(predict_texts(model, tokenizer, visual, prompt))


@torch.no_grad()
def token_answers(vlm: VLM, tokenizer: BPETokenizer, visual: torch.Tensor, prompt: str, batch: int = 256):
    """The token VLM's greedy answers to ``prompt`` for visual tokens (B, N, C), and the forward passes each took
    (one per token written, the newline that ends it included): (answers, passes)."""
    ids, newline = tokenizer.encode(prompt), tokenizer.encode("\n")[0]
    answers, passes = [], []
    for start in range(0, len(visual), batch):
        for row in vlm.generate_after(vlm.projector(visual[start : start + batch]), ids, MAX_ANSWER_TOKENS, newline):
            answers.append(tokenizer.decode(row).strip())
            passes.append(min(len(row) + 1, MAX_ANSWER_TOKENS))
    return answers, passes


def heldout_correct(answer, scene_tokens: torch.Tensor, scenes) -> list[bool]:
    """Whether ``answer(visual, prompt)`` gets each of the course VLM's held-out questions right
    (``heldout_questions``, in their order), asking each question of all its scenes at once."""
    asked = heldout_questions(scenes)
    correct = [False] * len(asked)
    for question in sorted({q for _, q, _ in asked}):
        group = [k for k, (_, q, _) in enumerate(asked) if q == question]
        said = answer(scene_tokens[[asked[k][0] for k in group]], question_prompt(question))
        for k, s in zip(group, said, strict=True):
            correct[k] = s == asked[k][2]
    return correct


def subtask_decoder(decoder: NearestText):
    """Mean embeddings (segments, D) as a numpy array -> the subtask each decodes to (selective decoding's decode)."""
    return lambda means: subtask_of(decoder.decode(torch.from_numpy(means)))


def subtask_of(texts: list[str]) -> list[str | None]:
    """The subtask each decoded text names (None for a text that names none)."""
    return [SUBTASK_OF.get(t) for t in texts]


@dataclass
class Comparison:
    """What the comparison starts from, made once by ``build``: the course's parts, the batches, and both models
    (``fresh_models`` makes them again, as they were before training)."""

    siglip: SigLIP
    language_model: GPT
    tokenizer: BPETokenizer
    batches: Batches
    jepa: VLJEPA | None = None
    token_vlm: VLM | None = None

    def fresh_models(self, recipe: JEPARecipe) -> None:
        from vlacourse.notebook import seed_everything

        seed_everything(recipe.seed)
        self.jepa = VLJEPA(self.siglip, self.language_model, recipe.jepa)
        self.token_vlm = VLM(self.siglip.image_tower.config, self.language_model.config)
        self.token_vlm.vision.load_state_dict(self.siglip.image_tower.state_dict())
        self.token_vlm.vision.requires_grad_(False)
        self.token_vlm.gpt.load_state_dict(self.language_model.state_dict())


def build(recipe: JEPARecipe, progress: bool = True) -> Comparison:
    """The course's parts and the batches (renders the scenes, films the training streams), and fresh models."""
    from vlacourse.notebook import seed_everything

    course = Recipe()
    siglip, _, _, _ = load_course_vlm()
    seed_everything(course.seed)  # the course VLM's own stage 1, rerun
    language_model, tokenizer, _ = train_language_model(course, progress=progress)
    scenes = course.training_scenes(progress=progress)
    streams = recipe.streams("train", progress=progress)
    scene_tokens = encode_frames(siglip.image_tower, [np.stack([s.image for s in scenes])])
    stream_tokens = encode_streams(siglip.image_tower, streams)
    pool = examples(scenes, np.random.default_rng(recipe.seed))
    batches = Batches(recipe, scene_tokens, pool, stream_tokens, streams)
    comparison = Comparison(siglip, language_model, tokenizer, batches)
    comparison.fresh_models(recipe)
    return comparison


def train_both(recipe: JEPARecipe, comparison: Comparison, progress: bool = True, stop_after: int | None = None):
    """Train the token VLM, then VL-JEPA, each on the same sequence of batches; returns each one's losses."""
    losses = {}
    for name, model, loss, scales in (
        ("token_vlm", comparison.token_vlm, token_vlm_loss(comparison.tokenizer), None),
        ("vl_jepa", comparison.jepa, jepa_loss(comparison.tokenizer), {"y_": recipe.jepa.y_encoder_lr_scale}),
    ):
        comparison.batches.rng = np.random.default_rng(recipe.seed)  # the same batches, in the same order
        history = train(
            model,
            comparison.batches,
            recipe.steps,
            lr=recipe.lr,
            warmup_steps=recipe.warmup_steps,
            cosine=True,
            compute_loss=loss,
            progress=progress,
            stop_after=stop_after,
            lr_scales=scales,
        )
        losses[name] = history.losses
    return losses


def answer_texts(batches: Batches) -> list[str]:
    """The Y-decoder's bank: every answer to a question seen in training, and every wording of a subtask
    (captions are trained on, but a caption is not an answer to any question asked here)."""
    questions = {t.strip() for _, p, t in batches.scene_examples if p != "caption:"}
    return sorted(questions | set(batches.stream_captions) | set(SUBTASK_OF))


@torch.no_grad()
def measure(recipe: JEPARecipe, comparison: Comparison, progress: bool = True) -> dict:
    """Both models on the 512 held-out scenes and the held-out streams; VL-JEPA's selective decoding."""
    from vlacourse.vlm.streams import chosen_threshold, selective_curves

    jepa, vlm, tokenizer = comparison.jepa.eval(), comparison.token_vlm.eval(), comparison.tokenizer
    heldout = Recipe().heldout(progress=progress)
    scene_tokens = encode_frames(jepa.x_encoder, [np.stack([s.image for s in heldout])])
    streams = recipe.streams("heldout", progress=progress)
    stream_tokens = encode_streams(jepa.x_encoder, streams)
    truth = [t for s in streams for t in s.subtasks]
    bank = embed_bank(jepa, tokenizer, answer_texts(comparison.batches))
    passes: list[int] = []

    def token_vlm(visual, prompt):
        answers, used = token_answers(vlm, tokenizer, visual, prompt)
        passes.extend(used)
        return answers

    correct = {
        "token_vlm": heldout_correct(token_vlm, scene_tokens, heldout),
        "vl_jepa": heldout_correct(jepa_answers(jepa, tokenizer, bank), scene_tokens, heldout),
    }
    embeddings = predict_texts(jepa, tokenizer, stream_tokens, STREAM_PROMPT)  # (frames, D): one pass a frame
    bounds = np.cumsum([len(s) for s in streams])[:-1]
    per_stream = np.split(embeddings.numpy(), bounds)
    said = {
        "token_vlm": token_answers(vlm, tokenizer, stream_tokens, STREAM_PROMPT)[0],
        "vl_jepa": bank.decode(embeddings),
    }
    doing = {name: np.split(np.array(subtask_of(t)) == np.array(truth), bounds) for name, t in said.items()}
    # Adaptive decoding's threshold, chosen on the training streams.
    decode, batches = subtask_decoder(bank), comparison.batches
    seen = predict_texts(jepa, tokenizer, batches.stream_tokens, STREAM_PROMPT).numpy()
    seen_bounds = np.cumsum(batches.stream_lengths)[:-1]
    seen_truths = np.split(np.array(batches.stream_subtasks), seen_bounds)
    threshold = chosen_threshold(np.split(seen, seen_bounds), seen_truths, decode)
    return {
        "answers": {name: float(np.mean(c)) for name, c in correct.items()},
        "answers_correct": {name: "".join("1" if c else "0" for c in cs) for name, cs in correct.items()},
        "doing": {name: float(np.mean(np.concatenate(r))) for name, r in doing.items()},
        "doing_per_stream": {name: [float(np.mean(r)) for r in rights] for name, rights in doing.items()},
        "passes_per_answer": {"token_vlm": float(np.mean(passes)), "vl_jepa": 1.0},
        "trainable": {
            "token_vlm": count_parameters(vlm),
            "vl_jepa_predictor": count_parameters(jepa) - sum(p.numel() for p in jepa.y_encoder_parameters()),
            "vl_jepa_y_encoder": sum(p.numel() for p in jepa.y_encoder_parameters()),
        },
        "heldout_streams": len(streams),
        "selective": selective_curves(per_stream, [s.subtasks for s in streams], decode, threshold),
    }


def save(path: Path, comparison: Comparison, recipe: JEPARecipe, bank: list[str], metrics: dict) -> None:
    """VL-JEPA's trained parts and the token VLM's (projector, GPT), in float16; the bank and metrics as metadata."""
    tensors = {f"jepa.{k}": v for k, v in comparison.jepa.state_dict().items() if not k.startswith("x_encoder.")}
    tensors |= {
        f"token_vlm.{k}": v
        for k, v in comparison.token_vlm.state_dict().items()
        if not k.startswith(("vision.", "gpt.lm_head"))
    }
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in tensors.items()}
    metadata = {"recipe": json.dumps(asdict(recipe)), "bank": json.dumps(bank), "metrics": json.dumps(metrics)}
    save_file(tensors, str(path), metadata=metadata)


@dataclass
class Shipped:
    """The shipped comparison: both models, the tokenizer, VL-JEPA's Y-decoder and what was measured."""

    jepa: VLJEPA
    token_vlm: VLM
    tokenizer: BPETokenizer
    decoder: NearestText
    recipe: JEPARecipe
    metrics: dict


def load_vl_jepa(path: str | Path | None = None) -> Shipped:
    """The shipped checkpoint, or the one at ``path``; the X-encoder and the start of both come from the course VLM."""
    if path is None:
        with resources.as_file(resources.files("vlacourse") / "data" / CHECKPOINT) as shipped:
            return load_vl_jepa(shipped)
    metadata = read_metadata(path, f"make it with `python -m vlacourse.vlm.vl_jepa_recipe train --out {path}`")
    recipe_fields = json.loads(metadata["recipe"])
    recipe = JEPARecipe(**{**recipe_fields, "jepa": VLJEPAConfig(**recipe_fields["jepa"])})
    siglip, course_vlm, tokenizer, _ = load_course_vlm()
    tensors = {k: v.float() for k, v in load_file(str(path)).items()}
    jepa = VLJEPA(siglip, GPT(course_vlm.gpt.config), recipe.jepa)
    jepa.load_state_dict(
        {k[5:]: v for k, v in tensors.items() if k.startswith("jepa.")}
        | {f"x_encoder.{k}": v for k, v in siglip.image_tower.state_dict().items()}
    )
    token_vlm = VLM(siglip.image_tower.config, course_vlm.gpt.config)
    token_vlm.vision.load_state_dict(siglip.image_tower.state_dict())
    token_vlm.vision.requires_grad_(False)  # as it trained: its trainable parameters are counted from it
    token_vlm.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("token_vlm.")}, strict=False)
    bank = json.loads(metadata["bank"])
    decoder = embed_bank(jepa.eval(), tokenizer, bank)
    return Shipped(jepa, token_vlm.eval(), tokenizer, decoder, recipe, json.loads(metadata["metrics"]))


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.vlm.vl_jepa_recipe", "VL-JEPA and its token VLM")
    commands.add("train", "train both models on the same batches, measure them, write the checkpoint", CHECKPOINT)
    args = commands.parse(argv)
    start = time.perf_counter()
    recipe = JEPARecipe()
    comparison = build(recipe, progress=not args.quiet)
    prefix = train_both(recipe, comparison, progress=not args.quiet, stop_after=PREFIX_STEPS)
    comparison.fresh_models(recipe)  # the prefix trained these a little
    losses = train_both(recipe, comparison, progress=not args.quiet)
    round_to_float16(comparison.jepa, comparison.token_vlm)  # measure the weights as they ship
    metrics = measure(recipe, comparison, progress=not args.quiet)
    metrics |= {
        "prefix_losses": prefix,
        "loss_curves": {k: v[::LOSS_EVERY] for k, v in losses.items()},
        "train_seconds": time.perf_counter() - start,
    }
    save(args.out, comparison, recipe, answer_texts(comparison.batches), metrics)
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s")
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("selective", "prefix_losses")}, indent=1))
    print(json.dumps({k: v for k, v in metrics["selective"].items() if k not in ("uniform", "adaptive")}, indent=1))


if __name__ == "__main__":
    main()
