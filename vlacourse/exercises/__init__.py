"""Exercises: a learner writes a function in a notebook, ``check`` runs the package's tests on it.

In a notebook an exercise is one self-contained cell: it imports what it needs, defines the function
with the solution between marker lines, and calls ``check`` on it::

    def normalize_to_unit_range(x, low, high):
        ### BEGIN SOLUTION
        return np.clip(2 * (x - low) / (high - low) - 1, -1, 1)
        ### END SOLUTION

    check("normalize_to_unit_range", normalize_to_unit_range)

``make student`` writes student notebooks in which each marked region is a ``raise NotImplementedError``
stub (see ``vlacourse.exercises.student``). ``check`` prints one line per test and raises
``ExerciseFailed`` when any fails, so a run stops at an unsolved exercise and the course's test run
catches a solution that broke. The tests of each notebook's exercises live in ``nbNN.py`` beside this
file and register themselves with ``@exercise_test("name")``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

_TESTS: dict[str, list[Callable[[Callable], None]]] = {}


class ExerciseFailed(AssertionError):
    """Raised by ``check`` when a learner's function fails at least one test."""


def exercise_test(exercise: str):
    """Register a test of ``exercise``: a function that takes the learner's function and asserts."""

    def register(test: Callable[[Callable], None]) -> Callable[[Callable], None]:
        _TESTS.setdefault(exercise, []).append(test)
        return test

    return register


def _load_all_tests() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("nb"):
            importlib.import_module(f"{__name__}.{module.name}")


def exercise_names() -> list[str]:
    _load_all_tests()
    return sorted(_TESTS)


def exercises_by_notebook() -> dict[int, list[str]]:
    """Each notebook's checked exercises, in the order its ``nbNN.py`` registers their tests."""
    _load_all_tests()
    notebooks: dict[int, list[str]] = {}
    for name, tests in _TESTS.items():
        notebooks.setdefault(int(tests[0].__module__.rsplit(".nb", 1)[1]), []).append(name)
    return dict(sorted(notebooks.items()))


@dataclass
class CheckResult:
    exercise: str
    outcomes: dict[str, str | None] = field(default_factory=dict)  # test name -> why it failed (None: passed)

    @property
    def passed(self) -> list[str]:
        return [name for name, why in self.outcomes.items() if why is None]

    @property
    def failed(self) -> dict[str, str]:
        return {name: why for name, why in self.outcomes.items() if why is not None}

    @property
    def ok(self) -> bool:
        return not self.failed


def _test_name(test: Callable) -> str:
    return test.__name__.replace("_", " ")


def run_tests(exercise: str, solution: Callable) -> CheckResult:
    """Run the tests of ``exercise`` on ``solution`` and keep each one's outcome, printing nothing."""
    if exercise not in _TESTS:  # (the grader imports just the one notebook's tests)
        _load_all_tests()
    if exercise not in _TESTS:
        raise KeyError(f"no exercise named {exercise!r}; known exercises: {sorted(_TESTS)}")
    if not callable(solution):
        raise TypeError(f"check({exercise!r}, ...) needs your function itself, got {type(solution).__name__}")
    result = CheckResult(exercise)
    for test in _TESTS[exercise]:
        try:
            test(solution)
        except NotImplementedError:
            why = "not implemented yet: replace the `raise NotImplementedError` line"
        except AssertionError as error:
            why = str(error) or "wrong result"
        except Exception as error:  # the learner's code crashed: show how, as a test runner would
            why = f"{type(error).__name__}: {error}"
        else:
            why = None
        result.outcomes[_test_name(test)] = why
    return result


def check(exercise: str, solution: Callable) -> CheckResult:
    """Run the tests of ``exercise`` on ``solution``; print each; raise ExerciseFailed if any fails."""
    result = run_tests(exercise, solution)
    for name, why in result.outcomes.items():
        print(f"  pass  {name}" if why is None else f"  FAIL  {name}: {why}")
    total = len(result.outcomes)
    print(f"{exercise}: {len(result.passed)} of {total} tests passed")
    if not result.ok:
        raise ExerciseFailed(f"{exercise}: {len(result.failed)} of {total} tests failed (see above)")
    return result
