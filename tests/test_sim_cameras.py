"""The pinhole projection against the renderer, the pointing labels, and the cheap pointing scenes."""

import numpy as np
import pytest

from vlacourse.sim.arm import Arm
from vlacourse.sim.cameras import (
    PointingLabels,
    PointingScenes,
    back_project,
    camera_poses,
    named_block,
    project,
    render_pointing_scenes,
)
from vlacourse.sim.tasks import BLOCK_HALF, COLORS

RGB_CHANNEL = {"red": 0, "green": 1, "blue": 2}  # the channel that dominates each block's colour


@pytest.fixture(scope="module")
def scenes():
    return render_pointing_scenes(60, seed=4, progress=False)


@pytest.fixture(scope="module")
def labels(scenes):
    return PointingLabels()(scenes["observation.state"], scenes["observation.environment_state"])


def test_a_point_on_the_viewing_axis_lands_in_the_middle_and_one_behind_is_not_seen():
    rotation = np.eye(3)  # looking down -z
    points = np.array([[0, 0, -2.0], [0.5, 0.25, -1.0], [0, 0, 1.0]])
    uvs = project(points, np.zeros(3), rotation, 90.0)  # 90 degrees: the image's edge is at 45 degrees, u = 1
    assert np.allclose(uvs[0], [0, 0, 1]) and np.allclose(uvs[1], [0.5, -0.25, 1]) and uvs[2, 2] == 0


def test_back_projection_onto_the_table_undoes_the_projection(scenes):
    position, rotation, fovy = camera_poses(Arm())["scene"]
    blocks = scenes["observation.environment_state"][:, :12].reshape(-1, 3).astype(np.float64)  # (N * 4, 3)
    uv = project(blocks, position, rotation, fovy)[:, :2]
    assert np.allclose(back_project(uv, BLOCK_HALF, position, rotation, fovy), blocks, atol=1e-9)


def test_each_block_is_drawn_where_it_projects(scenes, labels):
    """The renderer is the independent check: the pixel at a block's projected centre has the block's colour."""
    for camera, key in enumerate(("observation.images.scene", "observation.images.wrist")):
        for block, color in enumerate(COLORS[:3]):
            seen = labels[:, block, camera, 2] > 0
            uv = labels[seen, block, camera, :2]
            columns, rows = np.clip((uv + 1) / 2 * 64, 0, 63).astype(int).T
            pixels = scenes[key][np.flatnonzero(seen), rows, columns].astype(int)  # (n, 3)
            dominant = (pixels.argmax(1) == RGB_CHANNEL[color]).mean()
            # The wrist camera sees the fingers at its sides: a block behind them projects right but is hidden.
            assert dominant > (0.9 if camera == 0 else 0.6), (key, color, dominant)


def test_the_scene_camera_sees_every_block_and_the_wrist_camera_some(labels):
    assert labels.shape == (60, len(COLORS), 2, 3)
    assert labels[:, :, 0, 2].all() and 0.1 < labels[:, :, 1, 2].mean() < 0.9


def test_scenes_are_seeded_and_each_renders_alone_as_among_all(scenes, labels):
    again = render_pointing_scenes(60, seed=4, progress=False)
    assert all(np.array_equal(scenes[k], again[k]) for k in scenes)
    some = PointingScenes(60, seed=4).frames([41, 7, 41])  # rendered on demand, out of order, one twice
    assert all(np.array_equal(some[k], scenes[k][[41, 7, 41]]) for k in scenes)
    assert np.array_equal(PointingScenes(60, seed=4).pointing_labels([41, 7]), labels[[41, 7]])
    assert not np.array_equal(
        render_pointing_scenes(2, seed=5, progress=False)["observation.state"], scenes["observation.state"][:2]
    )


def test_the_named_block_is_the_first_colour_said():
    assert named_block("stack the blue block on the red block") == COLORS.index("blue")
    assert named_block("where is the Yellow block?") == COLORS.index("yellow")
    with pytest.raises(ValueError, match="names no block"):
        named_block("clear the table")
