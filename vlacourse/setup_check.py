"""Notebook 00's environment check: installed versions against the package's requirements, and a
widget that re-renders a small MuJoCo scene, so that a learner sees rendering and widgets work here."""

from __future__ import annotations

import importlib.metadata as md
import platform
import re
from dataclasses import dataclass

import ipywidgets as widgets
import mujoco
import numpy as np

from vlacourse.render import Camera, load_model
from vlacourse.widgets.interactive import InteractiveImage


@dataclass(frozen=True)
class Requirement:
    package: str  # distribution name as pip knows it
    required: str  # the version range vlacourse declares
    installed: str | None  # None when missing

    @property
    def ok(self) -> bool:
        return self.installed is not None and _satisfies(self.installed, self.required)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def _satisfies(version: str, spec: str) -> bool:
    """Enough of PEP 440 for our own ranges, which use only >=, < and commas."""
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        op, bound = re.match(r"(>=|<)\s*(.+)", clause).groups()
        if op == ">=" and _version_tuple(version) < _version_tuple(bound):
            return False
        if op == "<" and _version_tuple(version) >= _version_tuple(bound):
            return False
    return True


def requirements() -> list[Requirement]:
    """The runtime requirements vlacourse declares, each with the version installed here."""
    rows = []
    for line in md.requires("vlacourse") or []:
        if "extra ==" in line:
            continue
        name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", line).groups()
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            installed = None
        rows.append(Requirement(name, spec.strip(), installed))
    return rows


def print_environment(course) -> list[Requirement]:
    """Print Python, the course's dependencies and what ``setup`` chose; return the requirement rows."""
    rows = requirements()
    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    print(f"{'package':<12} {'installed':<16} {'required':<12} ok")
    for row in rows:
        print(f"{row.package:<12} {row.installed or 'MISSING':<16} {row.required:<12} {'yes' if row.ok else 'NO'}")
    print(course)
    missing = [r.package for r in rows if not r.ok]
    if missing:
        print(f"Fix: pip install 'vlacourse' again, or `make lab` locally, to get {', '.join(missing)}.")
    return rows


class SceneExplorer:
    """Orbit a camera around notebook 00's table and slide the red block: each move renders a new frame."""

    def __init__(self, height: int = 300, width: int = 400):
        self.model = load_model("welcome_scene")
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        self.camera = Camera(self.model, height, width, fast=False)
        self.red_block_qpos = self.model.jnt_qposadr[self.model.body("red_block").jntadr[0]]
        self.view = InteractiveImage(
            self.draw,
            {
                "azimuth": widgets.FloatSlider(value=90, min=0, max=360, step=5, description="azimuth"),
                "elevation": widgets.FloatSlider(value=-30, min=-89, max=-5, step=1, description="elevation"),
                "red_block_x": widgets.FloatSlider(value=-0.2, min=-0.4, max=0.4, step=0.01, description="red x"),
            },
        )

    def draw(self, azimuth: float, elevation: float, red_block_x: float) -> np.ndarray:
        self.data.qpos[self.red_block_qpos] = red_block_x  # a free joint's qpos starts with x, y, z
        mujoco.mj_forward(self.model, self.data)
        self.camera.orbit(azimuth, elevation, distance=1.3)
        return self.camera.render(self.data)

    def _ipython_display_(self) -> None:
        self.view._ipython_display_()
