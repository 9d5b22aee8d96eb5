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
    """The demonstrations the shipped binning, FAST and flow VLAs were trained on (``recipe.HeadRecipe``),
    collected once, then read from the cache."""
    from vlacourse.policies.recipe import HeadRecipe
    from vlacourse.sim.dataset import load_or_collect

    recipe = HeadRecipe()
    return load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=False, workers=2)


# A rerun's losses on this machine match the record to many digits. Another machine's CPU (AVX2 or AVX-512
# kernels) sums in another order: the last bits differ, and training amplifies them once the loss turns noisy,
# seen as 4% at one step of the language stage's 20th. A change to the data, the initialisation, the loss or the
# optimiser moves the first steps by far more than 1e-3, so those are held tightly and the rest by their mean.
PREFIX_TOLERANCE = 1e-3
EXACT_STEPS = 10
PREFIX_MEAN_TOLERANCE = 1e-2
# `make test` reruns the first 20 of the PREFIX_STEPS (50) losses a shipped run recorded: a change to the code
# path shows from the first steps, and the other 30 cost minutes on two cores. (The VLM's stages rerun all 50:
# each starts from the one before.)
CHECKED_STEPS = 20


def assert_same_losses(
    rerun: list[float],
    recorded: list[float],
    message: str = "",
    tolerance: float = PREFIX_TOLERANCE,
    mean_tolerance: float = PREFIX_MEAN_TOLERANCE,
):
    """A rerun's first training losses against a record of them: the first ``EXACT_STEPS`` within
    ``tolerance`` each, the whole curve's mean within ``mean_tolerance``."""
    assert len(rerun) == len(recorded), message
    assert rerun[:EXACT_STEPS] == pytest.approx(recorded[:EXACT_STEPS], rel=tolerance), message
    mean = sum(rerun) / len(rerun)
    assert mean == pytest.approx(sum(recorded) / len(recorded), rel=mean_tolerance), message


def assert_same_chunk_error(shipped, dataset):
    """Re-measure a shipped VLA's chunk error on the held-out frames its training measured it on."""
    from vlacourse.policies.policy import CHUNK_ERROR_FRAMES, chunk_error, validation_frames
    from vlacourse.policies.recipe import HeadRecipe

    validation = validation_frames(dataset, shipped.config, HeadRecipe().seed)
    frames = {key: value[:CHUNK_ERROR_FRAMES] for key, value in validation.items()}
    assert chunk_error(shipped, frames) == pytest.approx(shipped.metrics["chunk_error"][-1], abs=1e-3)


def assert_same_prefix(build, dataset, metrics: dict, recipe=None):
    """Train a VLA from ``build`` for the first ``CHECKED_STEPS`` steps of the recipe a shipped run recorded in
    its ``metrics`` (``recipe``: the ``recipe.HeadRecipe`` it must have been made by, ``HeadRecipe()`` unless
    given), and check its losses against those its whole run had there."""
    from vlacourse.policies.recipe import HeadRecipe, train_by_recipe
    from vlacourse.training import PREFIX_STEPS

    recipe = HeadRecipe() if recipe is None else recipe
    # A file made before a field was added to the recipe was made by its default.
    assert HeadRecipe(**metrics["recipe"]) == recipe, "the shipped VLA was made by another recipe: make reproduce"
    recorded = metrics["prefix_losses"]
    history = train_by_recipe(build, dataset, recipe, progress=False, stop_after=CHECKED_STEPS)[1]
    assert len(recorded) == PREFIX_STEPS
    assert_same_losses(
        history.losses,
        recorded[:CHECKED_STEPS],
        "the recipe's first steps no longer give the shipped run's losses: retrain (make reproduce) and ship",
    )


def assert_close_metrics(now: dict, then: dict, tolerance: dict[str, float]):
    """A rerun's ``now`` against the shipped ``then``: the same first losses, and each metric named in
    ``tolerance`` (the last value of a curve) within it: float arithmetic may differ a little from the
    machine that made the shipped file."""
    assert_same_losses(now["prefix_losses"], then["prefix_losses"])
    for name, allowed in tolerance.items():
        rerun, shipped = now[name], then[name]
        rerun, shipped = (rerun[-1], shipped[-1]) if isinstance(rerun, list) else (rerun, shipped)
        assert abs(rerun - shipped) <= allowed, f"{name}: {rerun:.3f} now, {shipped:.3f} shipped"


def retrain_and_compare(module: str, load, shipped, tolerance: dict[str, float], tmp_path, command: str = "train"):
    """Run ``python -m <module> <command>`` into ``tmp_path``, load its output with ``load`` and compare its
    metrics with the shipped file's (``assert_close_metrics``). Returns the retrained policy."""
    import subprocess
    import sys

    out = tmp_path / "retrained.safetensors"
    subprocess.run([sys.executable, "-m", module, command, "--out", str(out), "--quiet"], check=True)
    made = load(out)
    assert_close_metrics(made.metrics, shipped.metrics, tolerance)
    return made
