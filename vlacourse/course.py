"""The course's map: its notebooks in order, where the repository lives, and the arc drawn as a figure.

The README's notebook list and notebook 00's map are both checked against ``NOTEBOOKS`` by the tests,
so this is the one place to add a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# Where the course lives; the notebooks' Colab badges and Colab install point here. A fork changes it
# here and in the README's badges (a test checks that they agree).
REPO = "vla-course/vla-course"
REPO_URL = f"https://github.com/{REPO}"

# Every notebook runs top to bottom within 150 s on the course's 2-core build machine, which leaves a
# margin for Colab's slower CPU, where a learner's budget is 3 minutes; the whole course within 20 minutes.
NOTEBOOK_BUDGET_S = 150
COURSE_BUDGET_S = 20 * 60
TEST_BUDGET_S = 45 * 60  # `make test`, from a fresh clone


@dataclass(frozen=True)
class Notebook:
    number: int  # its place in the arc; the file is notebooks/{number:02d}_{slug}.py
    slug: str  # the file name's topic part
    title: str  # what the README and the course map call it
    summary: str  # one line: what the learner builds and measures
    stage: str  # which part of the arc: setup, LLM, VLM, robot, VLA, VL-JEPA, practice

    @property
    def stem(self) -> str:
        return f"{self.number:02d}_{self.slug}"


NOTEBOOKS = (
    Notebook(
        0,
        "welcome",
        "Welcome and setup check",
        "the course map, an environment check (versions, device, rendering, widgets), how exercises work",
        "setup",
    ),
    Notebook(
        1,
        "llm",
        "LLM",
        "byte-level BPE, a tiny GPT, next-token training, sampling, the cost of decoding with a KV cache",
        "LLM",
    ),
    Notebook(
        2,
        "vlm",
        "VLM",
        "ViT patches, SigLIP-style alignment, a LLaVA-style projector, questions about rendered scenes",
        "VLM",
    ),
    Notebook(
        3,
        "robot",
        "The robot",
        "the MuJoCo arm, its language tasks, the scripted expert, demonstrations and data quality",
        "robot",
    ),
    Notebook(
        4,
        "single_system_vla",
        "Single-system VLA",
        "RT-2/OpenVLA action binning: the VLM fine-tuned to emit action tokens, success in sim",
        "VLA",
    ),
    Notebook(
        5,
        "fast",
        "FAST tokenization",
        "DCT, scale and round, BPE; the DCT compression widget; tokens per chunk against binning",
        "VLA",
    ),
    Notebook(
        6,
        "flow_matching",
        "Flow-matching action expert",
        "a pi0-style expert on the VLM's features, action chunks, 10 Euler steps, the 50 Hz loop",
        "VLA",
    ),
    Notebook(
        7,
        "knowledge_insulation",
        "Knowledge insulation",
        "the forgetting pi0's recipe causes, measured; a stop-gradient, FAST tokens and the VLM's own data; "
        "the gradient-blocking widget",
        "VLA",
    ),
    Notebook(
        8,
        "real_time_chunking",
        "Real-time chunking",
        "naive switching, temporal ensembling, RTC inpainting under delay; the chunk-overlap widget",
        "VLA",
    ),
    Notebook(
        9,
        "dual_system",
        "Dual system",
        "a slow planner splits a long task into subtasks, a fast expert executes, replanning on failure",
        "VLA",
    ),
    Notebook(
        10,
        "hierarchical",
        "Hierarchical control",
        "a CLIPort-style affordance planner, language mid-level commands, explanation with action",
        "VLA",
    ),
    Notebook(
        11,
        "world_model",
        "World model and action",
        "one backbone predicting actions and the next frame: does predicting the future help?",
        "VLA",
    ),
    Notebook(
        12,
        "vl_jepa",
        "VL-JEPA",
        "predicting text embeddings instead of tokens; selective decoding on a streaming camera",
        "VL-JEPA",
    ),
    Notebook(
        13,
        "fine_tuning",
        "Fine-tuning with LoRA",
        "LoRA on a pre-trained course VLA with a few demos of a new task; data quality against quantity",
        "practice",
    ),
    Notebook(
        14,
        "decision_guide",
        "Decision guide",
        "the white paper's comparison table filled with this course's measured numbers",
        "practice",
    ),
)


def colab_url(stem: str) -> str:
    """The address that opens ``notebooks/{stem}.ipynb`` from the repository in Colab."""
    return f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{stem}.ipynb"


def _box(ax, x, y, text, color, w=0.17, h=0.13):
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.01", facecolor=color, edgecolor="0.25", linewidth=1.2
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9, wrap=True)


def _arrow(ax, start, end):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="0.3", linewidth=1.4))


def draw_course_map():
    """The arc LLM -> VLM -> VLA -> VL-JEPA, and the three VLA patterns under VLA, with notebook numbers."""
    fig, ax = plt.subplots(figsize=(10, 4.6))
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="auto")
    ax.axis("off")
    arc = [
        ("LLM\nnb 01", "#cfe2f3"),
        ("VLM\nnb 02", "#d9ead3"),
        ("VLA\nnb 03-11, 13", "#fce5cd"),
        ("VL-JEPA\nnb 12", "#ead1dc"),
    ]
    xs = [0.12, 0.37, 0.62, 0.87]
    for (text, color), x in zip(arc, xs, strict=True):
        _box(ax, x, 0.82, text, color)
    for a, b in pairwise(xs):
        _arrow(ax, (a + 0.09, 0.82), (b - 0.09, 0.82))
    ax.text(0.245, 0.92, "+ vision", ha="center", fontsize=8, color="0.35")
    ax.text(0.495, 0.92, "+ actions", ha="center", fontsize=8, color="0.35")
    ax.text(0.745, 0.92, "predict embeddings", ha="center", fontsize=8, color="0.35")

    patterns = [
        (
            0.18,
            "Single-system\none model: image + text -> actions\nbinning 04, FAST 05, flow 06,\n"
            "insulation 07, real-time chunks 08",
        ),
        (0.51, "Dual-system\nslow planner (System 2, ~1 Hz)\n+ fast expert (System 1, 50 Hz)\nnb 09"),
        (0.84, "Hierarchical\nplanner -> affordance / keypoint\n/ language command -> policy\nnb 10"),
    ]
    for x, text in patterns:
        _box(ax, x, 0.38, text, "#fff2cc", w=0.3, h=0.3)
        _arrow(ax, (0.62, 0.75), (x, 0.54))
    ax.text(
        0.5,
        0.08,
        "00 setup · 03 the robot arm · 11 world model · 13 fine-tuning · 14 decision guide",
        ha="center",
        fontsize=9,
        color="0.3",
    )
    ax.set_title("The course: from language models to vision-language-action models", fontsize=11)
    return fig
