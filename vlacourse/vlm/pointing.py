"""Pointing pre-training: the course VLM learns where the block an instruction names is, from cheap scenes.

Behaviour cloning from 64x64 pixels on a few hundred demonstrations does not learn *where* the named block
is to the centimetre a grasp needs: 400 demonstrations are 400 layouts. A fresh layout seen by both cameras
costs a reset and two renders (``vlacourse.sim.cameras``), no robot: tens of thousands cost a minute. This
is, in miniature, why VLAs start from VLMs trained on far more images than robot data, and why the VLMs they
start from point: PaliGemma (pi0's VLM; Beyer et al. 2024, sec. 3.2) is pre-trained on detection and
referring expressions answered with location tokens, pi0.5 (Physical Intelligence 2025, sec. IV) co-trains on
object detection, Molmo and MolmoAct point, and embodied chain of thought (Zawalski et al. 2024) has the VLA
write the objects' boxes before its actions.

    scene, wrist images --ViT--projector--+
    "instruction: put the red block in the bin" --+--> GPT --> last hidden --Pointer--> (u, v) per camera
                                                                                  (+ in view or not)

Pre-training (``train_pointing``): the VLM's ViT, projector and GPT and a ``vision.Pointer`` learn, on
rendered scenes with the gripper anywhere above the table, to point at the block each instruction names in
both images; the instructions are the course's tasks' (all but the held-out combinations) and the question
"where is the {colour} block". A VLA built on the result (``PolicyConfig.point_weight``) points before it
acts, hands the point on as a token, and keeps learning to point on its demonstrations' frames.

Where ours differs: PaliGemma writes 1024 location bins as tokens; ours regresses the point, which our data
learns several times faster (notebook 04), and the VLA reads it as a token all the same.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vlacourse.cli import Commands
from vlacourse.policies.policy import POINTING_KEY, TASK_KEY, PolicyConfig, load_policy
from vlacourse.policies.vlm_prefix import VLMPolicy
from vlacourse.sim.cameras import PointingScenes
from vlacourse.training import PREFIX_STEPS, History, train
from vlacourse.vlm.course_vlm import Recipe, load_course_vlm, qa_batches, question_accuracy
from vlacourse.vlm.vision import Pointing, pixel_distance, pointing_loss

CHECKPOINT = "course_pointing_vlm.safetensors"
ANSWERING_CHECKPOINT = "course_answering_pointing_vlm.safetensors"  # co-trained on captions and questions
QUESTION = "where is the {color} block"


class PointingVLM(VLMPolicy):
    """The course VLM with a pointer and no actions: its loss is the pointer's, plus its own captions and
    questions' where the batch brings them (``co_training``); saved and loaded as a policy."""

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        loss, parts = pointing_loss(self.pointing_of(batch), batch[POINTING_KEY], self.config.cameras)
        if "co_training" not in batch:
            return loss, parts
        vqa = self.vqa_loss(*batch["co_training"])
        return loss + vqa, parts | {"vqa": vqa.item()}

    def pointing_of(self, batch: dict[str, Any]) -> Pointing:
        """Where it points in a batch's images, at the block each of its instructions names."""
        patches = [self.vision(image) for image in self.images_of(batch)]  # each (B, 64, C_vit)
        return self.point(patches, self.instruction_ids(batch[TASK_KEY]))[1]


def pointing_instructions() -> list[list[str]]:
    """Per block (in ``tasks.COLORS`` order), every instruction that names it first: each task's templates with
    every zone and other block, but none of the held-out (task, colour) combinations, and ``QUESTION``."""
    from vlacourse.sim.tasks import COLORS, HELD_OUT, TEMPLATES, ZONES

    per_block = []
    for color in COLORS:
        texts = {QUESTION.format(color=color)}
        for task, templates in TEMPLATES.items():
            if (task, color) in HELD_OUT or task == "clear_table":
                continue
            for template in templates:
                texts |= {
                    template.format(color=color, zone=zone, other=other)
                    for zone in ZONES
                    for other in COLORS
                    if other != color
                }
        per_block.append(sorted(texts))
    return per_block


