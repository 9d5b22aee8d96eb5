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
# # 07 · Knowledge insulation: keep what the VLM knew while it learns to act
#
# Notebook 06 attached a freshly initialised action expert to the course VLM and trained everything with
# the flow-matching loss, as pi0 does. The expert reads the VLM's keys and values at every layer, so its
# loss's gradient flows back through them into the VLM. At the start that gradient comes from random
# weights: it knows nothing about images or words, and it is as large as any other. Driess et al. 2025
# (*Knowledge Insulating Vision-Language-Action Models: Train Fast, Run Fast, Generalize Better*,
# arXiv 2505.23705) found that this slows training and erases what the VLM knew, and proposed
# **knowledge insulation** (KI):
#
# - the expert reads the VLM's keys and values through a **stop-gradient**, so the flow loss trains the
#   expert and nothing else;
# - the VLM keeps learning, with the losses it knows: next-token prediction of the chunk's **FAST
#   tokens** (notebook 05), and of its own **vision-language data** (for us, notebook 02's captions and
#   questions);
# - at inference only the expert runs: the FAST tokens are a training signal, never decoded.
#
# This notebook measures the forgetting, watches it happen, stops it, and shows where every gradient goes.
#
# *A note on the white paper*: it describes KI as "FAST loss updates the VLM (good, preserves web
# knowledge); action expert loss updates only the action expert". The paper also trains the VLM on its
# vision-language data at the same time, and that part matters here: the FAST loss on freshly added
# tokens is itself a large gradient into the VLM (the widget below shows it is the largest of the three
# at the start). The white paper also gives KI "5x training speedup (from-scratch only)", the figure it
# gives for FAST too; we measure our own speed below, in seconds per step and steps to a chunk error.
#
# **In the package:** `vlacourse.policies.insulation`, `vlacourse.widgets.gradient` (read them beside this notebook).

# %% [markdown]
# ## The forgetting, measured
#
# Notebook 06's shipped flow VLA was trained by pi0's recipe: 6000 steps with the flow loss flowing into
# the VLM, which had first learned to point (notebook 02). Each of these models still holds a VLM: give
# its vision encoder, projector and GPT an image and a question in notebook 02's format
# (`insulation.text_vlm` copies them out, with the output cut to text tokens) and ask the questions the
# course VLM answers, on scenes none of them trained on. Besides the course VLM and the flow VLA, ask the
# VLM that points at each stage: trained to point alone (the one the flow VLA started from), and trained
# to point while it kept training on its own captions and questions (`python -m vlacourse.vlm.pointing
# train-answering`).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from vlacourse.policies.flow import load_course_flow_vla
from vlacourse.policies.insulation import text_vlm
from vlacourse.vlm.course_vlm import Recipe, answer, images_of, load_course_vlm, question_accuracy
from vlacourse.vlm.pointing import load_course_pointing_vlm

_, course_vlm, tokenizer, _ = load_course_vlm(device=course.device)
flow_vla = load_course_flow_vla(device=course.device)
heldout = Recipe().heldout(progress=False)[:256]  # the course VLM's held-out scenes
inside_flow_vla = text_vlm(flow_vla)
inside = {
    "course VLM": course_vlm,
    "points (trained alone)": text_vlm(load_course_pointing_vlm(device=course.device)),
    "points (co-trained)": text_vlm(load_course_pointing_vlm(device=course.device, answering=True)),
    "inside the flow VLA": inside_flow_vla,
}
accuracy = {name: question_accuracy(vlm, tokenizer, heldout)[0] for name, vlm in inside.items()}
for name, value in accuracy.items():
    print(f"{name:>22}: {value:.1%} of {4 * len(heldout)} questions answered right")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
rng = np.random.default_rng(3)
for ax, scene in zip(axes, heldout[:3], strict=True):
    lines = []
    for question, truth in scene.questions(rng, count=2):
        image = images_of([scene], course.device)
        [before], [after] = (
            answer(course_vlm, tokenizer, image, question),
            answer(inside_flow_vla, tokenizer, image, question),
        )
        lines.append(f"{question} (truth: {truth})\n  course VLM: {before!r}   flow VLA: {after!r}")
    ax.imshow(scene.image)
    ax.set_title("\n".join(lines), fontsize=6.5, loc="left")
    ax.axis("off")
