"""The flow VLA's recipe on the course VLM that never learned to point: notebook 06's controlled comparison.

`python -m vlacourse.policies.flow baseline` trains the shipped flow VLA's recipe with one change,
``HeadRecipe(pointing=False)``, and records its metrics (no weights ship). `make test` reruns its first steps
against the recorded losses; `make reproduce ARTIFACT=baseline` reruns it all (about 65 minutes).
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import assert_close_metrics, assert_same_prefix
from vlacourse.policies.flow import build_flow_vla, load_course_flow_vla, load_flow_on_course_vlm
from vlacourse.policies.recipe import HeadRecipe

TOLERANCE = {"chunk_error": 0.01, "success": 0.1, "success_fresh_seed": 0.1}


@pytest.fixture(scope="module")
def recorded():
    return load_flow_on_course_vlm()


def test_the_recording_differs_from_the_shipped_recipe_only_in_its_vlm(recorded):
    shipped = load_course_flow_vla().metrics
    assert recorded["made_by"] == "python -m vlacourse.policies.flow baseline"
    assert {**recorded["recipe"], "pointing": True} == shipped["recipe"] and not recorded["recipe"]["pointing"]
    assert recorded["forward_passes_per_chunk"] == 11
    for name in ("success", "success_fresh_seed", "success_heldout"):
        assert 0.0 <= recorded[name] <= 1.0, name
    assert len(recorded["chunk_error"]) == len(shipped["chunk_error"])


def test_the_recipes_first_steps_give_the_recorded_losses(recorded, head_recipe_dataset):
    assert_same_prefix(build_flow_vla, head_recipe_dataset, recorded, HeadRecipe(pointing=False))


@pytest.mark.reproduce
def test_the_baseline_command_reproduces_the_recording(recorded, tmp_path):
    out = tmp_path / "baseline.json"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.policies.flow", "baseline", "--out", str(out), "--quiet"], check=True
    )
    assert_close_metrics(json.loads(out.read_text()), recorded, TOLERANCE)
