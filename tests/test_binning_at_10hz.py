"""The binning VLA's recipe at 10 Hz: notebook 04's run of the FAST paper's experiment for bins.

`python -m vlacourse.policies.binning_vla 10hz` trains ``binning_vla.AT_10_HZ``, the shipped binning VLA's
recipe with chunks of 2 actions each held for 5 control steps (the same 0.2 s per chunk, 8 tokens instead of
40), and records its metrics (no weights ship). `make test` reruns its first steps against the recorded losses;
`make reproduce ARTIFACT=binning10hz` reruns it all.
"""

import json
import subprocess
import sys
from dataclasses import asdict

import pytest

from tests.conftest import assert_close_metrics, assert_same_prefix
from vlacourse.policies.binning_vla import AT_10_HZ, build_vla, load_binning_at_10hz, load_course_vla
from vlacourse.policies.recipe import HeadRecipe

TOLERANCE = {"chunk_error": 0.01, "success": 0.1, "success_fresh_seed": 0.1}


@pytest.fixture(scope="module")
def recorded():
    return load_binning_at_10hz()


def test_the_recording_differs_from_the_shipped_recipe_only_in_its_rate(recorded):
    shipped = load_course_vla().metrics
    assert recorded["made_by"] == "python -m vlacourse.policies.binning_vla 10hz"
    assert recorded["recipe"] == asdict(AT_10_HZ)
    assert HeadRecipe(**shipped["recipe"]) == HeadRecipe(**{**recorded["recipe"], "chunk_size": 10, "action_repeat": 1})
    assert AT_10_HZ.chunk_size * AT_10_HZ.action_repeat == 10, "a chunk spans the shipped VLA's 0.2 s"
    assert recorded["forward_passes_per_chunk"] == AT_10_HZ.chunk_size * 4, "one pass per bin token"
    for name in ("success", "success_fresh_seed", "success_heldout"):
        assert 0.0 <= recorded[name] <= 1.0, name
    assert len(recorded["chunk_error"]) == len(shipped["chunk_error"])


def test_the_recipes_first_steps_give_the_recorded_losses(recorded, head_recipe_dataset):
    assert_same_prefix(build_vla, head_recipe_dataset, recorded, AT_10_HZ)


@pytest.mark.reproduce
def test_the_10hz_command_reproduces_the_recording(recorded, tmp_path):
    out = tmp_path / "binning_at_10hz.json"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.policies.binning_vla", "10hz", "--out", str(out), "--quiet"],
        check=True,
    )
    assert_close_metrics(json.loads(out.read_text()), recorded, TOLERANCE)
