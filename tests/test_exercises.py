"""Exercises: check() on right and wrong answers, the student-notebook writer, and every notebook's
exercise cells, whose checks must pass on the solution and fail on the student stub."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import NOTEBOOK_SOURCES, ROOT
from vlacourse.exercises import ExerciseFailed, check, exercise_names
from vlacourse.exercises.grade import CHECK_CALL
from vlacourse.exercises.student import STUB, MarkerError, cell_source, has_solution, strip_solutions

SOLVED = """\
def f(x):
    y = x + 1
    ### BEGIN SOLUTION
    return y * 2
    ### END SOLUTION
"""


def test_a_solution_region_becomes_a_stub_at_its_indentation():
    assert strip_solutions(SOLVED) == f"def f(x):\n    y = x + 1\n    {STUB}\n"


def test_every_region_of_a_cell_is_stubbed():
    cell = SOLVED + "\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"
    assert strip_solutions(cell).count(STUB) == 2 and "42" not in strip_solutions(cell)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without a ### BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another solution"),
    ],
)
def test_unpaired_markers_say_where(source, message):
    with pytest.raises(MarkerError, match=message):
        strip_solutions(source, where="00_welcome.ipynb, cell 3")


def _normalize(x, low, high):
    return np.clip(2 * (x - low) / (high - low) - 1, -1, 1)


def test_check_passes_a_right_answer(capsys):
    result = check("normalize_to_unit_range", _normalize)
    assert result.ok and len(result.passed) == 5
    assert "5 of 5 tests passed" in capsys.readouterr().out


def test_check_reports_each_failure_of_a_wrong_answer(capsys):
    with pytest.raises(ExerciseFailed, match="4 of 5 tests failed"):
        check("normalize_to_unit_range", lambda x, low, high: x)
    out = capsys.readouterr().out
    assert "FAIL  midpoint maps to zero" in out and "pass  input is left unchanged" in out


def test_check_catches_in_place_modification():
    def in_place(x, low, high):
        x -= low
        return _normalize(x + low, low, high)

    with pytest.raises(ExerciseFailed, match="1 of 5"):
        check("normalize_to_unit_range", in_place)


def test_check_names_a_stub_as_not_implemented(capsys):
    def stub(x, low, high):
        raise NotImplementedError

    with pytest.raises(ExerciseFailed):
        check("normalize_to_unit_range", stub)
    assert "not implemented yet" in capsys.readouterr().out


def test_check_rejects_unknown_exercises_and_non_functions():
    with pytest.raises(KeyError, match=r"no exercise named 'normalise'.*'normalize_to_unit_range'"):
        check("normalise", _normalize)
    with pytest.raises(TypeError, match="needs your function itself"):
        check("normalize_to_unit_range", _normalize(np.zeros(2), 0, 1))


def _exercise_cells(notebook_path):
    cells = json.loads(notebook_path.read_text())["cells"]
    code = [(i, cell_source(c)) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    return [(i, source) for i, source in code if has_solution(source)]


NOTEBOOKS = [p.with_suffix(".ipynb") for p in NOTEBOOK_SOURCES]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_cells_pass_as_solutions_and_fail_as_student_stubs(notebook, capsys):
    # Each exercise cell is self-contained, so it runs here without the rest of its notebook.
    for index, source in _exercise_cells(notebook):
        assert CHECK_CALL.search(source), f"{notebook.name} cell {index} never calls check(...)"
        exec(compile(source, f"{notebook.name} cell {index}", "exec"), {})
        with pytest.raises(ExerciseFailed):
            exec(compile(strip_solutions(source), f"student {notebook.name} cell {index}", "exec"), {})


def test_every_registered_exercise_is_used_by_a_notebook():
    used = set()
    for notebook in NOTEBOOKS:
        for _, source in _exercise_cells(notebook):
            used |= set(CHECK_CALL.findall(source))
    assert used == set(exercise_names())


def test_make_student_writes_every_notebook_without_solutions(tmp_path):
    # The command `make student` runs, into a scratch folder.
    command = [sys.executable, "-m", "vlacourse.exercises", "student", str(ROOT / "notebooks"), str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True)
    written = sorted(tmp_path.glob("*.ipynb"))
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    for path in written:
        code = [cell_source(c) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        assert not any("BEGIN SOLUTION" in c or "END SOLUTION" in c for c in code), path.name
        assert sum(STUB in c for c in code) == len(_exercise_cells(ROOT / "notebooks" / path.name))
    student_00 = json.loads((tmp_path / "00_welcome.ipynb").read_text())
    assert not any("np.clip(2.0" in cell_source(c) for c in student_00["cells"])
