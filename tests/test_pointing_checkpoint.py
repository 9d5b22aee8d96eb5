"""The shipped pointing VLMs: the one of notebook 02 meets its numbers, and `python -m vlacourse.vlm.pointing train`
makes it again; the one co-trained on captions and questions (`... train-answering`, notebook 07's) still answers
them and points as well.

`make test` re-measures the shipped weights on the recipe's held-out scenes and reruns the recipe's first steps
against the losses the checkpoint recorded; `make reproduce ARTIFACT=pointing` (`ARTIFACT=answering`) runs the
whole recipe (about 45 minutes on two CPU cores; 65 with the questions).
"""

from dataclasses import asdict

import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses, retrain_and_compare
from vlacourse.vlm.pointing import (
    ANSWERING,
    QUESTION_SCENES,
    PointingBatches,
    PointingRecipe,
    PointingVLM,
    answering_accuracy,
    load_course_pointing_vlm,
    pointing_error,
    train_pointing,
)

TOLERANCE = {"scene_px_median": 0.15, "wrist_px_median": 0.3, "in_view_right": 0.02}


@pytest.fixture(scope="module")
def shipped():
    return load_course_pointing_vlm()


def test_shipped_metrics_meet_the_notebooks_claims(shipped):
    assert isinstance(shipped, PointingVLM)
    assert shipped.metrics["scene_cm_median"] < 1.0 and shipped.metrics["in_view_right"] > 0.9


def test_shipped_weights_measure_what_their_metadata_says(shipped):
    from vlacourse.sim.cameras import PointingScenes

    recipe = PointingRecipe()
    heldout = PointingBatches(
        PointingScenes(recipe.heldout_scenes, recipe.seed + 1), recipe.batch_size, recipe.seed + 1
    )
    now = pointing_error(shipped, heldout, recipe.heldout_scenes)
    for name in ("scene_px_median", "wrist_px_median", "scene_cm_median", "in_view_right"):
        assert now[name] == pytest.approx(shipped.metrics[name], abs=1e-3), name


def test_the_recipes_first_steps_give_the_losses_the_checkpoint_recorded(shipped):
    history = train_pointing(PointingRecipe(), progress=False, stop_after=CHECKED_STEPS)[1]
    assert_same_losses(history.losses, shipped.metrics["prefix_losses"][:CHECKED_STEPS])


@pytest.mark.reproduce
def test_the_train_command_reproduces_the_shipped_checkpoint(shipped, tmp_path):
    retrain_and_compare("vlacourse.vlm.pointing", load_course_pointing_vlm, shipped, TOLERANCE, tmp_path)


# The VLM that points and still answers, on which notebook 07's runs are built.


@pytest.fixture(scope="module")
def answering():
    return load_course_pointing_vlm(answering=True)


def test_the_answering_vlm_points_as_well_and_answers_as_the_course_vlm_did(answering, shipped):
    from vlacourse.vlm.course_vlm import load_course_vlm

    assert answering.metrics["recipe"] == asdict(ANSWERING)
    assert answering.metrics["scene_cm_median"] < 1.0 and answering.metrics["in_view_right"] > 0.9
    course_vlm_answers = load_course_vlm()[3]["vqa_accuracy"]
    assert answering.metrics["question_accuracy"] >= 0.95 * course_vlm_answers


def test_the_answering_vlms_weights_answer_as_their_metadata_says(answering):
    from vlacourse.vlm.course_vlm import Recipe

    scenes = Recipe(seed=ANSWERING.seed).heldout(QUESTION_SCENES, progress=False)
    assert answering_accuracy(answering, scenes) == pytest.approx(answering.metrics["question_accuracy"], abs=1e-3)


def test_the_answering_recipes_first_steps_give_the_losses_the_checkpoint_recorded(answering):
    history = train_pointing(ANSWERING, progress=False, stop_after=CHECKED_STEPS)[1]
    assert_same_losses(history.losses, answering.metrics["prefix_losses"][:CHECKED_STEPS])


@pytest.mark.reproduce
def test_the_train_answering_command_reproduces_the_shipped_checkpoint(answering, tmp_path):
    retrain_and_compare(
        "vlacourse.vlm.pointing",
        lambda path: load_course_pointing_vlm(path, answering=True),
        answering,
        TOLERANCE | {"question_accuracy": 0.03},
        tmp_path,
        command="train-answering",
    )