plt.show()

# %% [markdown]
# Most of the answers were lost before any action was learned: training the VLM to point, and nothing
# else, overwrote them, and pi0's recipe then started from a VLM with little left to lose. The pointer
# co-trained on the course VLM's own captions and questions points as well (RESULTS.md, notebook 02's
# table) and answers nearly as the course VLM does: the remedy this notebook is about, applied one stage
# earlier. `python -m vlacourse.policies.insulation record --recipe on-the-arm` starts the four runs below
# from that co-trained VLM, as notebook 06's flow VLA was trained, and measures their success on the arm as
# they train; the recording this notebook plays back starts them from the course VLM, with 600 steps each.
#
# ## Two switches, four runs
#
# ```
#         FAST tokens of the chunk           captions, questions (notebook 02)
#         next-token loss ^                  next-token loss ^
#                         |                                  |
#     images, words --> VLM: vision encoder, projector, GPT layers 1..4
#                            | keys, values of every layer (the prefix only, never the FAST tokens)
#                            x stop-gradient: the expert reads them, its loss never writes back
#                            v
#     state, noisy chunk, t --> action expert layers 1..4 --> velocity --> flow-matching loss
# ```
#
# `vlacourse.policies.insulation.InsulatedVLA` is notebook 06's flow VLA with two switches. `stop_gradient`: the
# expert reads the VLM's keys and values through `.detach()`. `vlm_losses`: the VLM also trains on the
# chunk's FAST tokens (read after the prefix and a state token, as notebook 05's VLA writes them) and on
# captions and questions. Each setting is one run, all with the same budget (`InsulationRecipe`: 600 steps
# at batch 32 on notebook 03's pick-and-place demonstrations, plus 32 captions and questions per step):
#
# | run | stop-gradient | VLM losses | what trains the VLM |
# |---|---|---|---|
# | naive | no | no | the flow loss alone: pi0's recipe, notebook 06 |
# | joint | no | yes | all three losses |
# | frozen | yes | no | nothing: it stays as it was |
# | insulated | yes | yes | FAST tokens and its own data: knowledge insulation |
#
# First, one batch through the insulated network and through the joint one (the same weights), and the
# norm of the flow loss's gradient on each part's parameters (`insulation.gradient_norms`).

# %%
from vlacourse.policies.insulation import InsulationRecipe, build_insulated_vla, gradient_norms
from vlacourse.policies.policy import ChunkBatches
from vlacourse.sim.dataset import load_or_collect
from vlacourse.vlm.course_vlm import qa_batches
from vlacourse.vlm.scenes import SceneMaker

recipe = InsulationRecipe()
demos = load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=False)
scenes = SceneMaker().make_many(recipe.vqa_scenes, seed=Recipe().seed * 1000 + 1, progress=False)  # its own data
norms = {}
for run in ("joint", "insulated"):
    torch.manual_seed(0)
    policy = build_insulated_vla(demos, run, device=course.device)
    batch = {
        **ChunkBatches(demos, policy.config, 32, seed=0, device=course.device)(),
        "co_training": qa_batches(scenes, tokenizer, 32, seed=0, device=course.device)(),
    }
    torch.manual_seed(1)
    norms[run] = gradient_norms(policy, batch)

parts = [p for p in norms["joint"]["flow"] if not p.startswith("keys")]
fig, ax = plt.subplots(figsize=(11, 3))
x = np.arange(len(parts))
for offset, run in ((-0.2, "joint"), (0.2, "insulated")):
    ax.bar(x + offset, [norms[run]["flow"][p] for p in parts], width=0.4, label=run)
