"""The planner's curves (``python -m vlacourse.hierarchy.planning curves``): CLIPort's measures of issue 25 from the
recording, and each run's first losses rerun."""

import json
from dataclasses import asdict, replace

import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses
from vlacourse.hierarchy.planning import (
    CURVE_RUNS,
    TASKS,
    PlannerRecipe,
    load_recorded_curves,
    planner_runs,
    record_curves,
    success_rate,
    train_planner,
)


@pytest.fixture(scope="module")
def recorded():
    return load_recorded_curves()


def recipe_of(name: str) -> PlannerRecipe:
    streams, demonstrations = CURVE_RUNS[name]
    return replace(PlannerRecipe(), streams=streams, demonstrations=demonstrations)


def test_every_run_was_recorded_by_its_recipe(recorded):
    assert set(recorded["runs"]) == set(CURVE_RUNS), "record the missing runs: make reproduce ARTIFACT=curves"
    for name, metrics in recorded["runs"].items():
        assert metrics["recipe"] == asdict(recipe_of(name)), f"{name} was made by another recipe"
        for task in TASKS:
            assert len(metrics[f"{task}_outcomes"]) == PlannerRecipe.eval_episodes
            assert len(metrics[f"{task}_heldout_outcomes"]) == PlannerRecipe.heldout_episodes


def test_both_streams_beat_the_spatial_stream_on_held_out_pairs():
    """Issue 25's bar: more success than the spatial-only stream on held-out colour/task combinations."""
    runs = planner_runs()
    heldout = {
        name: sum(sum(runs[name][f"{t}_heldout_outcomes"]) for t in TASKS) for name in ("two@100", "spatial@100")
    }
    assert heldout["two@100"] > heldout["spatial@100"], heldout


def test_success_grows_with_the_demonstrations():
    runs = planner_runs()
    for task in TASKS:
        rates = [success_rate(runs[f"two@{n}"][f"{task}_outcomes"]) for n in (1, 10, 100)]
        assert rates == sorted(rates), (task, rates)


@pytest.mark.parametrize("name", list(CURVE_RUNS))
def test_each_runs_first_steps_give_the_losses_it_recorded(recorded, name):
    history = train_planner(recipe_of(name), progress=False, stop_after=CHECKED_STEPS)[1]
    assert_same_losses(
        history.losses, recorded["runs"][name]["prefix_losses"][:CHECKED_STEPS], "record again: make reproduce"
    )


def test_a_run_kept_by_another_recipe_is_refused(tmp_path):
    (tmp_path / "two@1.json").write_text(json.dumps({"made_by": {"recipe": {"steps": 1}}, "result": {}}))
    with pytest.raises(ValueError, match="another recipe"):
        record_curves(["two@1"], progress=False, runs_dir=tmp_path)


@pytest.mark.reproduce
def test_the_curves_command_reproduces_the_recording(recorded, tmp_path):
    """``make reproduce ARTIFACT=curves``: every run again."""
    import subprocess
    import sys

    out = tmp_path / "curves.json"
    command = [sys.executable, "-m", "vlacourse.hierarchy.planning", "curves", "--out", str(out), "--quiet"]
    subprocess.run(command, check=True)
    for name, metrics in load_recorded_curves(out)["runs"].items():
        assert_same_losses(metrics["prefix_losses"], recorded["runs"][name]["prefix_losses"])
        for key, outcome in recorded["runs"][name].items():
            if key.endswith("outcomes"):
                assert abs(success_rate(metrics[key]) - success_rate(outcome)) <= 0.1, (name, key)
