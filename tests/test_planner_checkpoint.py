"""The shipped planner (``python -m vlacourse.hierarchy.planning train``): issue 25's numbers from its file, its
first evaluation episodes and the recipe's first losses rerun."""

import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses
from vlacourse.hierarchy.planning import PlannerRecipe, load_course_planner, outcomes, success_rate, train_planner
from vlacourse.training import PREFIX_STEPS

RERUN_EPISODES = 10  # of each task's evaluation episodes, rerun: a change to the view, the planner or the primitives


@pytest.fixture(scope="module")
def shipped():
    return load_course_planner()


def test_the_shipped_planner_meets_the_issues_bars(shipped):
    metrics = shipped[2]
    assert PlannerRecipe(**metrics["recipe"]) == PlannerRecipe(), "made by another recipe: make reproduce"
    assert len(metrics["pick_place_outcomes"]) == PlannerRecipe.eval_episodes
    assert success_rate(metrics["pick_place_outcomes"]) >= 0.9 and success_rate(metrics["stack_outcomes"]) >= 0.8


def test_the_shipped_planner_acts_on_its_first_episodes_as_recorded(shipped):
    planner, tokenizer, metrics = shipped
    for task in ("pick_place", "stack"):
        assert outcomes(planner, tokenizer, task, RERUN_EPISODES) == metrics[f"{task}_outcomes"][:RERUN_EPISODES], task


def test_the_recipes_first_steps_give_the_losses_the_planner_recorded(shipped):
    recorded = shipped[2]["prefix_losses"]
    assert len(recorded) == PREFIX_STEPS
    history = train_planner(PlannerRecipe(), progress=False, stop_after=CHECKED_STEPS)[1]
    assert_same_losses(history.losses, recorded[:CHECKED_STEPS], "retrain (make reproduce ARTIFACT=planner) and ship")


@pytest.mark.reproduce
def test_the_train_command_reproduces_the_shipped_planner(shipped, tmp_path):
    """``make reproduce ARTIFACT=planner``: the whole recipe again."""
    import subprocess
    import sys

    out = tmp_path / "planner.safetensors"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.hierarchy.planning", "train", "--out", str(out), "--quiet"], check=True
    )
    metrics = load_course_planner(out)[2]
    assert_same_losses(metrics["prefix_losses"], shipped[2]["prefix_losses"])
    for name, outcome in shipped[2].items():
        if name.endswith("outcomes"):
            assert abs(success_rate(metrics[name]) - success_rate(outcome)) <= 0.1, name
