"""Grade a class's submitted notebooks: ``python -m vlacourse.exercises grade SUBMISSIONS --out grades.csv``.

    SUBMISSIONS/alice/07_knowledge_insulation.ipynb     a folder per learner (or SUBMISSIONS/alice.ipynb)
        |  each notebook in its own process, under a memory limit
        v
    its exercise cells: the code cells that call check("name", fn), found by name, in any order
        |  each cell run on its own, under a time limit, with check(...) recording instead of printing
        v
    the exercise's registered tests (``nbNN.py``) on the learner's fn: passed / total, the first failure
        v
    grades.csv: a row per learner, two columns per exercise (score, note)
    grades.md:  per exercise, the class's pass rate and its most common failures

Grading runs the learners' code. The memory and time limits stop a runaway submission, not a hostile one:
for a class you do not trust, run the command inside a container with no network (the README says how).
Only the exercise cells run, each on its own, as ``make test`` runs them: an exercise cell imports what it
needs. A notebook with two cells for one exercise (a learner's second try) is graded on the last. The
exercises marked "(no check)" are listed in the summary as ungraded.
"""

from __future__ import annotations

import ast
import csv
import importlib
import json
import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vlacourse.exercises import exercises_by_notebook, run_tests
from vlacourse.exercises.student import cell_source

# An exercise cell checks at the top level, `check("name", fn)` or `result = check("name", fn)`; a demonstration
# of a failure does it inside a `try:`. Read from the text, so that a cell that does not parse is still found.
CHECK_CALL = re.compile(r"""^(?:\w+\s*=\s*)?check\(\s*["'](\w+)["']""", re.M)
UNGRADED = re.compile(r"^#+\s*(Exercise [\d.]+) \(no check\):\s*(.*)$", re.M)
GRADER = "__grade__"  # what each check(...) call of an exercise cell becomes: a name no learner writes


class OutOfTime(BaseException):
    """A cell ran past its time limit. Not an ``Exception``: no ``except Exception`` in the learner's code, or
    in the tests that catch the learner's errors, may swallow it and run on without a limit."""


@dataclass
class Grade:
    """One learner's one exercise."""

    learner: str
    exercise: str
    notebook: str  # the submitted file, relative to the submissions folder
    passed: int = 0
    total: int = 0
    ran: bool = False  # the cell ran to its check(...) call
    note: str = ""  # the first failure's message, or why the cell did not run ("" when every test passed)

    @property
    def score(self) -> str:
        return f"{self.passed}/{self.total}" if self.ran else ""


@dataclass
class Submission:
    """One submitted notebook, read: its exercise cells and what the grader could not use."""

    learner: str
    path: Path
    relative: str
    cells: dict[str, str] = field(default_factory=dict)  # exercise -> its exercise cell's source
    number: int | None = None  # the course notebook it is (None: not found)
    expected: list[str] = field(default_factory=list)  # that notebook's checked exercises
    ungraded: list[str] = field(default_factory=list)  # "Exercise 7.3: ..." headings marked (no check)
    problems: list[str] = field(default_factory=list)  # what made a part of it ungradable, in words


