"""A pytest plugin: at the end of the run, each notebook's run time against its budget, slowest first, the
whole course's, and a `make test` run's own time against its budget.

nbval makes one test item per cell; a notebook's time is the sum of its cells' times (setup, call and
teardown). The kernel's start-up is not counted. Loaded by ``-p tests.notebook_times`` (pyproject). The
times are reported, not asserted: they depend on the machine and on what else it is doing.
"""

import time
from collections import defaultdict

from vlacourse.course import COURSE_BUDGET_S, NOTEBOOK_BUDGET_S, TEST_BUDGET_S

_seconds: dict[str, float] = defaultdict(float)
_started = time.monotonic()


def _verdict(seconds: float, budget: float) -> str:
    return f"{100 * seconds / budget:5.1f}% of budget  {'ok' if seconds <= budget else 'OVER BUDGET'}"


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    write = terminalreporter.write_line
    if _seconds:
        terminalreporter.section(f"notebook run times (budget {NOTEBOOK_BUDGET_S} s each)")
        for path, seconds in sorted(_seconds.items(), key=lambda item: -item[1]):
            write(f"{path:<48} {seconds:7.1f} s  {_verdict(seconds, NOTEBOOK_BUDGET_S)}")
        total = sum(_seconds.values())
        write(
            f"{'all notebooks (budget ' + str(COURSE_BUDGET_S) + ' s)':<48} {total:7.1f} s  "
            f"{_verdict(total, COURSE_BUDGET_S)}"
        )
    if terminalreporter.config.getoption("markexpr") in ("reproduce", "browser"):
        return  # `make reproduce` and `make test-browser` are not `make test`: its budget does not apply
    elapsed = time.monotonic() - _started
    write(
        f"{'this test run (make test budget ' + str(TEST_BUDGET_S) + ' s)':<48} {elapsed:7.1f} s  "
        f"{_verdict(elapsed, TEST_BUDGET_S)}"
    )
