# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %%
# Setup: run this cell first. In Colab it installs the course package; locally `make lab` already did.
import importlib.util
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("vlacourse") is None:
    import importlib.metadata as md
    import pathlib
    import subprocess

    keep = pathlib.Path("/tmp/colab-keep.txt")  # pin what Colab ships so that pip never swaps it out
    shipped = ["torch", "numpy", "ipywidgets", "ipykernel", "ipython"]
    keep.write_text("\n".join(f"{p}=={md.version(p)}" for p in shipped))
    package = "vlacourse @ git+https://github.com/vla-course/vla-course"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", str(keep), package], check=True)
    importlib.invalidate_caches()  # let this running kernel see the new package

from vlacourse.notebook import setup

course = setup(seed=0)

# %% [markdown]
# # 02 · VLM: giving the language model eyes
#
# The GPT of notebook 01 had read thousands of sentences about the tabletop, yet it could not say which
# block was in the bin: it had never seen a table. A **vision-language model** (VLM) fixes that with
# an idea that turns out to be simple: turn the image into a sequence of vectors, put them in front of
# the text, and let the language model read them *as if they were words*.
#
# Three pieces, each trained in its own stage, as LLaVA-style models are built:
#
# 1. a **vision encoder** (a ViT) that cuts the image into patches and turns each into a token;
# 2. **contrastive alignment** (SigLIP): teach that encoder what the words mean, by matching images
#    with their captions;
# 3. a **projector** that maps the image tokens into the GPT's embedding space, trained with the GPT
#    on captions and questions (LLaVA).
#
# The question of this notebook: *does it really see?* We measure it on scenes it has never seen.
#
# **In the package:** `vlacourse.vlm.scenes`, `vlacourse.vlm.vision`, `vlacourse.vlm.course_vlm`,
# `vlacourse.sim.cameras`, `vlacourse.vlm.pointing` (read them beside this notebook).

# %% [markdown]
# ## The scenes: images whose facts we know
#
# The VLM learns from the arm's own world. `vlacourse.vlm.scenes` poses random tabletops (blocks on the
# table, some in the bin, perhaps one in the gripper) and renders them with the policy's 64x64
# camera. Because we posed them, we know every fact exactly, so captions and answers are always right.

# %%
import matplotlib.pyplot as plt

from vlacourse.vlm.course_vlm import Recipe
from vlacourse.vlm.scenes import SceneMaker

maker = SceneMaker(image_size=64)
heldout = Recipe().heldout()  # the 512 scenes the course VLM was measured on: never trained on
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3))
for ax, scene in zip(axes, heldout, strict=False):
    ax.imshow(scene.image)
    ax.set_title(scene.caption().replace(". ", ".\n"), fontsize=7, loc="left")
    ax.axis("off")

# %% [markdown]
# ## A Vision Transformer reads patches
#
# A ViT (Dosovitskiy et al. 2021) cuts the 64x64 image into 8x8-pixel patches: 64 patches, each
# flattened and mapped by one linear layer to a 128-dimensional token. A learned position embedding says
# where each patch was; then the same transformer blocks as the GPT run over the 64 tokens, without a
# causal mask (every patch may look at every other). The blocks are only 2 to 4 pixels wide here, so a
# block lives inside one or two patches: the model has to notice small things.

# %%
import numpy as np

from vlacourse.vlm.vision import ViTConfig

