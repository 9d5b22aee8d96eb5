"""The chunk-overlap widget, driven by setting its controls' values as a learner's slider would."""

import threading

import pytest

from vlacourse.chunk_widget import FRAMES, chunk_overlap_widget, regions
from vlacourse.flow import load_course_flow_vla
from vlacourse.rtc import ExecutionConfig


@pytest.fixture(scope="module")
def view():
    return chunk_overlap_widget(load_course_flow_vla())


def test_it_draws_the_arm_and_redraws_on_each_control(view):
    assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    (trace,) = view.runs.values()
    assert len(trace.frames) == FRAMES and trace.steps == 40
    before = view.redraws
    view.controls["strategy"].value = "naive"
    assert view.redraws == before + 1
    assert ExecutionConfig("naive", 2, 5) in view.runs


def test_the_horizon_follows_the_delay_and_never_draws_an_invalid_pair(view):
    delay, horizon = view.controls["delay"], view.controls["horizon"]
    horizon.value = 8
    delay.value = 4  # s = 8 > H - d: the horizon's bounds move first and pull it to 6
    assert (horizon.min, horizon.max, horizon.value) == (4, 6, 6)
    delay.value = 0
    assert (horizon.min, horizon.max) == (1, 10)
    for config in view.runs:
        config.check(10)  # every drawn setting was a valid one


def test_out_of_range_values_are_refused_by_name(view):
    with pytest.raises(ValueError, match=r"delay=7 is out of range: choose a value in \[0, 5\]"):
        view.set(delay=7)
    with pytest.raises(ValueError, match="strategy='smooth' is not an option"):
        view.set(strategy="smooth")


def test_regions_of_the_new_chunk():
    assert regions(ExecutionConfig("rtc", 2, 5), 20, 25, 10) == [
        ("frozen", 20, 22),
        ("guided", 22, 25),
        ("free", 25, 30),
    ]
    assert regions(ExecutionConfig("naive", 2, 5), 20, 25, 10)[1][0] == "overlap"
    assert regions(ExecutionConfig("synchronous", 2, 5), 20, 25, 10) == [("paused", 20, 22), ("free", 22, 32)]


def test_a_callback_from_another_thread_still_renders(view):
    """ipykernel 7 may run a widget's callback in a subshell thread; MuJoCo's GL context is bound to one thread."""
    failures = []

    def move():
        try:
            view.controls["strategy"].value = "ensemble"
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    thread = threading.Thread(target=move)
    thread.start()
    thread.join()
    assert not failures, failures
    assert any(config.strategy == "ensemble" for config in view.runs)
