"""The shipped FAST VLA: it meets notebook 05's numbers, and `python -m vlacourse.fast_vla train` makes it again.

The last test runs the whole recipe (about 15 minutes on two CPU cores): it is what tells us that the
package data is what the package's own command produces.
"""

import subprocess
import sys

import pytest

from vlacourse.fast_vla import FASTVLA, load_course_fast_vla
from vlacourse.sim.dataset import load_or_collect
from vlacourse.vla import HeadRecipe, forward_passes_per_chunk

# Another machine or library version changes the float arithmetic, so a rerun's numbers may move a bit.
TOLERANCE = {"forward_passes_per_chunk": 1.5, "chunk_error": 0.01}


@pytest.fixture(scope="module")
def shipped():
    return load_course_fast_vla()


@pytest.fixture(scope="module")
def dataset():
    recipe = HeadRecipe()
    return load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=False)


def test_shipped_metrics_meet_the_notebooks_claims(shipped):
    metrics = shipped.metrics
    assert isinstance(shipped, FASTVLA)
    assert metrics["forward_passes_per_chunk"] <= 20, "FAST should take at most half the binning VLA's 40 passes"
    assert metrics["chunk_error"][-1] <= 0.07, metrics["chunk_error"]  # the binning VLA's, same recipe: 0.083


def test_shipped_weights_measure_what_their_metadata_says(shipped, dataset):
    passes = forward_passes_per_chunk(shipped, dataset, HeadRecipe().seed)
    assert passes == pytest.approx(shipped.metrics["forward_passes_per_chunk"], abs=0.5)


def test_the_train_command_reproduces_the_shipped_checkpoint(shipped, tmp_path):
    out = tmp_path / "course_vla_fast.safetensors"
    subprocess.run([sys.executable, "-m", "vlacourse.fast_vla", "train", "--out", str(out), "--quiet"], check=True)
    made = load_course_fast_vla(out)
    assert made.fast.merges == shipped.fast.merges
    for name, tolerance in TOLERANCE.items():
        now, then = made.metrics[name], shipped.metrics[name]
        now, then = (now[-1], then[-1]) if isinstance(now, list) else (now, then)
        assert abs(now - then) <= tolerance, f"{name}: {now:.3f} now, {then:.3f} shipped"
