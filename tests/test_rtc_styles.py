"""Real-time chunking on the flow VLA fine-tuned on three operator styles: the recording and its recipe."""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses
from vlacourse.chunking.rtc import STRATEGIES, SweepRecipe
from vlacourse.chunking.rtc_styles import (
    StylesRecipe,
    fine_tune_on_styles,
    load_styles_sweep,
    mean_sensitivity,
    start_observations,
)
from vlacourse.policies.flow import load_course_flow_vla
from vlacourse.sim.dataset import collect


@pytest.fixture(scope="module")
def recording():
    return load_styles_sweep()


def test_the_suite_takes_the_three_operators_in_turn():
    """The same scenes as pick_place (episode seeds depend on the index only): the steady operator's first
    episode is the same, the quick one's second is shorter and the careful one's third longer."""
    styles, steady = (collect(suite, 3, progress=False) for suite in ("pick_place_styles", "pick_place"))
    lengths = [d.episode_data_index["to"] - d.episode_data_index["from"] for d in (styles, steady)]
    assert np.array_equal(styles.arrays["action"][: lengths[0][0]], steady.arrays["action"][: lengths[1][0]])
    assert lengths[0][1] < lengths[1][1] and lengths[0][2] > lengths[1][2], lengths


def test_the_recording_is_the_recipes(recording):
    assert StylesRecipe(**recording["styles_recipe"]) == StylesRecipe(), "another recipe made it: make reproduce"
    recipe = SweepRecipe(**{k: tuple(v) if k == "delays" else v for k, v in recording["recipe"].items()})
    assert recipe == SweepRecipe(episodes=StylesRecipe().sweep_episodes)
    assert set(recording["results"]) == set(STRATEGIES)
    assert all(len(cells[str(d)]) == recipe.episodes for cells in recording["results"].values() for d in recipe.delays)


def test_the_fine_tunings_first_steps_give_the_recorded_losses(recording):
    history = fine_tune_on_styles(StylesRecipe(), progress=False, stop_after=CHECKED_STEPS)[1]
    assert_same_losses(
        history.losses,
        recording["prefix_losses"][:CHECKED_STEPS],
        "the fine-tuning's first steps no longer give the recorded losses: record again (make reproduce)",
    )


def test_the_shipped_policys_sensitivity_reruns(recording):
    observations = start_observations(StylesRecipe().observations)
    again = mean_sensitivity(load_course_flow_vla(), observations)
    assert again == pytest.approx(recording["sensitivity"]["shipped"], rel=1e-4)


@pytest.mark.reproduce
def test_the_record_command_reproduces_the_recording(recording, tmp_path):
    """``make reproduce ARTIFACT=rtc_styles``: fine-tune, measure, sweep (about 40 minutes on two cores)."""
    out = tmp_path / "rtc_styles_sweep.json"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.chunking.rtc_styles", "record", "--out", str(out), "--quiet"], check=True
    )
    rerun = load_styles_sweep(out)
    assert_same_losses(rerun["prefix_losses"], recording["prefix_losses"])
    assert rerun["sensitivity"]["styles"] == pytest.approx(recording["sensitivity"]["styles"], rel=1e-2)
    for strategy, cells in recording["results"].items():
        for delay, episodes in cells.items():
            rate = sum(e["success"] for e in episodes) / len(episodes)
            again = sum(e["success"] for e in rerun["results"][strategy][delay]) / len(episodes)
            assert abs(again - rate) <= 0.1, (strategy, delay)