ax.set_xticks(x, parts, rotation=30, ha="right", fontsize=8)
ax.set(ylabel="norm of the flow loss's gradient", title="where the flow loss's gradient goes at step 0")
ax.legend()
plt.show()
vlm_parts = policy.vlm_parts()
flow_into_vlm = {run: max(norms[run]["flow"][p] for p in vlm_parts) for run in norms}
print(
    f"largest flow-loss gradient on a VLM part: joint {flow_into_vlm['joint']:.3g}, "
    f"insulated {flow_into_vlm['insulated']!r} (exactly zero)"
)
print(
    "gradient norms on VLM layer 1 at step 0: "
    + ", ".join(f"{loss} {norms['insulated'][loss]['VLM layer 1']:.3g}" for loss in norms["insulated"])
)

# %% [markdown]
# ## Watch it forget, and not
#
# Now train: the first 50 steps of the naive run (pi0's recipe), live, measuring the question accuracy
# before and after (`insulation.co_train`, the function that made the recorded runs below; the learning
# rate is still warming up). The numbers land on the recording's first 50 steps, which the tests check for
# all four runs. The other runs are in the recording below: the insulated one costs almost twice as much
# per step, more than this notebook's time allows.

# %%
from vlacourse.policies.insulation import co_train, load_recorded_runs

_, live = co_train(InsulationRecipe(eval_episodes=0), "naive", demos, scenes, heldout, steps=50)
recording = load_recorded_runs()
recorded = recording["runs"]["naive"]["vqa_accuracy"][:2]
print(
    f"naive: question accuracy {live['vqa_accuracy'][0]:.1%} -> {live['vqa_accuracy'][1]:.1%} after 50 steps "
    f"(recorded: {recorded[0]:.1%} -> {recorded[1]:.1%}), {live['seconds_per_step']:.2f} s per step"
)

# %% [markdown]
# ## The gradient-blocking widget
#
# The recorded runs, step by step. The two switches pick the run; the loss selector picks whose gradient
# is drawn. Each box is a part of the network coloured by the norm of that loss's gradient on its
# parameters, grey where it is exactly zero; each arrow from an expert layer to a VLM layer is the expert
# reading that layer's keys and values, with the gradient that arrives there written on it. Beside it, the
# question accuracy of the VLM in each run. Things to try: the flow loss with and without the
# stop-gradient; the FAST loss at step 0 against the VQA loss; the naive run's accuracy as you slide.

# %%
from vlacourse.widgets.gradient import gradient_flow_widget

view = gradient_flow_widget(recording)
view

# %% [markdown]
# ## The four runs, side by side
#
# Question accuracy on the 256 held-out scenes (what the VLM still knows), the error of the predicted
# chunks on held-out demonstration frames (how well it acts: `policy.chunk_error`, comparable across runs),
# the steps each run took to bring that error under a threshold, seconds per training step, and success on
# 20 seeded pick-and-place episodes at the end.

