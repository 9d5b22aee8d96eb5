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


@dataclass
class CheckResult:
    exercise: str
    passed: list[str] = field(default_factory=list)  # names of the tests that passed
    failed: dict[str, str] = field(default_factory=dict)  # test name -> why it failed

    @property
    def ok(self) -> bool:
        return not self.failed


def _test_name(test: Callable) -> str:
    return test.__name__.replace("_", " ")


def check(exercise: str, solution: Callable) -> CheckResult:
    """Run the tests of ``exercise`` on ``solution``; print each; raise ExerciseFailed if any fails."""
    _load_all_tests()
    if exercise not in _TESTS:
        raise KeyError(f"no exercise named {exercise!r}; known exercises: {sorted(_TESTS)}")
    if not callable(solution):
        raise TypeError(f"check({exercise!r}, ...) needs your function itself, got {type(solution).__name__}")
    result = CheckResult(exercise)
    for test in _TESTS[exercise]:
        name = _test_name(test)
        try:
            test(solution)
        except NotImplementedError:
            result.failed[name] = "not implemented yet: replace the `raise NotImplementedError` line"
        except AssertionError as error:
            result.failed[name] = str(error) or "wrong result"
        except Exception as error:  # the learner's code crashed: show how, as a test runner would
            result.failed[name] = f"{type(error).__name__}: {error}"
        else:
            result.passed.append(name)
        print(f"  pass  {name}" if name in result.passed else f"  FAIL  {name}: {result.failed[name]}")
    total = len(result.passed) + len(result.failed)
    print(f"{exercise}: {len(result.passed)} of {total} tests passed")
    if not result.ok:
        raise ExerciseFailed(f"{exercise}: {len(result.failed)} of {total} tests failed (see above)")
    return result
