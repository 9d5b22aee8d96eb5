"""The notebooks' conventions: paired .py/.ipynb in sync with outputs stripped, the shared setup cell
first, a closing cell that asserts, and a place in the course's list and the README."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import NOTEBOOK_SOURCES, ROOT
from vlacourse.course import NOTEBOOKS, colab_url
from vlacourse.notebook import SETUP_CELL

STEMS = [p.stem for p in NOTEBOOK_SOURCES]


def _cells(stem):
    return json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert "00_welcome" in STEMS


@pytest.mark.parametrize("stem", STEMS)
def test_ipynb_is_in_sync_with_its_py_source(stem, tmp_path):
    # What `jupytext --to ipynb --update` would write, compared with what is committed. File times are
    # not trusted (a clone scrambles them) and the working tree is left alone.
    committed = ROOT / "notebooks" / f"{stem}.ipynb"
    assert committed.exists(), f"notebooks/{stem}.py has no paired .ipynb: run `make sync`"
    regenerated = tmp_path / committed.name
    shutil.copy(committed, regenerated)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupytext",
            "--quiet",
            "--to",
            "ipynb",
            "--update",
            "-o",
            str(regenerated),
            str(ROOT / "notebooks" / f"{stem}.py"),
        ],
        check=True,
    )
    assert regenerated.read_text() == committed.read_text(), (
        f"notebooks/{stem}.ipynb differs from its source notebooks/{stem}.py: run `make sync` and commit both"
    )


@pytest.mark.parametrize("stem", STEMS)
def test_outputs_are_stripped(stem):
    for index, cell in enumerate(_cells(stem)):
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, (
                f"{stem}.ipynb cell {index} holds outputs: run `make sync` (the .py is the source)"
            )


@pytest.mark.parametrize("stem", STEMS)
def test_first_cell_is_the_shared_setup_cell(stem):
    first = _cells(stem)[0]
    assert first["cell_type"] == "code" and _source(first) == SETUP_CELL, (
        f"{stem}: the first cell must be vlacourse.notebook.SETUP_CELL, unchanged"
    )


@pytest.mark.parametrize("stem", STEMS)
def test_last_cell_asserts_the_notebooks_claims(stem):
    last = _cells(stem)[-1]
    assert last["cell_type"] == "code" and re.search(r"^assert ", _source(last), re.M), (
        f"{stem}: the last cell must assert what the notebook claims"
    )


# Names that hold a time or a rate: what they measure depends on the machine, so no claim may rest on one.
SPEED_NAMES = re.compile(r"\w*(_ms\b|\bms_|seconds\b|actions_per_second|speedup|_hz\b|elapsed)\w*")


@pytest.mark.parametrize("stem", STEMS)
def test_no_claim_rests_on_the_machines_speed(stem):
    claims = [
        line
        for cell in _cells(stem)
        if cell["cell_type"] == "code"
        for line in _source(cell).splitlines()
        if line.lstrip().startswith("assert ")
    ]
    speed = [line for line in claims if SPEED_NAMES.search(line)]
    assert not speed, (
        f"{stem} asserts a speed, which depends on the machine: print it, and measure it in "
        f"python -m vlacourse.bench ({speed})"
    )


def test_every_notebook_is_in_the_course_list():
    listed = {n.stem for n in NOTEBOOKS}
    assert set(STEMS) <= listed, f"add {set(STEMS) - listed} to vlacourse.course.NOTEBOOKS"
    assert [n.number for n in NOTEBOOKS] == sorted(n.number for n in NOTEBOOKS)


def test_readme_lists_every_notebook_with_its_colab_badge():
    readme = (ROOT / "README.md").read_text()
    for notebook in NOTEBOOKS:
        assert f"`{notebook.stem}`" in readme, f"README: list {notebook.stem}"
        if notebook.stem in STEMS:
            assert colab_url(notebook.stem) in readme, f"README: add the Colab badge of {notebook.stem}"
