"""What every notebook does first: rendering backend, seeds, device, Colab's widget manager.

Every notebook starts with the same cell, ``SETUP_CELL`` below (a test checks that they do). In Colab it
installs this package without touching the torch, numpy, ipywidgets, ipykernel or IPython that Colab
ships; everywhere it then calls :func:`setup`, which

1. enables Colab's custom widget manager (third-party widgets need it there),
2. picks MuJoCo's offscreen OpenGL backend and sets ``MUJOCO_GL`` *before* MuJoCo is imported,
   because MuJoCo reads that variable once, at import time,
3. seeds python, numpy and torch, and
4. picks the torch device: CUDA (Colab's GPU), Apple's MPS, or the CPU.

The pieces are separate functions so that scripts and tests can call them one at a time.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import torch

from vlacourse.course import REPO_URL

# The first cell of every notebook. It cannot import the package to install it, so the install lines
# live here as text; `tests/test_notebooks.py` checks every notebook starts with exactly this.
SETUP_CELL = f"""\
# Setup: run this cell first. In Colab it installs the course package; locally `make lab` already did.
import importlib.util
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("vlacourse") is None:
    import importlib.metadata as md
    import pathlib
    import subprocess

    keep = pathlib.Path("/tmp/colab-keep.txt")  # pin what Colab ships so that pip never swaps it out
    shipped = ["torch", "numpy", "ipywidgets", "ipykernel", "ipython"]
    keep.write_text("\\n".join(f"{{p}}=={{md.version(p)}}" for p in shipped))
    package = "vlacourse @ git+{REPO_URL}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", str(keep), package], check=True)
    importlib.invalidate_caches()  # let this running kernel see the new package

from vlacourse.notebook import setup

course = setup(seed=0)"""

GL_BACKENDS = ("egl", "osmesa", "glfw")
DEVICES = ("auto", "cpu", "cuda", "mps")


class SetupError(RuntimeError):
    """The course cannot run as asked here; the message says what to do instead."""


def in_colab() -> bool:
    return "google.colab" in sys.modules


# A tiny offscreen render, run in a fresh process: a backend that fails to load can leave a process
# unable to try another, and MuJoCo fixes its backend at import.
_PROBE = (
    "import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light/></worldbody></mujoco>');"
    "r = mujoco.Renderer(m, 8, 8); r.update_scene(mujoco.MjData(m)); r.render(); r.close()"
)


def gl_backend_works(backend: str) -> bool:
    """True when MuJoCo can render offscreen with this backend on this machine."""
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend if backend != "glfw" else "")
    result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=120)
    return result.returncode == 0


def _prepare_colab_gl() -> None:
    """On a Colab GPU runtime, register NVIDIA's EGL driver, as MuJoCo's own Colab tutorial does."""
    vendor_file = "/usr/share/glvnd/egl_vendor.d/10_nvidia.json"
    if os.path.isdir("/usr/lib64-nvidia") and not os.path.exists(vendor_file):
        os.makedirs(os.path.dirname(vendor_file), exist_ok=True)
        with open(vendor_file, "w") as f:
            f.write('{"file_format_version": "1.0.0", "ICD": {"library_path": "libEGL_nvidia.so.0"}}\n')


def _no_backend_message(tried: list[str]) -> str:
    fix = (
        "In Colab: Runtime > Change runtime type > T4 GPU (EGL), or run `!apt-get -qq install libosmesa6` "
        "and rerun this cell."
        if in_colab()
        else "On Debian/Ubuntu: `sudo apt-get install libegl1` (EGL) or `sudo apt-get install libosmesa6` "
        "(OSMesa, slower); with conda: `conda install -c conda-forge mesalib`. On a desktop with a "
        "screen, setup(gl='glfw') also works. Then restart the kernel and rerun this cell."
    )
    return f"MuJoCo cannot render offscreen here: tried {', '.join(tried)}. {fix}"


def configure_mujoco_gl(gl: str = "auto", works=gl_backend_works) -> str:
    """Choose MuJoCo's OpenGL backend and export it as ``MUJOCO_GL``; return its name.

    ``gl="auto"`` keeps a ``MUJOCO_GL`` the user already set, else takes the first of egl (GPU or
    Mesa, fast) and osmesa (pure software) that can render. ``works`` is the probe, replaceable in tests.
    """
    if gl != "auto" and gl not in GL_BACKENDS:
        raise SetupError(f"Unknown rendering backend gl={gl!r}: choose 'auto' or one of {GL_BACKENDS}.")
    wanted = os.environ.get("MUJOCO_GL") if gl == "auto" else gl
    if "mujoco" in sys.modules:
        current = os.environ.get("MUJOCO_GL")
        if wanted is not None and current is not None and wanted != current:
            raise SetupError(
                f"MuJoCo was already imported with MUJOCO_GL={current!r}, so gl={wanted!r} cannot take "
                "effect. Restart the kernel and run the setup cell before anything imports mujoco."
            )
        if current is not None:
            return current
    if in_colab():
        _prepare_colab_gl()
    candidates = [wanted] if wanted else ["egl", "osmesa"]
    for backend in candidates:
        if works(backend):
            os.environ["MUJOCO_GL"] = backend
            if backend != "glfw":
                os.environ["PYOPENGL_PLATFORM"] = backend  # PyOpenGL must agree with MuJoCo
            return backend
    raise SetupError(_no_backend_message(candidates))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) so that a rerun gives the same numbers."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SetupError(f"seed must be a non-negative int, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.backends.cudnn.benchmark = False  # autotuning picks kernels by timing: not reproducible


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` takes CUDA, then MPS, then the CPU; a named device must exist here."""
    if device not in DEVICES:
        raise SetupError(f"Unknown device {device!r}: choose one of {DEVICES} ('auto' picks the fastest).")
    has = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if device == "auto":
        device = next(name for name in ("cuda", "mps", "cpu") if has[name])
    if not has[device]:
        fix = "Runtime > Change runtime type > T4 GPU" if in_colab() else "a machine with that accelerator"
        raise SetupError(f"device={device!r} is not available here. Use device='auto' or 'cpu', or {fix}.")
    return torch.device(device)


@dataclass(frozen=True)
class Course:
    """What :func:`setup` chose; notebooks pass ``course.device`` to the models they build."""

    seed: int  # the seed every random generator started from
    device: torch.device  # where models train: cuda, mps or cpu
    gl_backend: str  # MuJoCo's offscreen OpenGL backend (egl, osmesa or glfw)
    colab: bool  # running inside Google Colab

    def __str__(self) -> str:
        where = "Colab" if self.colab else "local"
        return f"vlacourse ready ({where}): device={self.device}, MuJoCo GL={self.gl_backend}, seed={self.seed}"


def setup(seed: int = 0, device: str = "auto", gl: str = "auto") -> Course:
    """Prepare a notebook: widgets in Colab, MuJoCo's backend, seeds, device. Prints what it chose."""
    if in_colab():
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
    backend = configure_mujoco_gl(gl)
    seed_everything(seed)
    course = Course(seed=seed, device=pick_device(device), gl_backend=backend, colab=in_colab())
    print(course)
    return course
