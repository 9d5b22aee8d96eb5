"""The gradient-blocking widget, driven without a browser: its controls set by ``.value`` and by ``set``."""

import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import FancyBboxPatch

from vlacourse.policies.insulation import RUNS, load_recorded_runs, run_name
from vlacourse.widgets.gradient import ZERO, draw_gradient_flow, gradient_flow_widget


@pytest.fixture(scope="module")
def recording():
    return load_recorded_runs()


def box_colours(fig) -> dict[str, tuple]:
    """Each part's box colour in the drawing, by the part's name (the first line of its label)."""
    network = fig.axes[0]
    boxes = [p for p in network.patches if isinstance(p, FancyBboxPatch)]
    labels = [t.get_text().split("\n")[0] for t in network.texts if "\n" in t.get_text()]
    return dict(zip(labels, (b.get_facecolor() for b in boxes), strict=True))


def test_the_two_switches_name_the_four_runs():
    assert {run_name(**switches) for switches in RUNS.values()} == set(RUNS)


def test_the_stop_gradient_greys_out_every_vlm_part_for_the_flow_loss(recording):
    insulated = box_colours(draw_gradient_flow(recording, True, True, "flow", 0))
    joint = box_colours(draw_gradient_flow(recording, False, True, "flow", 0))
    for part in ("vision encoder", "projector", "VLM layer 1", "VLM layer 4"):
        assert insulated[part] == to_rgba(ZERO) and joint[part] != to_rgba(ZERO), part
    assert insulated["expert layer 1"] != to_rgba(ZERO)


def test_moving_a_control_redraws_the_picture(recording):
    view = gradient_flow_widget(recording)
    first, redraws = view.image.value, view.redraws
    view.controls["stop_gradient"].value = False
    assert view.redraws == redraws + 1 and view.image.value != first
    steps = recording["runs"]["insulated"]["measure_steps"]
    view.set(loss="fast", step=steps[-1], vlm_losses=True)
    assert view.values == {"stop_gradient": False, "vlm_losses": True, "loss": "fast", "step": steps[-1]}
    assert view.redraws == redraws + 2, "several controls set at once redraw once"


def test_values_the_widget_cannot_take_are_refused_with_the_choices(recording):
    view = gradient_flow_widget(recording)
    with pytest.raises(ValueError, match="choose one of"):
        view.set(step=25)  # not a measured step
    with pytest.raises(ValueError, match="choose one of"):
        view.set(loss="l2")
    with pytest.raises(ValueError, match="True or False"):
        view.set(stop_gradient="yes")
    assert view.values["stop_gradient"] is True and view.values["step"] == 0, "a refused value changes nothing"


def test_a_loss_the_run_does_not_train_with_is_said_so(recording):
    fig = draw_gradient_flow(recording, False, False, "fast", 0)
    assert "does not train with" in fig.axes[0].get_title()
    assert all(colour == to_rgba(ZERO) for colour in box_colours(fig).values())


def test_a_recording_of_a_vla_that_points_shows_its_pointer_and_its_loss_and_one_without_does_not(recording):
    import copy

    view = gradient_flow_widget(recording)  # the shipped runs are built on the VLM that points
    assert [key for _, key in view.controls["loss"].options] == ["flow", "fast", "vqa", "point"]
    view.set(loss="point")
    colours = box_colours(draw_gradient_flow(recording, True, True, "point", 0))
    assert colours["pointer"] != to_rgba(ZERO) and colours["expert layer 1"] == to_rgba(ZERO)
    no_pointer = copy.deepcopy(recording)
    for record in no_pointer["runs"].values():
        for norms in record["gradient_norms"]:
            norms.pop("point", None)
            for loss_norms in norms.values():
                del loss_norms["pointer"]
    assert "pointer" not in box_colours(draw_gradient_flow(no_pointer, True, True, "flow", 0))
    assert [key for _, key in gradient_flow_widget(no_pointer).controls["loss"].options] == ["flow", "fast", "vqa"]


def test_a_run_tracked_on_the_arm_shows_its_success_beside_what_the_vlm_knows(recording):
    record = recording["runs"]["insulated"]
    step, rate = record["success_steps"][0], record["success_rates"][0]
    curves = draw_gradient_flow(recording, True, True, "flow", step).axes[1]
    assert curves.get_title().endswith(f"{rate:.0%} on the arm")
    success = [line for line in curves.get_lines() if line.get_label() == "insulated: success"]
    assert len(success) == 1 and list(success[0].get_ydata()) == record["success_rates"]
    assert "on the arm" not in draw_gradient_flow(recording, True, True, "flow", 0).axes[1].get_title()
