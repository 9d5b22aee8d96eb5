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
# # 00 · Welcome: how does a robot turn words into motion?
#
# *"Put the red block in the bin."* A person hears that sentence, looks at the table and moves.
# A **vision-language-action model (VLA)** does the same: it reads a camera image and an instruction
# and outputs the motor commands of a robot arm. Over the next notebooks you will build one, piece by
# piece, and measure every piece on a simulated arm.
#
# **Who this is for.** You know Python and a little PyTorch, and you want to know how VLAs actually
# work: not the press release, the mechanism. Each notebook answers one question, shows the idea in
# plain words and one figure, runs a small but real implementation from the `vlacourse` package on the
# arm, gives you a widget to move the idea, and ends with exercises.
#
# **How to run it.** In Colab, the first cell installs the package. Locally, `make lab` did. The first
# cell also picks MuJoCo's rendering backend (before MuJoCo is imported), seeds every random generator
# and picks the device: a GPU when there is one, else the CPU. Everything in the course runs on a
# 2-core CPU in at most 3 minutes a notebook.
#
# **In the package:** `vlacourse.course`, `vlacourse.setup_check`, `vlacourse.render` (read them beside this
# notebook).

# %% [markdown]
# ## The map
#
# The course climbs one ladder: a **language model** predicts the next token; a **vision-language
# model** adds an image encoder in front of it; a **VLA** adds actions as output; **VL-JEPA** stops
# predicting tokens and predicts embeddings. VLAs come in three patterns, and each has notebooks of
# its own: a *single system* that maps pixels and words straight to actions, a *dual system* where a
# slow planner talks to a fast controller, and a *hierarchy* where a planner draws an interpretable
# plan (a point, a map, a command) for a policy to execute.

# %%
import matplotlib.pyplot as plt

from vlacourse.course import NOTEBOOKS, draw_course_map

draw_course_map()
plt.show()
# %%
for notebook in NOTEBOOKS:
    print(f"{notebook.stem:<26} {notebook.summary}")

# %% [markdown]
# ## Environment check
#
# The versions below come from what `vlacourse` declares it needs. If a row says `NO`, the line under
# the table says how to fix it.

# %%
from vlacourse.setup_check import print_environment

requirements = print_environment(course)

# %% [markdown]
# ## Rendering a scene
#
# Every VLA in this course looks at the world through MuJoCo's offscreen renderer. A policy sees
# small images (64x64 pixels); people get bigger, prettier ones. Policy images are rendered without
# shadows or multisampling: the policy does not need them, and they cost a lot on a CPU. Let's see how
# much, since a 50 Hz control loop has only 20 ms per step for everything.

# %%
import mujoco

from vlacourse.render import Camera, load_model

model = load_model("welcome_scene")
data = mujoco.MjData(model)
mujoco.mj_forward(model, data)

policy_camera = Camera(model, height=64, width=64, fast=True)  # shadows and multisampling off
pretty_camera = Camera(model, height=64, width=64, fast=False)
display_camera = Camera(model, height=360, width=480, fast=False)

policy_frame = policy_camera.render(data, camera="scene")
fast_ms = policy_camera.ms_per_frame(data, camera="scene")
pretty_ms = pretty_camera.ms_per_frame(data, camera="scene", frames=20)
print(f"64x64 frame, shadows and multisampling off: {fast_ms:6.2f} ms")
print(f"64x64 frame, shadows and multisampling on:  {pretty_ms:6.2f} ms")
print(f"A 50 Hz control step has 20 ms: the policy frame takes {fast_ms / 20:.0%} of it on this machine.")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=[1, 1.6])
axes[0].imshow(policy_frame)
axes[0].set_title("what a policy sees (64x64)")
axes[1].imshow(display_camera.render(data, camera="scene"))
axes[1].set_title("what you see (480x360)")
for ax in axes:
    ax.axis("off")

# %% [markdown]
# ## A widget
#
# Widgets in this course are sliders and menus that redraw a picture. Move the sliders: the camera
# orbits the table and the red block slides. Each move re-renders the scene with MuJoCo. (In Colab,
# widgets appear after the first cell has run; if you see text instead of sliders, rerun the cell.)

# %%
from vlacourse.setup_check import SceneExplorer

explorer = SceneExplorer()
explorer

# %% [markdown]
# ## How the exercises work
#
# Each notebook ends with exercises. An exercise is one cell: you complete a function, and
# `check("name", your_function)` runs the course's tests on it and prints which passed. A failing
# test raises an error with the reason, so a notebook run stops at an unsolved exercise. This is what
# a failure looks like:

# %%
from vlacourse.exercises import ExerciseFailed, check


def forgets_to_normalize(x, low, high):
    return x


try:
    check("normalize_to_unit_range", forgets_to_normalize)
except ExerciseFailed as error:
    print("\nas expected:", error)

# %% [markdown]
# The notebooks in `notebooks/` contain the solutions between `### BEGIN SOLUTION` and
# `### END SOLUTION` lines. Instructors run `make student` to write student versions into `student/`,
# where each solution is replaced by `raise NotImplementedError`.
#
# ### Exercise 0.1: normalise actions to [-1, 1]
#
# Robot actions come in different units (metres, radians, a gripper opening). Before a model sees
# them, each action dimension is mapped so that a chosen *low* value becomes -1 and a *high* value
# becomes +1; values outside are clipped. RT-2's action bins and FAST's compression (notebooks 04 and
# 05) both start this way, with the 1st and 99th percentiles of the training data as low and high.
#
# Write `normalize_to_unit_range(x, low, high)`: `x` has shape `(..., D)` or `(D,)`, and `low`, `high`
# are numbers or arrays of shape `(D,)`. Do not modify `x` in place.

# %%
import numpy as np

from vlacourse.exercises import check


def normalize_to_unit_range(x, low, high):
    ### BEGIN SOLUTION
    return np.clip(2.0 * (x - low) / (high - low) - 1.0, -1.0, 1.0)
    ### END SOLUTION


exercise_result = check("normalize_to_unit_range", normalize_to_unit_range)

# %% [markdown]
# ### Exercise 0.2 (no check): look around
#
# Use the widget to look at the scene from straight above (elevation -89). Which block is closest to
# the bin? Then time `policy_camera.ms_per_frame` at 128x128 and 256x256 (make new `Camera`s): how does
# the cost grow with the number of pixels?
#
# ## What this notebook claims
#
# The last cell checks what this notebook told you, so the course's test run fails if it stops being
# true: every requirement is met, a 64x64 policy frame renders and shows the red block, the widget
# redraws when a slider moves, and the exercise passes. It asserts nothing about speed, which depends on
# the machine: `python -m vlacourse.bench sim` measures it.

# %%
red = (policy_frame[..., 0] > 150) & (policy_frame[..., 1] < 80) & (policy_frame[..., 2] < 80)
before = explorer.view.image.value
explorer.view.set(red_block_x=0.3)

assert all(row.ok for row in requirements), [row for row in requirements if not row.ok]
assert policy_frame.shape == (64, 64, 3) and policy_frame.std() > 10, "the policy frame is blank"
assert red.sum() >= 4, f"the red block should be visible in the policy frame, found {red.sum()} red pixels"
assert explorer.view.image.value != before, "moving the slider did not redraw the scene"
assert exercise_result.ok
print(f"All claims hold: {red.sum()} red pixels in the policy frame, widget redrawn.")