def find_submissions(root: Path) -> list[tuple[str, Path]]:
    """(learner, notebook) for every ``.ipynb`` under ``root``: a notebook directly in ``root`` is its own
    learner (its file name), one in a subfolder belongs to the learner that folder is named after."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {root}: give the folder that holds the submitted notebooks")
    found = []
    for path in sorted(root.rglob("*.ipynb")):
        relative = path.relative_to(root)
        if ".ipynb_checkpoints" in relative.parts:  # JupyterLab's autosaves, not submissions
            continue
        found.append((relative.stem if len(relative.parts) == 1 else relative.parts[0], path))
    return found


def read_submission(learner: str, path: Path, root: Path) -> Submission:
    """The exercise cells of one submitted notebook (nbformat 4, as JupyterLab and Colab save it)."""
    submission = Submission(learner, path, path.relative_to(root).as_posix())
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        submission.problems.append(f"could not read the notebook ({type(error).__name__}: {error})")
        return submission
    notebooks = exercises_by_notebook()
    submission.cells = exercise_cells(cells)
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            titles = UNGRADED.findall(cell_source(cell))
            submission.ungraded += [f"{number}: {title}" for number, title in titles]
    known = {name: number for number, names in notebooks.items() for name in names}
    numbers = Counter(known[name] for name in submission.cells if name in known)
    prefix = re.match(r"(\d\d)_", path.name)
    number = numbers.most_common(1)[0][0] if numbers else int(prefix.group(1)) if prefix else None
    if number is None or number not in notebooks:
        submission.problems.append("no checked exercise of the course's notebooks was found in it")
    else:
        submission.number, submission.expected = number, notebooks[number]
    for name in submission.cells:
        if name not in known:
            submission.problems.append(f"a cell checks {name!r}, which is no exercise of the course")
    return submission


def exercise_cells(cells: list[dict]) -> dict[str, str]:
    """Exercise -> the source of the last code cell that checks it at the top level (a learner's latest try)."""
    found = {}
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell_source(cell)
            found |= {name: source for name in CHECK_CALL.findall(source)}
    return found


def grade_cell(exercises: list[str], source: str, where: str) -> dict[str, dict]:
    """Run one exercise cell with each ``check(...)`` call recording its result instead of printing it: for
    each of ``exercises`` (the ones the cell checks), what ``Grade`` needs."""
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as error:
        note = f"the cell does not parse: SyntaxError at line {error.lineno}: {error.msg}"
        return {name: {"ran": False, "note": note} for name in exercises}
    results = {}

    class ToGrader(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.Call:
            self.generic_visit(node)
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if called == "check":  # check(...) or exercises.check(...)
                node.func = ast.copy_location(ast.Name(GRADER, ast.Load()), node.func)
            return node

    def grader(name, solution):
        results[name] = run_tests(name, solution)
        return results[name]

    code = compile(ast.fix_missing_locations(ToGrader().visit(tree)), where, "exec")
    stopped = ""
    try:
        exec(code, {GRADER: grader, "__name__": "__main__"})
    except Exception as error:  # a failed test raises nothing here: this is the cell's own error
        stopped = f"the cell stopped before its check: {type(error).__name__}: {error}"
    graded = {}
    for name in exercises:
        if name not in results:
            graded[name] = {"ran": False, "note": stopped or f"the cell never reached check({name!r}, ...)"}
            continue
        first = next(iter(results[name].failed.items()), None)
        graded[name] = {
            "ran": True,
            "passed": len(results[name].passed),
            "total": len(results[name].outcomes),
            "note": f"{first[0]}: {first[1]}" if first else "",
        }
    return graded


def _out_of_time(signum, frame):
    raise OutOfTime


def grade_notebook_here(path: Path, number: int, time_limit: float, results: Path) -> None:
    """In the grading process: every exercise cell of ``path`` (course notebook ``number``), each under
    ``time_limit`` seconds, one JSON line per exercise appended to ``results`` as soon as its cell is graded
    (a crash loses only the rest)."""
    importlib.import_module(f"vlacourse.exercises.nb{number:02d}")  # its tests: no other notebook's imports
    cells: dict[str, list[str]] = {}  # a cell's source -> the exercises it checks (one cell may check two)
    for exercise, source in exercise_cells(json.loads(path.read_text(encoding="utf-8"))["cells"]).items():
        cells.setdefault(source, []).append(exercise)
    signal.signal(signal.SIGALRM, _out_of_time)
    for number, (source, exercises) in enumerate(cells.items()):
        signal.setitimer(signal.ITIMER_REAL, time_limit)
        try:
            graded = grade_cell(exercises, source, f"{path.name}, exercise cell {number + 1}")
        except OutOfTime:
            note = f"stopped after {time_limit:g} s: an endless loop, or far too slow"
            graded = {name: {"ran": False, "note": note} for name in exercises}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        with results.open("a") as out:
            out.writelines(json.dumps({"exercise": name, **graded[name]}) + "\n" for name in exercises)


def limit_memory(gigabytes: float) -> None:
    """Cap this process's address space: past it, an allocation raises MemoryError (Linux; macOS may not).
    A crash writes no core file either."""
    import resource

    size = int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def grade_submission(submission: Submission, time_limit: float = 60.0, memory_gb: float = 8.0) -> list[Grade]:
    """Grade one submitted notebook in its own process: a ``Grade`` per exercise it should have. The process
    inherits MuJoCo's backend from this one's environment (``grade_folder`` chooses it first)."""
    extra = [name for name in submission.cells if name not in submission.expected]
    grades = {name: Grade(submission.learner, name, submission.relative) for name in submission.expected + extra}
    for name, grade in grades.items():
        if name not in submission.cells:
            grade.note = "missing: no cell calls check on it"
    graded = [name for name in grades if name in submission.cells]
    if submission.number is None:  # every exercise it checks is unknown: read_submission said so
        for name in graded:
            grades[name].note = f"{name!r} is no exercise of the course"
        return list(grades.values())
    if not graded:
        return list(grades.values())
    limit = time_limit * len(graded) + 60  # every cell's own limit, and the start-up
    with tempfile.TemporaryDirectory() as scratch:
        results, errors = Path(scratch) / "results.jsonl", Path(scratch) / "stderr.txt"
        results.touch()
        arguments = [str(submission.path.resolve()), str(submission.number), str(time_limit), str(memory_gb)]
        arguments.append(str(results))
        with errors.open("w") as stderr:  # to a file: a learner's endless printing fills no pipe
            try:
                command = [sys.executable, "-m", "vlacourse.exercises.grade", *arguments]
                # In the scratch folder: files the learner's code writes go away with it.
                code = subprocess.run(
                    command, cwd=scratch, stdout=subprocess.DEVNULL, stderr=stderr, timeout=limit
                ).returncode
                ending = f"the grading process ended (exit code {code}): {_last_line(errors.read_text())}"
            except subprocess.TimeoutExpired:
                ending = f"the grading process was stopped after {limit:g} s"
        answers = [json.loads(line) for line in results.read_text().splitlines()]
    for answer in answers:
        grade = grades[answer["exercise"]]
        grade.ran, grade.note = answer["ran"], answer["note"]
        grade.passed, grade.total = answer.get("passed", 0), answer.get("total", 0)
    for name in set(graded) - {answer["exercise"] for answer in answers}:
        grades[name].note = f"not graded: {ending}"
    return list(grades.values())


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "it said nothing"


def grade_folder(
    root: Path, time_limit: float = 60.0, memory_gb: float = 8.0, workers: int = 1
) -> tuple[list[Grade], list[Submission]]:
    """Every submission under ``root``, graded (``workers`` notebooks at a time): the grades, and the
    submissions as read (their problems and ungraded exercises, for the summary)."""
    from vlacourse.notebook import configure_mujoco_gl

    submissions = [read_submission(learner, path, Path(root)) for learner, path in find_submissions(root)]
    if not submissions:
        raise FileNotFoundError(f"no .ipynb under {root}: put each learner's notebooks there")
    configure_mujoco_gl()  # once, for every grading process: some tests build a policy, which renders
    with ThreadPoolExecutor(max(1, workers)) as pool:
        graded = pool.map(lambda s: grade_submission(s, time_limit, memory_gb), submissions)
        return [grade for grades in graded for grade in grades], submissions


def _columns(grades: Iterable[Grade]) -> list[str]:
    """The exercises in course order (notebook, then registration), unknown names last."""
    order = [name for names in exercises_by_notebook().values() for name in names]
    seen = {grade.exercise for grade in grades}
    return [name for name in order if name in seen] + sorted(seen - set(order))


def write_csv(grades: list[Grade], submissions: list[Submission], out: Path) -> None:
    """A row per learner: each exercise's score (passed/total, empty when the cell did not run) and note, and
    what made any of the learner's notebooks ungradable."""
    exercises = _columns(grades)
    problems: dict[str, list[str]] = {s.learner: [] for s in submissions}
    for submission in submissions:
        problems[submission.learner] += [f"{submission.relative}: {problem}" for problem in submission.problems]
    rows = {learner: {"learner": learner, "problems": "; ".join(said)} for learner, said in problems.items()}
    for grade in grades:
        rows[grade.learner][grade.exercise], rows[grade.learner][f"{grade.exercise} note"] = grade.score, grade.note
    header = ["learner", *(column for name in exercises for column in (name, f"{name} note")), "problems"]
    with Path(out).open("w", newline="") as file:
        writer = csv.DictWriter(file, header, restval="")
        writer.writeheader()
        writer.writerows(rows[learner] for learner in sorted(rows))


def summary(grades: list[Grade], submissions: list[Submission], common: int = 3) -> str:
    """Markdown for the instructor: per exercise, how many learners passed every test, and the most
    common reasons the others did not; then the ungraded exercises and the notebooks it could not use."""
    lines = ["# Grades", "", "| exercise | passed every test | most common failures |", "|---|---|---|"]
    for name in _columns(grades):
        mine = [grade for grade in grades if grade.exercise == name]
        full = sum(grade.ran and grade.passed == grade.total for grade in mine)
        reasons = Counter(grade.note for grade in mine if grade.note)
        failures = "; ".join(f"{count}x {note}" for note, count in reasons.most_common(common)) or "none"
        lines.append(f"| `{name}` | {full} of {len(mine)} | {failures.replace('|', '/')} |")
    ungraded = sorted({title for submission in submissions for title in submission.ungraded})
    if ungraded:
        lines += ["", "Ungraded (no check; read them yourself):", "", *(f"- {title}" for title in ungraded)]
    problems = [(s.relative, problem) for s in submissions for problem in s.problems]
    if problems:
        lines += ["", "Notebooks the grader could not fully use:", ""]
        lines += [f"- `{relative}`: {problem}" for relative, problem in problems]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # the grading process of one notebook (``grade_submission`` starts it)
    notebook, number, seconds, gigabytes, results_file = sys.argv[1:]
    limit_memory(float(gigabytes))  # before the exercises' tests import torch
    grade_notebook_here(Path(notebook), int(number), float(seconds), Path(results_file))
