"""The setup every notebook runs: device choice, seeding, MuJoCo's GL backend, with errors that name the fix."""

import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from vlacourse.notebook import SetupError, configure_mujoco_gl, gl_backend_works, pick_device, seed_everything


def test_auto_device_is_one_that_exists():
    device = pick_device("auto")
    assert device.type in {"cuda", "mps", "cpu"}
    torch.zeros(1, device=device)  # usable


def test_cpu_is_always_available():
    assert pick_device("cpu") == torch.device("cpu")


def test_unknown_device_names_the_choices():
    with pytest.raises(SetupError, match=r"Unknown device 'gpu'.*'auto', 'cpu', 'cuda', 'mps'"):
        pick_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_says_what_to_use_instead():
    with pytest.raises(SetupError, match=r"device='cuda' is not available here\. Use device='auto' or 'cpu'"):
        pick_device("cuda")


def _draws():
    return random.random(), np.random.rand(3).tolist(), torch.randn(3).tolist()


def test_seeding_repeats_every_generator():
    seed_everything(7)
    first = _draws()
    seed_everything(7)
    assert _draws() == first
    seed_everything(8)
    assert _draws() != first


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(SetupError, match="non-negative int"):
        seed_everything(seed)


def test_unknown_gl_backend_names_the_choices():
    with pytest.raises(SetupError, match=r"Unknown rendering backend gl='opengl'.*'egl', 'osmesa', 'glfw'"):
        configure_mujoco_gl("opengl")


def test_no_working_backend_names_the_fix(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.delitem(sys.modules, "mujoco", raising=False)  # as if mujoco were not imported yet
    with pytest.raises(SetupError, match=r"tried egl, osmesa\..*apt-get install libosmesa6"):
        configure_mujoco_gl("auto", works=lambda backend: False)


def test_auto_takes_the_first_backend_that_works(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
    monkeypatch.delitem(sys.modules, "mujoco", raising=False)
    tried = []
    chosen = configure_mujoco_gl("auto", works=lambda backend: tried.append(backend) or backend == "osmesa")
    assert chosen == "osmesa" and tried == ["egl", "osmesa"]
    assert os.environ["MUJOCO_GL"] == "osmesa" and os.environ["PYOPENGL_PLATFORM"] == "osmesa"


def test_egl_renders_on_this_machine():
    # The course's machines render with EGL (COURSE.md); this probes a real offscreen render.
    assert gl_backend_works("egl")


def test_a_backend_cannot_change_after_mujoco_is_imported():
    script = (
        "import os; os.environ['MUJOCO_GL'] = 'egl'; import mujoco\n"
        "from vlacourse.notebook import configure_mujoco_gl, SetupError\n"
        "assert configure_mujoco_gl('auto') == 'egl'\n"
        "try:\n    configure_mujoco_gl('osmesa')\nexcept SetupError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "Restart the kernel and run the setup cell" in out


def test_setup_prints_and_returns_its_choices(capsys):
    from vlacourse.notebook import setup

    course = setup(seed=3, device="cpu")
    assert (course.seed, course.device.type, course.colab) == (3, "cpu", False)
    assert course.gl_backend == os.environ["MUJOCO_GL"]
    assert "device=cpu" in capsys.readouterr().out