# %%
runs = recording["runs"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
for run, measured in runs.items():
    left.plot(measured["measure_steps"], measured["vqa_accuracy"], marker=".", label=run)
    right.plot(measured["eval_steps"], measured["chunk_error"], marker=".", label=run)
start = runs["insulated"]["vqa_accuracy"][0]
left.axhline(0.95 * start, ls="--", color="grey", lw=0.8, label="95% of the start")
left.set(xlabel="training step", ylabel="question accuracy", ylim=(0, 1), title="what the VLM still knows")
right.set(xlabel="training step", ylabel="chunk error (held-out frames)", title="how well it predicts actions")
left.legend(fontsize=8)
right.legend(fontsize=8)
plt.show()

threshold = 0.10


def steps_to(measured, error=threshold):
    reached = [s for s, e in zip(measured["eval_steps"], measured["chunk_error"], strict=True) if e <= error]
    return reached[0] if reached else None


print(f"{'run':>10} | question accuracy | kept | chunk error | steps to {threshold} | s/step | success")
for run, measured in runs.items():
    first, last = measured["vqa_accuracy"][0], measured["vqa_accuracy"][-1]
    print(
        f"{run:>10} | {first:6.1%} -> {last:6.1%}  | {last / first:4.0%} | {measured['chunk_error'][-1]:11.3f} | "
        f"{str(steps_to(measured)):>13} | {measured['seconds_per_step']:6.2f} | {measured['success']:.0%}"
    )

# %% [markdown]
# What the four runs say, at our scale:
#
# - **The forgetting is real and fast.** pi0's recipe (naive) takes the question accuracy from 90.5% to
#   41% in 50 steps and to 5% by the end: the VLM now writes fragments of words where answers were.
# - **Insulation keeps it**: 99% of the start at step 600. But look at its curve: it dips to 69% around
#   step 150 and climbs back. The dip is the FAST loss. Its 1024 tokens are new, randomly initialised
#   rows of the vocabulary; their loss starts near 13 nats and sends the largest gradient of the three
#   into the VLM (the widget at step 0 with the FAST loss: 26 on VLM layer 1, where the flow loss of the
#   naive run sends 2.3). The captions and questions, trained on at the same time, repair the damage as
#   the FAST tokens are learned. Here the VLM's own data is what protects its knowledge, not the FAST loss.
# - **The stop-gradient alone changes little at our scale**: the joint run (all three losses, no
#   stop-gradient) keeps its accuracy too, and dips less. Every step clips the whole gradient to norm 1,
#   and the FAST loss's gradient dominates it, so the flow loss's share of each VLM update is small. The
#   paper's ablations, at 3 billion parameters, find that the stop-gradient matters; our runs cannot
#   separate the two ingredients, so this notebook claims the pair, not the stop-gradient alone.
# - **Acting**: the chunk errors of the frozen, insulated and joint runs end within 0.003 of each other
#   (0.086 to 0.089); the naive run's ends at 0.101 and never reaches 0.10 in 600 steps, where the frozen
#   and insulated runs reach it at step 450: the paper's "naive training is slower", seen here too. The
#   frozen VLM does as well as any: ours was trained on these very scenes, so its features already hold
#   what the arm needs. A VLM trained on web images has to adapt to a robot's views, and the FAST loss is
#   how KI adapts it without letting the expert's gradient in.
# - **Cost**: insulation costs the most per training step (0.84 s, naive 0.48 s, frozen 0.18 s): each
#   step also reads the FAST tokens and 32 captions and questions. Inference is unchanged (below).
# - **Success on the arm** is 0 or 1 of 20 episodes for every run: 600 steps are far too few to grasp
#   (notebook 06's flow VLA needed 400 demonstrations, 6000 steps and a VLM that points to succeed in
#   90 of 100), so success cannot rank the runs at this budget.
#
# ## At inference only the expert runs
#
# An insulated policy acts exactly as notebook 06's flow VLA does: one pass over the prefix, then the
# expert's Euler steps. The FAST tokens trained the VLM; they are never written. (A fresh one shows it:
# what runs at inference does not depend on how long it trained.)

# %%
from vlacourse.policies.policy import actions_per_second
from vlacourse.sim.env import TabletopEnv

observation = TabletopEnv("pick_place").reset(seed=0)[0]
insulated = build_insulated_vla(demos, "insulated", device=course.device).eval()
chunk = insulated.predict_action_chunk(observation)
speed = {
    "insulated": actions_per_second(insulated, observation),
    "flow VLA (notebook 06)": actions_per_second(flow_vla, observation),
}
print(
    f"a chunk of {chunk.shape[0]} actions in {insulated.decoding_steps} forward passes "
    f"(1 prefix + {insulated.config.num_steps} expert steps); FAST vocabulary of {insulated.fast.vocab_size} "
    f"tokens, none decoded"
)
for name, measured in speed.items():
    print(f"{name:>28}: {measured['ms_per_chunk']:.1f} ms per chunk")

# %% [markdown]
# ## Exercises
#
# ### Exercise 7.1: the stop-gradient in the expert's attention
#
# Write `expert_attention(q, prefix_k, prefix_v, own_k, own_v, stop_gradient)`. The expert's queries `q`
# `(B, heads, T, hs)` attend over the VLM's keys and values of the prefix `(B, heads, P, hs)` followed by
# the expert's own `(B, heads, T, hs)` (no mask: every expert token reads all of them). With
# `stop_gradient`, no gradient may reach the VLM's keys and values, and the numbers must not change.
# `torch.nn.functional.scaled_dot_product_attention` does the attention.

# %%
import torch
from torch.nn import functional as F

from vlacourse.exercises import check


def expert_attention(q, prefix_k, prefix_v, own_k, own_v, stop_gradient):
    ### BEGIN SOLUTION
    if stop_gradient:
        prefix_k, prefix_v = prefix_k.detach(), prefix_v.detach()
    keys, values = torch.cat([prefix_k, own_k], dim=2), torch.cat([prefix_v, own_v], dim=2)  # (B, nh, P + T, hs)
    return F.scaled_dot_product_attention(q, keys, values)
    ### END SOLUTION


attention_check = check("expert_attention", expert_attention)

# %% [markdown]
# ### Exercise 7.2: which loss trains which side
#
# Write `which_parts_learn(stop_gradient, vlm_losses)`: for the run with those two switches, a dict from
# each loss the run trains with (`"flow"`, and `"fast"` and `"vqa"` when `vlm_losses`) to the set of sides
# whose parameters its gradient reaches, `"VLM"` and/or `"expert"`. Think before you run: the check
# builds each of the four networks and asks autograd. (A frozen VLM's parameters do not train at all.)

# %%
from vlacourse.exercises import check


def which_parts_learn(stop_gradient, vlm_losses):
    ### BEGIN SOLUTION
    learns = {"flow": {"expert"} if stop_gradient else {"VLM", "expert"}}
    if vlm_losses:
        learns |= {"fast": {"VLM"}, "vqa": {"VLM"}}
    return learns
    ### END SOLUTION


sides_check = check("which_parts_learn", which_parts_learn)

# %% [markdown]
# ### Exercise 7.3 (no check): insulation without the VLM's own data
#
# Add a fifth run to `vlacourse.policies.insulation.RUNS`: the stop-gradient and the FAST loss, without the
# captions and questions (set `vqa_weight=0`, or leave `co_training` out). Does the FAST loss alone keep
# what the VLM knew? Slide the widget to step 0 with the FAST loss selected before you guess.
#
# ## What this notebook claims
#
# The shipped flow VLA, trained by pi0's recipe, has lost most of the course VLM's question answering, and
# so had the VLM that points it started from, while the pointer co-trained on questions answers at least 95% as
# often as the course VLM;
# with the stop-gradient the flow loss sends exactly zero gradient into the VLM (and without it, some);
# in the recorded runs the insulated VLM keeps at least 95% of its question accuracy while the naive one
# keeps visibly less, and the insulated policy succeeds on the arm at least as often as the naive one;
# the naive run's first 50 steps, live, reproduce the recording; at inference the insulated policy takes
# the flow VLA's 11 forward passes per chunk; both exercises pass.

# %%
start = runs["insulated"]["vqa_accuracy"][0]
assert accuracy["inside the flow VLA"] < 0.5 * accuracy["course VLM"], accuracy
assert accuracy["points (trained alone)"] < 0.5 * accuracy["course VLM"], accuracy
assert accuracy["points (co-trained)"] >= 0.95 * accuracy["course VLM"], accuracy
assert flow_into_vlm["insulated"] == 0.0 and flow_into_vlm["joint"] > 0, flow_into_vlm
assert runs["insulated"]["vqa_accuracy"][-1] >= 0.95 * start
assert runs["naive"]["vqa_accuracy"][-1] < 0.95 * start - 0.1
assert runs["insulated"]["success"] >= runs["naive"]["success"]
assert abs(live["vqa_accuracy"][1] - runs["naive"]["vqa_accuracy"][1]) <= 2 / 1024, live
assert insulated.decoding_steps == 1 + insulated.config.num_steps
assert attention_check.ok and sides_check.ok
print(
    f"All claims hold: the insulated VLM keeps {runs['insulated']['vqa_accuracy'][-1] / start:.0%} of its "
    f"question accuracy, the naive one {runs['naive']['vqa_accuracy'][-1] / start:.0%}."
)