vit_config = ViTConfig()
p, image = vit_config.patch_size, heldout[0].image
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), width_ratios=[1, 1.6])
left.imshow(image)
left.set_xticks(np.arange(-0.5, 64, p), [])
left.set_yticks(np.arange(-0.5, 64, p), [])
left.grid(color="white", linewidth=0.8)
left.set_title(f"{vit_config.num_patches} patches of {p}x{p} pixels")
strip = [image[r : r + p, c : c + p] for r in range(0, 64, p) for c in range(0, 64, p)][24:40]
right.imshow(np.concatenate([np.pad(t, ((1, 1), (1, 1), (0, 0)), constant_values=255) for t in strip], axis=1))
right.set_title("patches 24 to 39: the tokens of rows 4 and 5, in reading order")
right.axis("off")
plt.show()
# %% [markdown]
# ## Contrastive alignment: SigLIP
#
# A ViT trained from scratch knows nothing about "red" or "in the bin". SigLIP (Zhai et al. 2023)
# teaches it with pairs: an image tower and a text tower each map their input to a unit vector, and for
# every image-caption pair in a batch the model answers *match or not*, with the logit
# `t * <image, text> + b` and a log-sigmoid loss. In a batch of B pairs, B are matches and
# B*(B-1) are not. Unlike CLIP's softmax over the batch, each pair's loss stands alone.
#
# One difference from the paper, measured here and explained in `vlacourse/vlm/vision.py`: SigLIP pools the
# patches by attention and reads the text at one token. At our scale both learned too slowly to tell
# *which* colour is *where*, so each of our towers reads all its tokens at once, with one linear map.
#
# Watch the first steps of that training from scratch. The dashed line is the loss of a model that maps
# everything to the same vector: it knows that few pairs match, and nothing else.

# %%
import math

from vlacourse.training import train
from vlacourse.vlm.course_vlm import caption_batches, caption_retrieval, load_course_vlm
from vlacourse.vlm.vision import SigLIP
from vlacourse.widgets.interactive import LiveLossPlot

# The course checkpoint: its SigLIP and VLM come later; its tokenizer is notebook 01's BPE (512 tokens).
siglip, vlm, tokenizer, shipped_metrics = load_course_vlm(device=course.device)
train_scenes = maker.make_many(2000, seed=1)
batch_size = 64
collapsed = math.log(batch_size) - (batch_size - 1) * math.log(1 - 1 / batch_size)
plot = LiveLossPlot("SigLIP from scratch: the first 150 steps", baseline=("all embeddings equal", collapsed))
plot

# %%
siglip_scratch = SigLIP(vit_config, siglip.text_tower.config).to(course.device)  # same shapes, random weights
batches = caption_batches(train_scenes, tokenizer, batch_size, seed=0, device=course.device)
heldout_batches = caption_batches(heldout, tokenizer, batch_size, seed=0, device=course.device)
train(
    siglip_scratch,
    batches,
    steps=150,
    lr=5e-4,
    warmup_steps=Recipe.warmup_steps,
    weight_decay=0.0,
    eval_every=25,
    evaluate=lambda: siglip_scratch(*heldout_batches())[1],
    plot=plot,
)
scratch_retrieval = caption_retrieval(siglip_scratch, tokenizer, heldout)
print(f"after 150 steps: image-to-text top-1 {scratch_retrieval:.0%} among 32 held-out scenes (chance 3%)")

# %% [markdown]
# It learns. The course's checkpoint was trained the same way for 1000 steps of 128 pairs, on 6000
# scenes (`python -m vlacourse.vlm.course_vlm train` reproduces it, in longer than a notebook should take). We
# measure it the same way: for each held-out image, which of 32 captions does it rank first?

# %%
retrieval = caption_retrieval(siglip, tokenizer, heldout)
print(f"course SigLIP: image-to-text top-1 {retrieval:.0%} among 32 held-out scenes (chance {1 / 32:.0%})")

# %%
import torch

from vlacourse.vlm.course_vlm import encode_captions, images_of

group = heldout[:32]
with torch.no_grad():
    image_embeddings = siglip.embed_images(images_of(group, course.device))
    text_embeddings = siglip.embed_texts(
        *(t.to(course.device) for t in encode_captions(tokenizer, [s.caption() for s in group]))
    )
similarity = (image_embeddings @ text_embeddings.T).cpu()
fig, (ax_image, ax_matrix) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[1, 1.4])
ax_matrix.imshow(similarity, cmap="viridis")
ax_matrix.set(xlabel="caption", ylabel="image", title="cosine similarity: the diagonal is the true pairs")
ax_image.imshow(group[5].image)
ax_image.axis("off")
best = similarity[5].topk(3).indices.tolist()


def short(caption):  # "the red block is in the bin. the green ..." -> "red: in bin; green: ..."
    return caption.replace("the ", "").replace(" block is ", ": ").replace(". ", "; ").rstrip(".")


