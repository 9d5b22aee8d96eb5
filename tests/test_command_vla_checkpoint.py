"""The shipped command VLA (``python -m vlacourse.hierarchy.navila train``): issue 25's numbers from its file, its
first demonstrations collected again and its first episodes rerun with each low level."""

import pytest

from vlacourse.hierarchy.navila import (
    CommandRecipe,
    collect_command_demos,
    commanded_episodes,
    load_course_command_vla,
    success_of,
)

RERUN_EPISODES = 5  # of each low level's evaluation episodes


@pytest.fixture(scope="module")
def shipped():
    return load_course_command_vla()


def test_the_shipped_command_vla_meets_the_issues_bars(shipped):
    metrics, recipe = shipped.metrics, CommandRecipe()
    assert CommandRecipe(**metrics["recipe"]) == recipe, "made by another recipe: make reproduce ARTIFACT=command_vla"
    for style, bar in ((recipe.style, 0.8), (recipe.other_style, 0.7)):
        episodes = metrics[f"episodes_{style}"]
        assert len(episodes) == recipe.eval_episodes and success_of(episodes) >= bar, style


def test_the_demonstrations_begin_with_the_commands_it_learned_from(shipped):
    recipe = CommandRecipe()
    demos = collect_command_demos(recipe.task, 2, recipe.seed, recipe.noise, recipe.style)
    recorded = shipped.metrics["first_commands"]
    assert demos.commands[: len(recorded)] == recorded[: len(demos.commands)], "the oracle or the noise changed"


def test_its_first_episodes_go_as_recorded_with_each_low_level(shipped):
    recipe = CommandRecipe()
    for style in (recipe.style, recipe.other_style):
        rerun = commanded_episodes(shipped, recipe.task, RERUN_EPISODES, style)
        assert rerun == shipped.metrics[f"episodes_{style}"][:RERUN_EPISODES], style


@pytest.mark.reproduce
def test_the_train_command_reproduces_the_shipped_command_vla(shipped, tmp_path):
    """``make reproduce ARTIFACT=command_vla``: the whole recipe again."""
    import subprocess
    import sys

    out = tmp_path / "command_vla.safetensors"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.hierarchy.navila", "train", "--out", str(out), "--quiet"], check=True
    )
    metrics = load_course_command_vla(out).metrics
    assert metrics["first_commands"] == shipped.metrics["first_commands"]
    for style in (CommandRecipe.style, CommandRecipe.other_style):
        key = f"episodes_{style}"
        assert abs(success_of(metrics[key]) - success_of(shipped.metrics[key])) <= 0.1, style
