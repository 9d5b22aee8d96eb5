"""A pytest plugin: at the end of the run, each notebook's run time against its budget, slowest first.

nbval makes one test item per cell; a notebook's time is the sum of its cells' times (setup, call and
teardown). The kernel's start-up is not counted. Loaded by ``-p tests.notebook_times`` (pyproject).
"""

from collections import defaultdict

from vlacourse.course import NOTEBOOK_BUDGET_S

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"notebook run times (budget {NOTEBOOK_BUDGET_S} s each)")
    for path, seconds in sorted(_seconds.items(), key=lambda item: -item[1]):
        verdict = "ok" if seconds <= NOTEBOOK_BUDGET_S else "OVER BUDGET"
        write(f"{path:<48} {seconds:7.1f} s  {100 * seconds / NOTEBOOK_BUDGET_S:5.1f}% of budget  {verdict}")
    write(f"{'all notebooks':<48} {sum(_seconds.values()):7.1f} s")