ax_image.set_title(
    "its three best captions (* the true one):\n"
    + "\n".join(f"{'*' if i == 5 else ' '} {similarity[5, i]:+.2f} {short(group[i].caption())}" for i in best),
    fontsize=7,
    loc="left",
    family="monospace",
)
plt.show()
# %% [markdown]
# ## The VLM: image tokens as a prefix (LLaVA)
#
# ```
# image --ViT (from SigLIP, frozen)--> 64 patch tokens --MLP projector--> 64 "image words" --+
# "question: is the red block in the bin? answer:" --token embeddings------------------------+--> GPT --> " yes"
# ```
#
# The projector is a two-layer MLP (LLaVA-1.5's). LLaVA trains in two stages: first **only the
# projector**, on captions, so that the image tokens land where the GPT can read them; then the
# projector and the language model together, on instructions and questions. The loss is next-token
# prediction on the answer only: the image and the question are context.
#
# Stage 1 is quick enough to watch. We take the course VLM's vision encoder and language model, throw
# away its projector, put a fresh one in, and train only that:

# %%
from vlacourse.vlm.course_vlm import VLM, qa_batches, question_accuracy

fresh = VLM(vit_config, vlm.gpt.config).to(course.device)
fresh.load_state_dict({k: v for k, v in vlm.state_dict().items() if not k.startswith("projector.")}, strict=False)
fresh.vision.requires_grad_(False)
fresh.gpt.requires_grad_(False)  # stage 1: only the projector learns
plot = LiveLossPlot("LLaVA stage 1: training only the projector")
plot

# %%
qa = qa_batches(train_scenes, tokenizer, batch_size=32, seed=0, device=course.device)
heldout_qa = qa_batches(heldout, tokenizer, batch_size=64, seed=0, device=course.device)
train(fresh, qa, steps=100, lr=3e-3, eval_every=25, evaluate=lambda: fresh(*heldout_qa())[1], plot=plot)
stage1_accuracy, _ = question_accuracy(fresh, tokenizer, heldout[:128])
print(f"projector alone, 100 steps: {stage1_accuracy:.0%} of questions about held-out scenes answered right")

# %% [markdown]
# Now the course VLM, whose projector and GPT were trained together for longer. Each held-out scene gets
# four questions, one of each kind; the **majority baseline** answers each kind with its most common
# answer ("no", "nothing", "one"...), which is the best a model can do without looking.

# %%
from vlacourse.vlm.course_vlm import answer

accuracy, majority = question_accuracy(vlm, tokenizer, heldout)
print(
    f"course VLM: {accuracy:.1%} correct on {4 * len(heldout)} questions about held-out scenes; "
    f"majority baseline {majority:.1%}"
)

fig, axes = plt.subplots(1, 4, figsize=(12, 3.6))
rng = np.random.default_rng(1)
for ax, scene in zip(axes, heldout[8:12], strict=True):
    lines = []
    for question, truth in scene.questions(rng):
        [said] = answer(vlm, tokenizer, images_of([scene], course.device), question)
        lines.append(f"{question}\n  -> {said} {'(right)' if said == truth else f'(wrong: {truth})'}")
    ax.imshow(scene.image)
    ax.set_title("\n".join(lines), fontsize=6.5, loc="left")
    ax.axis("off")

# %% [markdown]
# ## Where does it look?
#
# When the VLM answers, the last token of the question reads every earlier position: the 64 image
# tokens and the words. Here is how much of its attention goes to each patch, in the last layer,
# averaged over heads (`vlacourse.vlm.course_vlm.attention_to_image` recomputes the weights, because PyTorch's fast
# attention does not return them). Attention is a hint of what the model reads, not a proof of why it
# answered: it is one layer of four.

# %%
from vlacourse.vlm.course_vlm import attention_to_image, question_prompt

scene = next(s for s in heldout if s.held is not None)
question = "what is the gripper holding?"
weights = attention_to_image(
    vlm, torch.from_numpy(scene.image).to(course.device), tokenizer.encode(question_prompt(question))
)
[said] = answer(vlm, tokenizer, images_of([scene], course.device), question)
fig, (ax_scene, ax_map) = plt.subplots(1, 2, figsize=(8, 3.8))
ax_scene.imshow(scene.image)
ax_scene.set_title(f'"{question}" -> "{said}" (truth: the {scene.held} block)', fontsize=9)
ax_map.imshow(scene.image)
ax_map.imshow(weights.cpu(), cmap="magma", alpha=0.6, extent=(-0.5, 63.5, 63.5, -0.5))
ax_map.set_title(f"attention on the image: {weights.sum():.0%} of the total", fontsize=9)
for ax in (ax_scene, ax_map):
    ax.axis("off")

