"""Offscreen MuJoCo rendering: small and fast for policies, larger and prettier for people.

Import this after ``vlacourse.notebook.setup()`` (or with ``MUJOCO_GL`` set): MuJoCo picks its
OpenGL backend when it is first imported.

Policy images skip shadows and multisampling and use coarser spheres and capsules: on a 2-core CPU
with EGL a 64x64 frame is then tens of times faster (``python -m vlacourse.bench sim`` times it), and a
policy sees no difference at that size. MuJoCo sizes the shadow map, the multisampled buffer and the
built-in meshes when a renderer's GL context is made, so these settings are applied just for that
moment and the model is left as it was.
"""

from __future__ import annotations

import time
from importlib import resources

import mujoco
import numpy as np

# model.vis.quality for policy images: no shadow map, no multisampling, 10 x 6 facets per round shape.
FAST_QUALITY = {"shadowsize": 0, "offsamples": 0, "numslices": 10, "numstacks": 6}


def load_model(name: str) -> mujoco.MjModel:
    """A model shipped with the package, by file stem: ``load_model("welcome_scene")``."""
    files = resources.files("vlacourse") / "data"
    available = sorted(p.name.removesuffix(".xml") for p in files.iterdir() if p.name.endswith(".xml"))
    if name not in available:
        raise ValueError(f"no model named {name!r} in vlacourse/data: choose one of {available}")
    with resources.as_file(files / f"{name}.xml") as path:
        return mujoco.MjModel.from_xml_path(str(path))


class Camera:
    """Renders RGB frames of a model, from a named camera or from a free camera orbiting a point.

    ``fast=True`` (the default, for policy images) applies ``FAST_QUALITY``.
    """

    def __init__(self, model: mujoco.MjModel, height: int = 64, width: int = 64, fast: bool = True):
        limit = (model.vis.global_.offheight, model.vis.global_.offwidth)
        if not (0 < height <= limit[0] and 0 < width <= limit[1]):
            raise ValueError(
                f"image size {height}x{width} must be positive and within the model's offscreen "
                f"buffer {limit[0]}x{limit[1]}; raise <global offheight/offwidth> in the MJCF"
            )
        self.model = model
        quality = model.vis.quality
        saved = {name: getattr(quality, name) for name in FAST_QUALITY}
        if fast:
            for name, value in FAST_QUALITY.items():
                setattr(quality, name, value)
        try:
            self.renderer = mujoco.Renderer(model, height, width)
        finally:
            for name, value in saved.items():
                setattr(quality, name, value)
        self.free_camera = mujoco.MjvCamera()
        mujoco.mjv_defaultFreeCamera(model, self.free_camera)

    def render(self, data: mujoco.MjData, camera: str | None = None) -> np.ndarray:
        """An (H, W, 3) uint8 frame from the named camera, or from the free camera when ``camera`` is None."""
        if camera is not None and mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
            names = [self.model.camera(i).name for i in range(self.model.ncam)]
            raise ValueError(f"no camera named {camera!r} in this model: choose one of {names} or None")
        self.renderer.update_scene(data, camera=camera if camera is not None else self.free_camera)
        return self.renderer.render()

    def orbit(self, azimuth: float, elevation: float, distance: float, lookat=(0.0, 0.0, 0.4)) -> None:
        """Place the free camera: angles in degrees, ``elevation`` negative to look down."""
        self.free_camera.azimuth, self.free_camera.elevation = azimuth, elevation
        self.free_camera.distance = distance
        self.free_camera.lookat[:] = lookat

    def ms_per_frame(self, data: mujoco.MjData, camera: str | None = None, frames: int = 100) -> float:
        """Average wall time of one frame, after one warm-up frame."""
        self.render(data, camera)
        start = time.perf_counter()
        for _ in range(frames):
            self.render(data, camera)
        return (time.perf_counter() - start) / frames * 1e3
