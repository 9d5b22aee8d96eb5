"""Offscreen rendering: package models load by name, policy frames are fast settings, errors name the fix."""

import mujoco
import numpy as np
import pytest

from vlacourse.render import FAST_QUALITY, Camera, load_model


@pytest.fixture(scope="module")
def scene():
    model = load_model("welcome_scene")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def test_unknown_model_names_the_available_ones():
    with pytest.raises(ValueError, match=r"no model named 'robot_arm'.*'welcome_scene'"):
        load_model("robot_arm")


def test_policy_frame_shows_the_scene(scene):
    model, data = scene
    frame = Camera(model, 64, 64).render(data, camera="scene")
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    red = (frame[..., 0] > 150) & (frame[..., 1] < 80) & (frame[..., 2] < 80)
    assert red.sum() >= 4  # the red block is in view


def test_fast_camera_leaves_the_models_quality_settings_alone(scene):
    model, data = scene
    before = {name: getattr(model.vis.quality, name) for name in FAST_QUALITY}
    Camera(model, 32, 32, fast=True).render(data, camera="scene")
    assert {name: getattr(model.vis.quality, name) for name in FAST_QUALITY} == before
    assert all(before[name] != value for name, value in FAST_QUALITY.items())  # so the check above means something


def test_fast_and_pretty_frames_differ_only_in_shading(scene):
    model, data = scene
    fast = Camera(model, 64, 64, fast=True).render(data, camera="scene").astype(int)
    pretty = Camera(model, 64, 64, fast=False).render(data, camera="scene").astype(int)
    assert np.abs(fast - pretty).mean() < 20  # same scene, same view


def test_orbiting_changes_the_view(scene):
    model, data = scene
    camera = Camera(model, 48, 48)
    camera.orbit(azimuth=0, elevation=-30, distance=1.3)
    side = camera.render(data).copy()
    camera.orbit(azimuth=0, elevation=-89, distance=1.3)
    assert not np.array_equal(side, camera.render(data))


def test_rendering_is_deterministic(scene):
    model, data = scene
    camera = Camera(model, 64, 64)
    assert np.array_equal(camera.render(data, "scene"), camera.render(data, "scene"))


def test_bad_camera_and_sizes_name_the_fix(scene):
    model, data = scene
    with pytest.raises(ValueError, match=r"no camera named 'wrist'.*\['scene'\] or None"):
        Camera(model, 16, 16).render(data, camera="wrist")
    with pytest.raises(ValueError, match=r"within the model's offscreen buffer 480x640.*offheight"):
        Camera(model, 1000, 64)