# %% [markdown]
# ## Pointing: where is the red block?
#
# "Is the red block left of the blue one?" is a question about *where*, answered in words. A robot that
# has to grasp the red block needs more: where it is, to about a centimetre, and our 64x64 scene camera
# sees the table at about a pixel per centimetre. The VLMs that real VLAs start from are taught exactly
# this: PaliGemma (pi0's VLM) is pre-trained to detect and to answer referring expressions with location
# tokens, pi0.5 co-trains on object detection, Molmo and Gemini Robotics-ER *point*.
#
# Teaching it costs no robot. A fresh layout, the gripper anywhere above the table, two 64x64 renders:
# about 3 ms (`vlacourse.sim.cameras.PointingScenes`). The label is free, because we know where
# each block is and where each camera is. A pinhole camera at position $c$ with axes $R$ sees a point $p$
# at $(x, y, z) = R^\top (p - c)$, in the image at
#
# $$u = f\,\frac{x}{-z}, \qquad v = -f\,\frac{y}{-z}, \qquad f = \frac{1}{\tan(\text{fovy}/2)},$$
#
# with $u, v \in [-1, 1]$ across the image (`vlacourse.sim.cameras.project`; the wrist camera's pose
# follows the arm's joints). The pointer (`vlacourse.vlm.vision.Pointer`) reads the GPT's hidden state at the
# last token of an instruction such as "put the red block in the bin" (it has read both images before
# it), makes it a query, scores every patch of each camera against it, and takes the softmax-weighted
# mean of the patch centres, each nudged within its patch: a spatial softmax steered by the words.
# `python -m vlacourse.vlm.pointing train` trains the course VLM this way on 20,000 rendered scenes (about 45
# minutes on two CPU cores); here is the shipped result on 128 scenes it never saw.

# %%
import textwrap

import numpy as np

from vlacourse.sim.cameras import PointingScenes
from vlacourse.vlm.pointing import PointingBatches, load_course_pointing_vlm, pointing_error

pointing_vlm = load_course_pointing_vlm(device=course.device)
fresh = PointingBatches(PointingScenes(128, seed=7), batch_size=4, seed=7, device=course.device)
pointed = pointing_error(pointing_vlm, fresh, frames=128)
print(f"trained on {pointing_vlm.metrics['recipe']['scenes']:,} rendered scenes; on 128 new ones, every block named:")
print(
    f"  scene camera: median error {pointed['scene_px_median']:.2f} px, {pointed['scene_cm_median']:.2f} cm on "
    f"the table (90% within {pointed['scene_px_p90']:.1f} px, {pointed['scene_cm_p90']:.1f} cm)"
)
print(
    f"  wrist camera, when the block is in its view: median {pointed['wrist_px_median']:.2f} px "
    f"(90% within {pointed['wrist_px_p90']:.1f} px); in view or not, called right {pointed['in_view_right']:.0%}"
)

examples = fresh.batch_at(np.arange(4), np.array([0, 1, 2, 3]))
with torch.no_grad():
    said = pointing_vlm.pointing_of(examples)
points, in_view_said = said.points.cpu().numpy(), (said.visible_logits > 0).cpu().numpy()
fig, axes = plt.subplots(2, 4, figsize=(10, 5.6))
for i in range(4):
    for row, camera in enumerate(("scene", "wrist")):
        ax = axes[row, i]
        ax.imshow(examples[f"observation.images.{camera}"][i].cpu())
        u, v, in_view = examples["pointing"][i, row].tolist()
        if in_view:
            ax.plot((u + 1) * 32 - 0.5, (v + 1) * 32 - 0.5, "o", mfc="none", mec="white", ms=10)
        if in_view_said[i, row]:
            ax.plot((points[i, row, 0] + 1) * 32 - 0.5, (points[i, row, 1] + 1) * 32 - 0.5, "x", color="black", ms=8)
        ax.set_xlim(-0.5, 63.5), ax.set_ylim(63.5, -0.5), ax.axis("off")
    axes[0, i].set_title(textwrap.fill(f'"{examples["task"][i]}"', 28), fontsize=8)
