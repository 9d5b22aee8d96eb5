"""The chunk-overlap widget, driven by setting its controls' values as a learner's slider would."""

import threading

import pytest

from vlacourse.chunking.rtc import ExecutionConfig
from vlacourse.policies.flow import load_course_flow_vla
from vlacourse.sim.env import TabletopEnv
from vlacourse.widgets.chunk import FRAMES, chunk_overlap_widget, draw_chunk_overlap, regions


@pytest.fixture(scope="module")
def view():
    return chunk_overlap_widget(load_course_flow_vla())


def test_it_runs_the_episode_to_its_end_and_redraws_on_each_control(view):
    assert view.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    (trace,) = view.runs.values()
    assert len(trace.frames) == len(trace.frame_steps) >= FRAMES
    assert trace.frame_steps[-1] == trace.steps - 1  # the last picture is the episode's end
    assert trace.success or trace.steps == TabletopEnv("pick_place").max_steps
    before = view.redraws
    view.controls["strategy"].value = "naive"
    view.controls["scene"].value = 3
    assert view.redraws == before + 2
    assert (ExecutionConfig("naive", 2, 5), 0) in view.runs and (ExecutionConfig("naive", 2, 5), 3) in view.runs


def test_the_last_picture_names_the_outcome(view):
    (config, _), trace = next(iter(view.runs.items()))
    titles = [ax.get_title() for ax in draw_chunk_overlap(trace, config, 10).axes if ax.get_title()]
    outcome = titles[-1]
    assert ("placed at" in outcome) == trace.success and ("failed" in outcome) != trace.success


def test_the_horizon_follows_the_delay_and_never_draws_an_invalid_pair(view):
    delay, horizon = view.controls["delay"], view.controls["horizon"]
    horizon.value = 8
    delay.value = 4  # s = 8 > H - d: the horizon's bounds move first and pull it to 6
    assert (horizon.min, horizon.max, horizon.value) == (4, 6, 6)
    delay.value = 0
    assert (horizon.min, horizon.max) == (1, 10)
    for config, _ in view.runs:
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
    assert any(config.strategy == "ensemble" for config, _ in view.runs)


@pytest.mark.parametrize(
    "strategy, delay, scene, placed",
    [("synchronous", 3, 3, False), ("naive", 3, 3, True), ("naive", 2, 2, True), ("rtc", 2, 2, False)],
)
def test_the_scenes_notebook_08_suggests_end_as_it_says(view, strategy, delay, scene, placed):
    view.set(delay=delay, horizon=5, strategy=strategy, scene=scene)
    assert view.runs[ExecutionConfig(strategy, delay, 5), scene].success == placed
