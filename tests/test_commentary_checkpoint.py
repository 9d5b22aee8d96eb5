"""The shipped commenting VLA (``python -m vlacourse.hierarchy.lingo train``): issue 25's measurements from its file,
its first episodes rerun and the recipe's first fine-tuning losses."""

import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses
from vlacourse.hierarchy.lingo import (
    CommentaryRecipe,
    commented_episode,
    load_course_commenting_vla,
    train_commenting_vla,
)
from vlacourse.training import PREFIX_STEPS

RERUN_EPISODES = 5


@pytest.fixture(scope="module")
def shipped():
    return load_course_commenting_vla()


def test_the_shipped_commenting_vla_measured_its_words_against_its_actions(shipped):
    metrics = shipped.metrics
    assert CommentaryRecipe(**metrics["recipe"]) == CommentaryRecipe(), "made by another recipe: make reproduce"
    assert len(metrics["episodes"]) == CommentaryRecipe.eval_episodes
    for name in ("consistent_chunks", "flagged_among_failed", "flagged_among_succeeded", "failure_rate_when_flagged"):
        assert 0 <= metrics[name] <= 1, name
    assert metrics["consistent_chunks"] > 0.5, "most of what it says agrees with what it does"


def test_its_first_episodes_go_as_recorded(shipped):
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.evaluate import evaluation_seed

    env = TabletopEnv("pick_place")
    for episode in range(RERUN_EPISODES):
        rerun = commented_episode(shipped, env, evaluation_seed(CommentaryRecipe.seed, episode))
        assert rerun == shipped.metrics["episodes"][episode], episode


def test_the_recipes_first_steps_give_the_losses_it_recorded(shipped):
    recorded = shipped.metrics["prefix_losses"]
    assert len(recorded) == PREFIX_STEPS
    _, metrics = train_commenting_vla(CommentaryRecipe(), progress=False, stop_after=CHECKED_STEPS)
    assert_same_losses(metrics["prefix_losses"], recorded[:CHECKED_STEPS], "retrain and ship: make reproduce")


@pytest.mark.reproduce
def test_the_train_command_reproduces_the_shipped_commenting_vla(shipped, tmp_path):
    """``make reproduce ARTIFACT=commentary``: the whole recipe again."""
    import subprocess
    import sys

    out = tmp_path / "commenting_vla.safetensors"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.hierarchy.lingo", "train", "--out", str(out), "--quiet"], check=True
    )
    metrics = load_course_commenting_vla(out).metrics
    assert_same_losses(metrics["prefix_losses"], shipped.metrics["prefix_losses"])
    for name in ("success", "consistent_chunks"):
        assert abs(metrics[name] - shipped.metrics[name]) <= 0.1, name