axes[0, 0].text(-4, 32, "scene", rotation=90, va="center", ha="right")
axes[1, 0].text(-4, 32, "wrist", rotation=90, va="center", ha="right")
fig.suptitle(
    "x: where the VLM points; o: where the named block is (neither: it says, rightly, out of view)", fontsize=9
)

# %% [markdown]
# ## Why a VLM still cannot act
#
# It sees, it answers in words and it points. But an arm needs four numbers fifty times a second, and this model
# has no word for "move 2 cm left". Notebook 04 adds that vocabulary: action tokens, learned from the
# demonstrations of notebook 03. Everything else (the ViT, the projector, the GPT) stays as built here.
#
# ## Exercises
#
# ### Exercise 2.1: SigLIP's sigmoid loss
#
# Write `sigmoid_loss(x, y, t, b)` for unit image embeddings `x` (B, D) and text embeddings `y` (B, D):
# the mean over the B images of the sum over all B texts of `-log sigmoid(z * (t * <x_i, y_j> + b))`,
# with `z = 1` when `i == j` (a true pair) and `-1` otherwise. No loop needed.

# %%
import torch
import torch.nn.functional as F

from vlacourse.exercises import check


def sigmoid_loss(x, y, t, b):
    ### BEGIN SOLUTION
    logits = t * x @ y.T + b
    labels = 2 * torch.eye(len(x)) - 1
    return -F.logsigmoid(labels * logits).sum() / len(x)
    ### END SOLUTION


loss_check = check("sigmoid_loss", sigmoid_loss)

# %% [markdown]
# ### Exercise 2.2: a prefix attention mask
#
# Our VLM reads the image causally like text, as LLaVA does. PaliGemma, the VLM inside pi0, lets the
# image tokens see each other both ways (a *prefix-LM* mask): write `prefix_attention_mask(N, T)`, a
# `(N + T, N + T)` bool tensor, `True` where query row `i` may attend to key column `j`. The first `N`
# positions are image tokens (they see every image token, no text); the next `T` are text tokens (they
# see the whole image, and the text causally). Notebook 06 builds pi0's mask on the same idea.

# %%
import torch

from vlacourse.exercises import check


def prefix_attention_mask(N, T):
    ### BEGIN SOLUTION
    mask = torch.ones(N + T, N + T, dtype=torch.bool).tril()
    mask[:N, :N] = True
    return mask
    ### END SOLUTION


mask_check = check("prefix_attention_mask", prefix_attention_mask)

# %% [markdown]
# ### Exercise 2.3 (no check): what does it get wrong?
#
# Use `vlacourse.vlm.scenes.question_kind` to split the held-out accuracy by kind of question. Which kind is
# hardest, and why might that be, given 64x64 images and 8x8 patches? Then look at the retrieval
# matrix above: which captions does it confuse?
#
# ## What this notebook claims

# %%
assert retrieval >= 0.80, f"image-to-text retrieval {retrieval:.0%} is below 80% (chance {1 / 32:.0%})"
assert accuracy >= 0.85, f"the VLM answers {accuracy:.0%} of held-out questions, below 85%"
assert accuracy >= majority + 0.30, f"{accuracy:.0%} is not 30 points above the majority baseline {majority:.0%}"
assert scratch_retrieval > 3 / 32, "150 steps of SigLIP should already beat chance clearly"
assert pointed["scene_cm_median"] < 1.0, f"the VLM points {pointed['scene_cm_median']:.1f} cm off (median)"
assert pointed["in_view_right"] > 0.9, f"in the wrist's view or not: right {pointed['in_view_right']:.0%}"
assert loss_check.ok and mask_check.ok
print(
    f"All claims hold: retrieval {retrieval:.0%} (chance 3%); answers {accuracy:.0%} against a "
    f"majority baseline of {majority:.0%}; it points {pointed['scene_cm_median']:.1f} cm from the named block."
)