class PointingBatches:
    """Random (scene, named block, instruction) triples of pointing scenes, with where that block appears."""

    def __init__(self, scenes: PointingScenes, batch_size: int, seed: int, device: str | torch.device = "cpu"):
        self.rng, self.batch_size, self.device = np.random.default_rng(seed), batch_size, device
        self.scenes = scenes
        self.instructions = pointing_instructions()

    def __len__(self) -> int:
        return len(self.scenes)

    def batch_at(
        self, frames: np.ndarray, blocks: np.ndarray, rng: np.random.Generator | None = None
    ) -> dict[str, Any]:
        """The given scenes, each naming the given block in an instruction drawn by ``rng`` (default: the batches')."""
        rng = rng or self.rng
        arrays = self.scenes.frames(frames)  # rendered the first time they are asked for
        batch = {
            k: torch.from_numpy(v).to(self.device) for k, v in arrays.items() if k.startswith("observation.images.")
        }
        where = self.scenes.pointing_labels(frames)  # (B, 4, 2, 3)
        batch[POINTING_KEY] = torch.from_numpy(where[np.arange(len(frames)), blocks]).to(self.device)  # (B, 2, 3)
        batch[TASK_KEY] = [self.instructions[b][rng.integers(len(self.instructions[b]))] for b in blocks]
        return batch

    def __call__(self) -> dict[str, Any]:
        frames = self.rng.integers(len(self.scenes), size=self.batch_size)
        return self.batch_at(frames, self.rng.integers(len(self.instructions), size=self.batch_size))


@torch.no_grad()
def pointing_error(vlm: PointingVLM, batches: PointingBatches, frames: int = 512) -> dict[str, float]:
    """Over ``frames`` scenes with every block named once: the median and 90th-percentile pointing error in
    pixels of the 64-pixel image, per camera, where the block is in view; the scene camera's also in cm on the
    table (both points traced back to the plane of the blocks' centres); the share of in-view calls right."""
    from vlacourse.sim.arm import Arm
    from vlacourse.sim.cameras import back_project, camera_poses
    from vlacourse.sim.tasks import BLOCK_HALF

    vlm.eval()
    frames, rng = min(frames, len(batches)), np.random.default_rng(0)  # the same instructions every time
    points, targets, calls = [], [], []
    for start in range(0, frames, 64):
        index = np.arange(start, min(start + 64, frames))
        for block in range(len(batches.instructions)):
            batch = batches.batch_at(index, np.full(len(index), block), rng)
            pointing = vlm.pointing_of(batch)
            points.append(pointing.points)
            targets.append(batch[POINTING_KEY])
            calls.append((pointing.visible_logits > 0) == (targets[-1][..., 2] > 0))
    points, targets = torch.cat(points).cpu(), torch.cat(targets).cpu()  # (M, cameras, 2), (M, cameras, 3)
    out = {"in_view_right": torch.cat(calls).float().mean().item()}
    pixels = pixel_distance(points, targets[..., :2]).numpy()  # (M, cameras)
    for c, camera in enumerate(vlm.config.cameras):
        seen = pixels[targets[:, c, 2].numpy() > 0, c]
        out[f"{camera}_px_median"], out[f"{camera}_px_p90"] = float(np.median(seen)), float(np.percentile(seen, 90))
    camera = camera_poses(Arm())["scene"]
    on_table = [back_project(uv.numpy(), BLOCK_HALF, *camera)[:, :2] for uv in (points[:, 0], targets[:, 0, :2])]
    cm = np.linalg.norm(on_table[0] - on_table[1], axis=-1) * 100
    out["scene_cm_median"], out["scene_cm_p90"] = float(np.median(cm)), float(np.percentile(cm, 90))
    return out


@dataclass
class PointingRecipe:
    """Everything that decides the pointing VLM."""

    seed: int = 0  # seeds the scenes, the training and the instructions drawn
    scenes: int = 20000  # rendered layouts to learn from (about a minute to render)
    heldout_scenes: int = 512  # others, to measure the pointing error on
    steps: int = 3000
    batch_size: int = 64
    lr: float = 5e-4  # peak learning rate, after a warmup, with cosine decay
    # Captions and questions about the course VLM's own scenes per step, co-trained beside the pointing
    # (0: none). Pointing alone overwrites what the VLM knew: the shipped pointing VLM answers few questions.
    vqa_batch_size: int = 0
    vqa_scenes: int = 2000  # the first of the course VLM's training scenes, the co-training's images


ANSWERING = PointingRecipe(vqa_batch_size=32)  # the VLM that points and still answers (notebook 07)


def build_pointing_vlm(device: str | torch.device = "cpu") -> PointingVLM:
    """The course VLM with a fresh pointer, reading every pointing instruction."""
    _, vlm, tokenizer, _ = load_course_vlm()
    config = PolicyConfig(point_weight=1.0, keypoints=0, locate_weight=0.0)
    return PointingVLM(config, None, vlm, tokenizer, sum(pointing_instructions(), [])).to(device)


def load_course_pointing_vlm(
    path: str | Path | None = None, device: str | torch.device = "cpu", answering: bool = False
) -> PointingVLM:
    """The shipped pointing VLM (made by ``python -m vlacourse.vlm.pointing train``), with ``answering`` the one
    co-trained on captions and questions (``... train-answering``), or the one at ``path``; ``.metrics`` holds
    what it measured on held-out scenes when it was made."""
    if answering:
        return load_policy(path, ANSWERING_CHECKPOINT, "python -m vlacourse.vlm.pointing train-answering", device)
    return load_policy(path, CHECKPOINT, "python -m vlacourse.vlm.pointing train", device)


