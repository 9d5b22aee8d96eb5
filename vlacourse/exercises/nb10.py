"""Tests of notebook 10's exercises: Transporter's place cross-correlation and the top camera's back-projection,
each checked against hand values and against the package's version (``vlacourse.hierarchy``)."""

import numpy as np
import torch

from vlacourse.exercises import exercise_test
from vlacourse.hierarchy.cliport import correlate


@exercise_test("place_map")
def a_crop_finds_its_own_pattern(fn):
    key = np.zeros((1, 5, 7))
    key[0, 1:4, 3:6] = np.arange(9).reshape(3, 3)  # a pattern centred on pixel (2, 4)
    kernel = key[:, 1:4, 3:6].copy()
    got = np.asarray(fn(key, kernel), dtype=float)
    assert got.shape == (5, 7), f"one score per pixel of the key, shape (5, 7), got {got.shape}"
    assert np.unravel_index(got.argmax(), got.shape) == (2, 4), (
        "the crop slid over the features it was cut from scores highest where it was cut: pixel (2, 4)"
    )
    assert got[2, 4] == (np.arange(9) ** 2).sum(), "at (2, 4) the score is the sum of the pattern's squares, 204"


@exercise_test("place_map")
def it_pads_with_zeros_and_sums_over_channels(fn):
    key, kernel = np.ones((2, 4, 4)), np.ones((2, 3, 3))
    got = np.asarray(fn(key, kernel), dtype=float)
    assert got[1, 1] == 18, "inside the image: 2 channels x 9 offsets of 1 x 1"
    assert got[0, 0] == 8, "at a corner only 2 x 2 of the 3 x 3 offsets fall inside the image (zeros beyond)"
    assert got[0, 2] == 12, "on an edge, 2 x 3 offsets fall inside"


@exercise_test("place_map")
def it_matches_the_planners_correlation(fn):
    rng = np.random.default_rng(0)
    for channels, height, width, size in ((3, 8, 14, 5), (1, 6, 6, 3), (4, 9, 5, 7)):
        key, kernel = rng.normal(size=(channels, height, width)), rng.normal(size=(channels, size, size))
        expected = correlate(torch.tensor(key)[None], torch.tensor(kernel)[None])[0].numpy()
        np.testing.assert_allclose(
            np.asarray(fn(key, kernel), dtype=float),
            expected,
            atol=1e-9,
            err_msg=f"a {size} x {size} crop over ({channels}, {height}, {width}) features, against "
            "vlacourse.hierarchy.cliport.correlate",
        )


@exercise_test("point_under")
def the_middle_of_the_view_is_under_the_camera(fn):
    for height in (0.0, 0.04):
        got = np.asarray(fn((31.5, 55.5), height), dtype=float)
        assert got.shape == (3,), f"a point (x, y, z), shape (3,), got {got.shape}"
        np.testing.assert_allclose(
            got, [0.34, 0.0, height], atol=1e-9, err_msg="the image's centre looks straight down at (0.34, 0)"
        )


@exercise_test("point_under")
def a_pixel_covers_less_of_a_higher_surface(fn):
    on_table = np.asarray(fn((31.5, 56.5), 0.0), dtype=float)[1]
    on_block = np.asarray(fn((31.5, 56.5), 0.04), dtype=float)[1]
    per_pixel = 1.5 * 2 * np.tan(np.radians(8)) / 64
    assert np.isclose(on_table, per_pixel), (
        f"one column right of the centre on the table is y = 1.5 m x 2 tan(8 deg) / 64 = {per_pixel * 1000:.2f} mm"
    )
    assert np.isclose(on_block, per_pixel * 1.46 / 1.5), "4 cm up, the camera is 1.46 m away: the pixel covers less"


@exercise_test("point_under")
def it_matches_the_top_views_back_projection(fn):
    from vlacourse.hierarchy.top_view import point_of  # imports MuJoCo: only once a notebook chose its GL backend

    for pixel, height in (((0.0, 0.0), 0.0), ((12.0, 90.0), 0.04), ((63.0, 20.0), 0.05), ((40.3, 71.8), 0.02)):
        np.testing.assert_allclose(
            np.asarray(fn(pixel, height), dtype=float),
            point_of([pixel], height)[0],
            atol=1e-9,
            err_msg=f"pixel {pixel} at height {height} m, against vlacourse.hierarchy.top_view.point_of",
        )


@exercise_test("displacement_of")
def it_moves_as_every_command_says(fn):
    from vlacourse.hierarchy.commands import COMMANDS, parse_command

    for text in COMMANDS:
        expected = parse_command(text).displacement
        np.testing.assert_allclose(
            np.asarray(fn(text), dtype=float),
            np.zeros(3) if expected is None else expected,
            atol=1e-12,
            err_msg=f"{text!r}, against vlacourse.hierarchy.commands.parse_command (forward +x, left +y, up +z)",
        )


@exercise_test("displacement_of")
def it_refuses_what_is_no_command(fn):
    for text in ("move up 3 cm", "move left 11 cm", "lower 0 cm", "raise 2.5 cm", "dance", "move left 4"):
        try:
            fn(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} is no command: raise a ValueError that says what a command looks like")
