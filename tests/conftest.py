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
    """The demonstrations the shipped FAST and flow VLAs were trained on (``vla.HeadRecipe``)."""
    from vlacourse.sim.dataset import load_or_collect
    from vlacourse.vla import HeadRecipe

    recipe = HeadRecipe()
    return load_or_collect(recipe.suite, recipe.episodes, recipe.seed, progress=False)


def retrain_and_compare(module: str, load, shipped, tolerance: dict[str, float], tmp_path):
    """Run ``python -m <module> train`` into ``tmp_path``, load its output with ``load`` and check each named
    metric (the last value of a curve) against the shipped file's within ``tolerance``: float arithmetic may
    differ a little from the machine that made the shipped file. Returns the retrained policy."""
    import subprocess
    import sys

    out = tmp_path / "retrained.safetensors"
    subprocess.run([sys.executable, "-m", module, "train", "--out", str(out), "--quiet"], check=True)
    made = load(out)
    for name, allowed in tolerance.items():
        now, then = made.metrics[name], shipped.metrics[name]
        now, then = (now[-1], then[-1]) if isinstance(now, list) else (now, then)
        assert abs(now - then) <= allowed, f"{name}: {now:.3f} now, {then:.3f} shipped"
    return made