QUESTION_SCENES = 256  # of the course VLM's held-out scenes: question accuracy is measured here, as in notebook 07


def answering_accuracy(vlm: PointingVLM, scenes: list) -> float:
    """How many of notebook 02's questions about ``scenes`` the VLM inside answers right, asked as notebook 02
    asks them (``insulation.text_vlm``: its vision encoder, projector and GPT)."""
    from vlacourse.policies.insulation import text_vlm

    return question_accuracy(text_vlm(vlm), vlm.tokenizer, scenes)[0]


def train_pointing(
    recipe: PointingRecipe, progress: bool = True, stop_after: int | None = None, device: str | torch.device = "cpu"
) -> tuple[PointingVLM, History, dict]:
    """The pointing VLM trained by the recipe, its history and its error on held-out scenes (seeded; not measured
    when ``stop_after`` cuts the run short)."""
    from vlacourse.notebook import seed_everything

    start = time.perf_counter()
    # The training scenes are drawn here and rendered as the batches first need them (in train_seconds).
    scenes = PointingScenes(recipe.scenes, recipe.seed)
    heldout = PointingBatches(
        PointingScenes(recipe.heldout_scenes, recipe.seed + 1), recipe.batch_size, recipe.seed + 1, device
    )
    validation = heldout.batch_at(np.arange(256) % len(heldout), np.arange(256) % 4)
    if recipe.vqa_batch_size:  # the course VLM's own scenes, as it trained on them
        vqa_scenes = Recipe(seed=recipe.seed).training_scenes(recipe.vqa_scenes, progress)
    render_seconds = time.perf_counter() - start
    seed_everything(recipe.seed)
    vlm = build_pointing_vlm(device)
    batches = PointingBatches(scenes, recipe.batch_size, recipe.seed, device)
    if recipe.vqa_batch_size:
        pointing_batches = batches
        vqa = qa_batches(vqa_scenes, vlm.tokenizer, recipe.vqa_batch_size, recipe.seed + 2, device)

        def batches() -> dict[str, Any]:
            return {**pointing_batches(), "co_training": vqa()}

    history = train(
        vlm,
        batches,
        recipe.steps,
        lr=recipe.lr,
        evaluate=lambda: vlm(validation)[0].item(),
        eval_every=max(1, recipe.steps // 10),
        progress=progress,
        warmup_steps=100,
        cosine=True,
        compute_loss=lambda model, batch: model(batch)[0],
        stop_after=stop_after,
    )
    metrics = {
        "render_seconds": render_seconds,
        "train_seconds": time.perf_counter() - start - render_seconds,
        "prefix_losses": history.losses[:PREFIX_STEPS],
        "eval_steps": history.eval_steps,
        "validation_loss": history.eval_losses,
        "recipe": asdict(recipe),
    }
    if stop_after is None:  # a prefix run is a check of its losses: measuring it would cost more than it told
        metrics |= pointing_error(vlm, heldout, recipe.heldout_scenes)
        if recipe.vqa_batch_size:
            heldout_scenes = Recipe(seed=recipe.seed).heldout(QUESTION_SCENES, progress)
            metrics["question_accuracy"] = answering_accuracy(vlm, heldout_scenes)
    return vlm, history, metrics


def answers_without_co_training(recipe: PointingRecipe) -> dict[str, float]:
    """What co-training is measured against: the shipped pointing VLM (trained alone) asked the same questions."""
    scenes = Recipe(seed=recipe.seed).heldout(QUESTION_SCENES, progress=False)
    return {"pointing_alone_question_accuracy": answering_accuracy(load_course_pointing_vlm(), scenes)}


def main(argv: list[str] | None = None) -> None:
    commands = Commands("python -m vlacourse.vlm.pointing", "pre-train the course VLM to point on rendered scenes")
    for name, help, checkpoint in (
        ("train", "train the pointing VLM and write its checkpoint", CHECKPOINT),
        ("train-answering", "the same, co-trained on captions and questions (notebook 07)", ANSWERING_CHECKPOINT),
    ):
        make = commands.add(name, help, checkpoint)
        make.add_argument("--steps", type=int, default=PointingRecipe.steps)
        make.add_argument("--scenes", type=int, default=PointingRecipe.scenes)
    args = commands.parse(argv)
    recipe = ANSWERING if args.command == "train-answering" else PointingRecipe()
    recipe = replace(recipe, steps=args.steps, scenes=args.scenes)
    vlm, _, metrics = train_pointing(recipe, not args.quiet)
    if recipe.vqa_batch_size:
        metrics |= answers_without_co_training(recipe)
    vlm.save(args.out, metrics)
    print(f"wrote {args.out}")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
