"""The shipped FAST VLA: it meets notebook 05's numbers, and `python -m vlacourse.fast_vla train` makes it again.

The last test runs the whole recipe (about 15 minutes on two CPU cores): it is what tells us that the
package data is what the package's own command produces.
"""

import pytest

from tests.conftest import retrain_and_compare
from vlacourse.fast_vla import FASTVLA, load_course_fast_vla
from vlacourse.vla import HeadRecipe, forward_passes_per_chunk

# Another machine or library version changes the float arithmetic, so a rerun's numbers may move a bit.
TOLERANCE = {"forward_passes_per_chunk": 1.5, "chunk_error": 0.01}


@pytest.fixture(scope="module")
def shipped():
    return load_course_fast_vla()


def test_shipped_metrics_meet_the_notebooks_claims(shipped):
    metrics = shipped.metrics
    assert isinstance(shipped, FASTVLA)
    assert metrics["forward_passes_per_chunk"] <= 20, "FAST should take at most half the binning VLA's 40 passes"
    assert metrics["chunk_error"][-1] <= 0.07, metrics["chunk_error"]  # the binning VLA's, same recipe: 0.083


def test_shipped_weights_measure_what_their_metadata_says(shipped, head_recipe_dataset):
    passes = forward_passes_per_chunk(shipped, head_recipe_dataset, HeadRecipe().seed)
    assert passes == pytest.approx(shipped.metrics["forward_passes_per_chunk"], abs=0.5)


def test_the_train_command_reproduces_the_shipped_checkpoint(shipped, tmp_path):
    made = retrain_and_compare("vlacourse.fast_vla", load_course_fast_vla, shipped, TOLERANCE, tmp_path)
    assert made.fast.merges == shipped.fast.merges
