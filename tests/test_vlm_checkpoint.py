"""The shipped course VLM: it meets notebook 02's numbers, and `python -m vlacourse.vlm.course_vlm train` makes it
again.

The second test runs the whole recipe (about 15 minutes on two CPU cores): it is what tells us that the
package data is what the package's own command produces, not weights that nobody can reproduce.
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import assert_same_losses
from vlacourse.training import PREFIX_STEPS
from vlacourse.vlm.course_vlm import Recipe, caption_retrieval, load_course_vlm, question_accuracy, train_course_vlm

# Notebook 02's claims: retrieval among 32 held-out scenes, answers against the majority baseline.
RETRIEVAL_AT_LEAST, ACCURACY_AT_LEAST, POINTS_ABOVE_MAJORITY = 0.80, 0.85, 0.30
# Another machine or library version changes the float arithmetic, so a rerun's numbers may move a bit.
TOLERANCE = 0.03


# The VLM stage starts from the language stage's 50-step model: on another CPU it inherits that stage's drift
# (2% at its first step, 1% in its mean, seen on an AVX2 host against a record made on another).
STAGE_TOLERANCES = {"vlm": {"tolerance": 5e-2, "mean_tolerance": 3e-2}}


@pytest.fixture(scope="module")
def shipped():
    return load_course_vlm()


@pytest.fixture(scope="module")
def heldout():
    return Recipe().heldout(progress=False)


def test_shipped_metrics_meet_the_notebooks_claims(shipped):
    metrics = shipped[3]
    assert metrics["retrieval_top1"] >= RETRIEVAL_AT_LEAST, metrics
    assert metrics["vqa_accuracy"] >= ACCURACY_AT_LEAST, metrics
    assert metrics["vqa_accuracy"] >= metrics["vqa_majority"] + POINTS_ABOVE_MAJORITY, metrics


def test_shipped_weights_measure_what_their_metadata_says(shipped, heldout):
    siglip, vlm, tokenizer, metrics = shipped
    assert abs(caption_retrieval(siglip, tokenizer, heldout) - metrics["retrieval_top1"]) <= 0.01
    accuracy, majority = question_accuracy(vlm, tokenizer, heldout)
    assert abs(accuracy - metrics["vqa_accuracy"]) <= 0.01 and majority == pytest.approx(metrics["vqa_majority"])


def test_each_stages_first_steps_give_the_losses_the_checkpoint_recorded(shipped):
    recorded = shipped[3]["prefix_losses"]
    losses = train_course_vlm(Recipe(), progress=False, stop_after=PREFIX_STEPS)[3]["prefix_losses"]
    assert set(losses) == set(recorded) == {"language", "siglip", "vlm"}
    for stage, curve in losses.items():
        assert len(curve) == PREFIX_STEPS
        assert_same_losses(
            curve,
            recorded[stage],
            f"stage {stage}: the recipe's first steps no longer give the shipped run's losses (make reproduce)",
            **STAGE_TOLERANCES.get(stage, {}),
        )


@pytest.mark.reproduce
def test_the_train_command_reproduces_the_shipped_checkpoint(shipped, tmp_path):
    out = tmp_path / "course_vlm.safetensors"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.vlm.course_vlm", "train", "--out", str(out), "--quiet"], check=True
    )
    _, _, tokenizer, metrics = load_course_vlm(out)
    assert tokenizer.merges == shipped[2].merges
    prefix, shipped_prefix = metrics.pop("prefix_losses"), shipped[3]["prefix_losses"]
    for stage, curve in prefix.items():
        assert_same_losses(curve, shipped_prefix[stage], stage, **STAGE_TOLERANCES.get(stage, {}))
    for name, value in metrics.items():
        assert abs(value - shipped[3][name]) <= TOLERANCE, f"{name}: {value:.3f} now, {shipped[3][name]:.3f} shipped"
    print(json.dumps(metrics))
