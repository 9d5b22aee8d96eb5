"""Packaging: what the course declares installs into Colab unchanged, conda users get the same
dependencies, the package data ships in the wheel, and CI runs the README's test command."""

import re
import subprocess
import sys
import tomllib
import zipfile

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PYPROJECT["dependencies"]]

# What Colab's runtime ships: the course must accept each as it is, so that installing it there
# upgrades none of them (the same pins `make test-colab` installs).
COLAB = dict(
    line.split("==")
    for line in (ROOT / "tests" / "colab_versions.txt").read_text().splitlines()
    if line and not line.startswith("#")
)
# Conda-forge names that differ from PyPI's.
CONDA_NAMES = {"pytorch": "torch"}


@pytest.mark.parametrize("requirement", [r for r in RUNTIME if r.name in COLAB], ids=str)
def test_colabs_versions_satisfy_the_requirements(requirement):
    version = COLAB[requirement.name]
    assert requirement.specifier.contains(version), f"{requirement} would replace Colab's {version}"


def test_colabs_kernel_is_left_to_colab():
    # The course runs in whatever kernel the notebook has: it declares no ipykernel or IPython.
    assert not {"ipykernel", "ipython"} & {r.name for r in RUNTIME}


def test_python_range_is_311_to_313():
    spec = PYPROJECT["requires-python"]
    assert all(Requirement(f"python{spec}").specifier.contains(v) for v in ["3.11", "3.12", "3.13"])
    assert not Requirement(f"python{spec}").specifier.contains("3.10")


def _conda_environment():
    """(the file, {PyPI name: conda version spec}, the pip entries)."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip += entry["pip"]
        else:
            name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", entry).groups()
            conda[CONDA_NAMES.get(name, name)] = spec.replace(" ", "")
    return env, conda, pip


def test_environment_yml_uses_conda_forge_only():
    env, _, _ = _conda_environment()
    assert env["channels"] == ["conda-forge"]


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    _, conda, pip = _conda_environment()
    lab = [Requirement(r) for r in PYPROJECT["optional-dependencies"]["lab"]]
    assert set(conda) - {"python", "pip"} == {r.name for r in RUNTIME + lab}
    for requirement in RUNTIME + lab:
        conda_spec = set(filter(None, conda[requirement.name].split(",")))
        assert conda_spec == {str(s) for s in requirement.specifier}, (
            f"environment.yml has {requirement.name} {conda[requirement.name]!r}, pyproject.toml {requirement}"
        )
    assert pip == ["-e .[lab,dev]"]  # the course itself, from this repository


def test_ci_runs_the_readmes_test_command_then_the_browser_check():
    script = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    commands = [line for line in script if line.startswith("make ")]
    assert commands == ["make test", "make test-browser"], commands
    assert "set -euo pipefail" in script, "a failing make test must stop CI"
    readme = (ROOT / "README.md").read_text()
    assert "make test " in readme and "make test-browser" in readme


def test_the_wheel_ships_the_package_data(tmp_path):
    # Colab installs from git, not editable: what the code loads at run time must be inside the wheel.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    names = zipfile.ZipFile(next(tmp_path.glob("vlacourse-*.whl"))).namelist()
    shipped = {name for name in names if name.startswith("vlacourse/data/")}
    in_repo = {f"vlacourse/data/{p.name}" for p in (ROOT / "vlacourse" / "data").iterdir()}
    assert shipped == in_repo
