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
