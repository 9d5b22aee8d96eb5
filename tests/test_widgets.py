"""The widget pattern, driven without a browser by setting controls' values."""

import ipywidgets as widgets
import numpy as np
import pytest

from vlacourse.widgets.interactive import InteractiveImage, new_figure, png_from_figure, png_from_rgb

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _colour_image(colour: str, size: int = 8):
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[..., "rgb".index(colour)] = 255
    return rgb


def test_png_from_rgb_round_trips():
    from io import BytesIO

    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    png = png_from_rgb(rgb)
    assert png.startswith(PNG_MAGIC)
    assert np.array_equal(np.asarray(Image.open(BytesIO(png))), rgb)


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((4, 4, 3)), np.zeros((4, 4, 4), np.uint8)])
def test_png_from_rgb_rejects_wrong_images(bad):
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 image"):
        png_from_rgb(bad)


def test_figures_render_whatever_the_backend():
    fig = new_figure(2, 1)
    fig.add_subplot().plot([0, 1], [1, 0])
    assert png_from_figure(fig).startswith(PNG_MAGIC)


def _colour_view():
    drawn = []

    def draw(colour, size):
        drawn.append((colour, size))
        return _colour_image(colour, size)

    controls = {
        "colour": widgets.Dropdown(options=[("Red", "r"), ("Green", "g"), ("Blue", "b")], value="r"),
        "size": widgets.IntSlider(value=8, min=4, max=16),
    }
    return InteractiveImage(draw, controls), drawn


def test_moving_a_control_redraws_the_picture():
    view, drawn = _colour_view()
    first = view.image.value
    view.controls["colour"].value = "g"  # what a click in the browser does
    assert drawn == [("r", 8), ("g", 8)]
    assert view.image.value != first and view.redraws == 2


def test_set_moves_several_controls_with_one_redraw():
    view, drawn = _colour_view()
    view.set(colour="b", size=12)
    assert drawn[-1] == ("b", 12) and view.redraws == 2
    assert view.values == {"colour": "b", "size": 12}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"size": 99}, r"size=99 is out of range: choose a value in \[4, 16\]"),
        ({"size": float("nan")}, r"size must be a number in \[4, 16\]"),
        ({"colour": "purple"}, r"colour='purple' is not an option: choose one of \['r', 'g', 'b'\]"),
        ({"zoom": 2}, r"no control named 'zoom'"),
    ],
)
def test_out_of_range_values_are_refused_and_change_nothing(values, message):
    view, drawn = _colour_view()
    before = view.image.value
    with pytest.raises((ValueError, KeyError), match=message):
        view.set(**values)
    assert view.values == {"colour": "r", "size": 8} and view.image.value == before


def test_scene_explorer_rerenders_when_its_slider_moves():
    from vlacourse.setup_check import SceneExplorer

    explorer = SceneExplorer(height=60, width=80)
    before = explorer.view.image.value
    explorer.view.controls["red_block_x"].value = 0.3
    assert explorer.view.image.value != before
    explorer.view.controls["azimuth"].value = 180
    assert explorer.view.redraws == 3
