"""Grading a class: the course's own notebooks (full marks as solutions, zero as student versions) and the
submissions a grader meets in a real class (an endless loop, a syntax error, a crash, a corrupt file...),
graded by the command an instructor runs."""

import csv
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from vlacourse.exercises import exercises_by_notebook
from vlacourse.exercises.student import STUB, student_notebook

TIME_LIMIT = 3  # seconds a broken submission's exercise cell may run: the looping one waits this long
MEMORY_GB = 3  # the largest exercise test builds a small VLA well within it


def _notebook(path):
    return json.loads(path.read_text())


def _with_exercise_cell(notebook: dict, body: str, first_line: str = "") -> dict:
    """The student version of notebook 00 with its exercise's stub replaced by ``body`` (and a line before)."""
    changed = json.loads(json.dumps(notebook))
    for cell in changed["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and STUB in source:
            cell["source"] = first_line + source.replace(STUB, body)
    return changed


def _grade(root, *options) -> tuple[dict, str, str]:
    """``python -m vlacourse.exercises grade root``: the CSV's rows by learner, the summary, what it printed."""
    out = root.parent / f"{root.name}.csv"
    command = [sys.executable, "-m", "vlacourse.exercises", "grade", str(root), "--out", str(out), *options]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    with out.open() as file:
        rows = {row["learner"]: row for row in csv.DictReader(file)}
    return rows, out.with_suffix(".md").read_text(), finished.stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Two learners: one handed in every solution notebook, the other every student notebook untouched."""
    root = tmp_path_factory.mktemp("course")
    for learner in ("solutions", "students"):
        (root / learner).mkdir()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        solution = _notebook(path)
        (root / "solutions" / path.name).write_text(json.dumps(solution))
        (root / "students" / path.name).write_text(json.dumps(student_notebook(solution, path.name)))
    return _grade(root, "--memory-gb", str(MEMORY_GB), "--workers", "2")


BROKEN = {  # learner -> the code that replaces notebook 00's stub, and the note the grader must give
    "loops": ("while True:\n        pass", f"stopped after {TIME_LIMIT} s"),
    "wrong": ("return x", "bounds map to minus one and one"),
    "unparsable": ("return np.clip(2.0 * (x - low) / (high - low) - 1.0, -1.0, 1.0", "does not parse"),
    "crashes": ("import ctypes\n    ctypes.string_at(0)", "grading process ended (exit code -11)"),
    "hoards_memory": ("bytearray(4 * 2**30)\n    return x", "MemoryError"),
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """A class of notebook 00's: each broken as a real class breaks them, and two that must grade anyway."""
    root = tmp_path_factory.mktemp("broken")
    welcome = student_notebook(_notebook(ROOT / "notebooks" / "00_welcome.ipynb"))
    for learner, (body, _) in BROKEN.items():
        (root / f"{learner}.ipynb").write_text(json.dumps(_with_exercise_cell(welcome, body)))
    importing = _with_exercise_cell(welcome, "return x", first_line="import a_module_nobody_installed\n")
    (root / "imports_missing.ipynb").write_text(json.dumps(importing))
    (root / "missing").mkdir()  # found as notebook 00 by its name, which the folder of its learner keeps
    missing = {**welcome, "cells": [c for c in welcome["cells"] if STUB not in "".join(c["source"])]}
    (root / "missing" / "00_welcome.ipynb").write_text(json.dumps(missing))
    (root / "corrupt.ipynb").write_text('{"cells": [')
    solved = _notebook(ROOT / "notebooks" / "00_welcome.ipynb")
    # Saved by another front end: cells reordered, one added, each source one string, the file renamed.
    solved["cells"] = [{"cell_type": "code", "source": "print('my own cell')", "metadata": {}}] + solved["cells"][::-1]
    for cell in solved["cells"]:
        cell["source"] = "".join(cell["source"])
    (root / "reordered.ipynb").write_text(json.dumps(solved))
    return _grade(root, "--time-limit", str(TIME_LIMIT), "--memory-gb", str(MEMORY_GB), "--workers", "2")


def test_the_solutions_score_full_marks_on_every_exercise(course):
    rows, _, printed = course
    notebooks = len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert f"graded {2 * notebooks} notebooks of 2 learners" in printed
    for names in exercises_by_notebook().values():
        for name in names:
            passed, total = rows["solutions"][name].split("/")
            assert passed == total and int(total) > 0, (name, rows["solutions"][f"{name} note"])


def test_the_student_versions_score_zero_because_nothing_is_implemented(course):
    rows, report, _ = course
    for names in exercises_by_notebook().values():
        for name in names:
            assert rows["students"][name].startswith("0/"), name
            assert "NotImplementedError" in rows["students"][f"{name} note"], name
    assert "- Exercise 7.3: insulation without the VLM's own data" in report  # (no check): listed as ungraded


@pytest.mark.parametrize("learner", list(BROKEN))
def test_a_broken_submission_gets_its_reason_and_grading_goes_on(broken, learner):
    rows, _, _ = broken
    note, score = rows[learner]["normalize_to_unit_range note"], rows[learner]["normalize_to_unit_range"]
    assert BROKEN[learner][1] in note, note
    assert score == "" if learner in ("loops", "unparsable", "crashes") else score.endswith("/5"), score


def test_a_reordered_renamed_notebook_is_found_by_its_exercises(broken):
    rows, _, _ = broken
    assert rows["reordered"]["normalize_to_unit_range"] == "5/5"


def test_missing_exercises_missing_imports_and_corrupt_files_each_get_a_line(broken):
    rows, report, printed = broken
    assert "graded 9 notebooks of 9 learners" in printed
    assert rows["missing"]["normalize_to_unit_range note"] == "missing: no cell calls check on it"
    assert "ModuleNotFoundError" in rows["imports_missing"]["normalize_to_unit_range note"]
    assert rows["imports_missing"]["normalize_to_unit_range"] == ""
    assert rows["corrupt"]["problems"].startswith("corrupt.ipynb: could not read the notebook")
    assert "- `corrupt.ipynb`: could not read the notebook" in report


def test_the_summary_gives_each_exercise_its_pass_rate_and_common_failures(course, broken):
    for (_, report, _), passed in ((course, "1 of 2"), (broken, "1 of 8")):  # the corrupt file has no grade
        line = next(line for line in report.splitlines() if line.startswith("| `normalize_to_unit_range`"))
        assert f"| {passed} |" in line, line
    assert "1x bounds map to minus one and one: not implemented yet" in course[1]


def test_a_folder_without_notebooks_is_refused_with_the_fix(tmp_path):
    command = [sys.executable, "-m", "vlacourse.exercises", "grade", str(tmp_path)]
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 2 and "put each learner's notebooks there" in finished.stderr
