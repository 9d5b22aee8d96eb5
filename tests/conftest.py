"""Choose MuJoCo's rendering backend once, before any test imports mujoco (as a notebook's setup does),
and the fixtures the policy tests share."""

from pathlib import Path

import pytest

from vlacourse.notebook import configure_mujoco_gl

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

configure_mujoco_gl()


@pytest.fixture(scope="session")
def dataset():
    """Eight short-suite demonstrations (each task twice); a module that needs other data overrides this."""
    from vlacourse.sim.dataset import collect

    return collect("short", episodes=8, seed=3, progress=False)


@pytest.fixture(scope="session")
def observation():
    """What a pick-and-place environment hands a policy at the start of an episode."""
    from vlacourse.sim.env import TabletopEnv

    return TabletopEnv("pick_place").reset(seed=1)[0]


@pytest.fixture(scope="session")
def head_recipe_dataset():
    """The demonstrations the shipped binning, FAST and flow VLAs were trained on (``vla.HeadRecipe``), collected once,
    then read from the cache."""
    from vlacourse.sim.dataset import load_or_collect
    from vlacourse.vla import HeadRecipe

    recipe = HeadRecipe()
    return load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=False, workers=2)


# A rerun's losses on this machine match the record to many digits; another machine's float arithmetic
# drifts a little over the steps, where a change to the code path moves them by far more.
PREFIX_TOLERANCE = 1e-3


def assert_same_chunk_error(shipped, dataset):
    """Re-measure a shipped VLA's chunk error on the held-out frames its training measured it on."""
    from vlacourse.policy import CHUNK_ERROR_FRAMES, chunk_error, validation_frames
    from vlacourse.vla import HeadRecipe

    validation = validation_frames(dataset, shipped.config, HeadRecipe().seed)
    frames = {key: value[:CHUNK_ERROR_FRAMES] for key, value in validation.items()}
    assert chunk_error(shipped, frames) == pytest.approx(shipped.metrics["chunk_error"][-1], abs=1e-3)


def assert_same_prefix(build, dataset, metrics: dict, recipe=None):
    """Train a VLA from ``build`` for the first ``PREFIX_STEPS`` steps of the recipe a shipped run recorded in
    its ``metrics`` (``recipe``: the ``vla.HeadRecipe`` it must have been made by, ``HeadRecipe()`` unless
    given), and check each step's loss against the losses its whole run had there."""
    from vlacourse.training import PREFIX_STEPS
    from vlacourse.vla import HeadRecipe, train_by_recipe

    recipe = HeadRecipe() if recipe is None else recipe
    # A file made before a field was added to the recipe was made by its default.
    assert HeadRecipe(**metrics["recipe"]) == recipe, "the shipped VLA was made by another recipe: make reproduce"
    recorded = metrics["prefix_losses"]
    history = train_by_recipe(build, dataset, recipe, progress=False, stop_after=PREFIX_STEPS)[1]
    assert len(recorded) == PREFIX_STEPS
    assert history.losses == pytest.approx(recorded, rel=PREFIX_TOLERANCE), (
        "the recipe's first steps no longer give the shipped run's losses: retrain (make reproduce) and ship"
    )


def assert_close_metrics(now: dict, then: dict, tolerance: dict[str, float]):
    """A rerun's ``now`` against the shipped ``then``: the same first losses, and each metric named in
    ``tolerance`` (the last value of a curve) within it: float arithmetic may differ a little from the
    machine that made the shipped file."""
    assert now["prefix_losses"] == pytest.approx(then["prefix_losses"], rel=PREFIX_TOLERANCE)
    for name, allowed in tolerance.items():
        rerun, shipped = now[name], then[name]
        rerun, shipped = (rerun[-1], shipped[-1]) if isinstance(rerun, list) else (rerun, shipped)
        assert abs(rerun - shipped) <= allowed, f"{name}: {rerun:.3f} now, {shipped:.3f} shipped"


def retrain_and_compare(module: str, load, shipped, tolerance: dict[str, float], tmp_path):
    """Run ``python -m <module> train`` into ``tmp_path``, load its output with ``load`` and compare its
    metrics with the shipped file's (``assert_close_metrics``). Returns the retrained policy."""
    import subprocess
    import sys

    out = tmp_path / "retrained.safetensors"
    subprocess.run([sys.executable, "-m", module, "train", "--out", str(out), "--quiet"], check=True)
    made = load(out)
    assert_close_metrics(made.metrics, shipped.metrics, tolerance)
    return made
