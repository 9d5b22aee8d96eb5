"""Showing episodes: the video plays without ffmpeg, the plots draw, the benchmark prints its numbers."""

import base64
import io
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from PIL import Image

from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.expert import ScriptedExpert
from vlacourse.sim.show import plot_gripper_path, record, side_by_side, video


@pytest.fixture(scope="module")
def rollout():
    env = TabletopEnv("reach", render_size=(120, 160))
    return env, record(env, ScriptedExpert(env), seed=0)


def test_record_keeps_frames_path_and_subtasks(rollout):
    env, episode = rollout
    assert episode.success and len(episode.gripper_path) == env.steps == len(episode.subtasks)
    assert episode.frames[0].shape == (120, 160, 3) and episode.policy_frames[0].shape == (64, 64, 3)


def test_video_is_an_animated_webp_inline(rollout):
    _, episode = rollout
    html = video(episode.frames, fps=25).data
    payload = html.split("base64,")[1].split('"')[0]
    animation = Image.open(io.BytesIO(base64.b64decode(payload)))
    assert animation.format == "WEBP" and animation.n_frames == len(episode.frames)
    with pytest.raises(ValueError, match="no frames"):
        video([])


def test_plots_draw(rollout):
    env, episode = rollout
    for fig in (plot_gripper_path(episode, env), side_by_side(episode.policy_frames[0], episode.frames[0])):
        assert len(fig.axes) == 2
        matplotlib.pyplot.close(fig)


def test_benchmark_prints_every_number():
    out = subprocess.run(
        [sys.executable, "-m", "vlacourse.bench", "sim", "--episodes", "2"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "physics:",
        "policy frame 64x64, scene camera",
        "policy frame 64x64, wrist camera",
        "expert pick_place with both cameras",
        "expert pick_place without images",
        "clear_table",
    ):
        assert expected in out, out
    frame_ms = float(out.split("scene camera: ")[1].split(" ms")[0])
    assert np.isfinite(frame_ms)


def test_dataset_browser_redraws_when_its_sliders_move():
    from vlacourse.sim.dataset import collect
    from vlacourse.sim.show import DatasetBrowser

    browser = DatasetBrowser(collect("reach", episodes=2, seed=0, progress=False))
    first = browser.view.image.value
    browser.view.controls["frame"].value = 10
    assert browser.view.image.value != first
    browser.view.set(episode=1, frame=browser.view.controls["frame"].max)  # past the end of a shorter episode
    assert browser.view.redraws == 3
    with pytest.raises(ValueError, match=r"episode=2 is out of range: choose a value in \[0, 1\]"):
        browser.view.set(episode=2)


def test_commanded_offsets_sum_the_actions_in_centimetres():
    from vlacourse.sim.env import MAX_STEP
    from vlacourse.sim.show import commanded_offsets

    actions = np.zeros((5, 4))
    actions[:, 0] = 1.0  # full speed along x: MAX_STEP metres a step
    offsets = commanded_offsets(actions)
    assert offsets.shape == (6, 3) and offsets[0].tolist() == [0, 0, 0]
    np.testing.assert_allclose(offsets[:, 0], np.arange(6) * MAX_STEP * 100)


def test_the_denoising_figure_has_a_frame_per_euler_step_and_fixed_axes():
    from vlacourse.sim.show import plot_denoising

    rng = np.random.default_rng(0)
    path = rng.normal(size=(4, 3, 10, 4))  # 3 Euler steps of 3 samples
    fig = plot_denoising(path, demonstrated=rng.normal(size=(10, 4)))
    assert len(fig.frames) == 4 and len(fig.layout.sliders[0].steps) == 4
    assert len(fig.data) == 3 * 3 + 3  # three panels per sample, then the demonstration's three
    assert all(len(frame.data) == 9 for frame in fig.frames), "frames must leave the demonstration alone"
    np.testing.assert_allclose(fig.frames[-1].data[0].y, np.concatenate([[0], np.cumsum(path[-1, 0, :, 0])]))
    assert fig.layout.xaxis.range[0] > fig.layout.xaxis.range[1], "y grows to the left, as the scene camera shows it"
    with pytest.raises(ValueError, match="as FlowVLA.denoising_path returns it"):
        plot_denoising(path[0])


def test_the_flow_benchmark_prints_speed_against_50_hz():
    out = subprocess.run(
        [sys.executable, "-m", "vlacourse.bench", "flow", "--episodes", "1"], capture_output=True, text=True, check=True
    ).stdout
    for expected in ("50 Hz needs a chunk every 200 ms", "1 CPU thread(s), 10 Euler steps", "pick_place"):
        assert expected in out, out


def test_the_success_benchmark_prints_each_shipped_vla_with_its_interval():
    out = subprocess.run(
        [sys.executable, "-m", "vlacourse.bench", "success", "--episodes", "2", "--heldout-episodes", "1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for expected in (
        "scripted expert",
        "flow VLA",
        "FAST VLA",
        "binning VLA",
        "over 2 episodes",
        "heldout",
        "over 1 episodes",
    ):
        assert expected in out, out
    assert out.count("%]") == 7, out  # every line has its interval: the expert, then each VLA on two splits
