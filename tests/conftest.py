"""Choose MuJoCo's rendering backend once, before any test imports mujoco (as a notebook's setup does)."""

from pathlib import Path

from vlacourse.notebook import configure_mujoco_gl

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

configure_mujoco_gl()
