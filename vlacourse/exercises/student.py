"""Write student notebooks: every solution region becomes a stub that raises NotImplementedError.

A region is the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (markers included) in a
code cell; the stub keeps the indentation of the BEGIN line, so it sits where the solution was::

    python -m vlacourse.exercises student notebooks student     # what `make student` runs
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: replace this line with your code")'


class MarkerError(ValueError):
    """Solution markers that do not pair up."""


def cell_source(cell: dict) -> str:
    """A cell's source as one string: nbformat allows a list of lines (JupyterLab) or one string (Colab)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def has_solution(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.splitlines())


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace each solution region of one cell's source with a stub at the same indentation."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution; add {END} first")
            inside = True
            indent = re.match(r"\s*", line).group()
            out.append(f"{indent}{STUB}")
        elif marker == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without a {BEGIN} above it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} is never closed; add a line {END!r} after the solution")
    return "\n".join(out)


def student_notebook(notebook: dict, name: str = "notebook") -> dict:
    """A copy of an nbformat notebook (as JSON) with every solution stubbed and outputs cleared."""
    student = json.loads(json.dumps(notebook))
    for index, cell in enumerate(student["cells"]):
        if cell["cell_type"] != "code":
            continue
        cell["source"] = strip_solutions(cell_source(cell), where=f"{name}, cell {index}")
        cell["outputs"], cell["execution_count"] = [], None
    return student


def write_student_notebooks(source_dir: Path, out_dir: Path) -> list[Path]:
    """Write ``out_dir/NN_topic.ipynb`` for every ``source_dir/NN_topic.ipynb``; return the paths."""
    sources = sorted(Path(source_dir).glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks named NN_topic.ipynb in {source_dir}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sources:
        notebook = student_notebook(json.loads(path.read_text()), name=path.name)
        target = out_dir / path.name
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written
