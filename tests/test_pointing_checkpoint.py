"""The shipped pointing VLM: it meets notebook 02's numbers, and `python -m vlacourse.vlm.pointing train` makes it
again.

`make test` re-measures the shipped weights on the recipe's held-out scenes and reruns the recipe's first steps
against the losses the checkpoint recorded; `make reproduce ARTIFACT=pointing` runs the whole recipe (about 45
minutes on two CPU cores).
"""

import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses, retrain_and_compare
from vlacourse.vlm.pointing import (
    PointingBatches,
    PointingRecipe,
    PointingVLM,
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
