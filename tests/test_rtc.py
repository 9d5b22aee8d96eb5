"""Real-time chunking: the soft mask and guidance weight against their closed forms, the guided sampler against
the plain one, the asynchronous loop's bookkeeping, and a rerun of the shipped sweep's first episodes."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from vlacourse.chunking.rtc import (
    STRATEGIES,
    ChunkPlanner,
    ExecutionConfig,
    SweepRecipe,
    Trace,
    boundary_jumps,
    ensemble_action,
    episode_metrics,
    guidance_sensitivity,
    guidance_weight,
    guided_denoise,
    hard_mask,
    load_recorded_sweep,
    record_sweep,
    rms_jerk,
    run_episode,
    soft_mask,
    summarize,
)
from vlacourse.policies.flow import load_course_flow_vla
from vlacourse.policies.policy import torch_threads
from vlacourse.sim.env import MAX_STEP, TabletopEnv
from vlacourse.sim.evaluate import evaluation_seed


@pytest.fixture(scope="module")
def policy():
    return load_course_flow_vla()


@pytest.fixture(scope="module")
def observation():
    env = TabletopEnv("pick_place")
    observation, _ = env.reset(seed=evaluation_seed(0, 0))
    for _ in range(20):
        observation, *_ = env.step(np.array([0.4, -0.2, -0.3, -1.0]))
    return observation


def test_soft_mask_is_the_papers_formula():
    H, d, s = 10, 2, 4
    weights = soft_mask(H, d, s)
    for i in range(H):
        c = (H - s - i) / (H - s - d + 1)
        expected = 1.0 if i < d else (c * (math.exp(c) - 1) / (math.e - 1) if i < H - s else 0.0)
        assert weights[i] == pytest.approx(expected)
    assert np.all(np.diff(weights) <= 0), "the weights only decay along the chunk"
    assert 0 < weights[d] < 1 and weights[H - s - 1] > 0
    np.testing.assert_array_equal(hard_mask(H, d), [1, 1, 0, 0, 0, 0, 0, 0, 0, 0])


def test_guidance_weight_is_clipped_at_beta():
    assert guidance_weight(0.5, 5.0) == pytest.approx(2.0)  # (0.25 + 0.25) / 0.25
    assert guidance_weight(1.0, 5.0) == 5.0 and guidance_weight(0.0, 5.0) == 5.0  # unbounded at both ends
    assert guidance_weight(0.9, 5.0) == 5.0 and guidance_weight(0.9, 100.0) == pytest.approx(0.82 / 0.09)


def test_zero_guidance_is_the_plain_sampler(policy, observation):
    images, instructions, state = policy.observation_tensors([observation])
    noise = torch.randn(1, 10, 4, generator=torch.Generator().manual_seed(3))
    plain = policy.denoise(images, instructions, state, noise)[-1]
    cache = policy.prefix_cache(images, instructions)
    target = torch.ones_like(noise)
    unweighted = guided_denoise(policy, cache, state, noise, target, torch.zeros(10), beta=5.0)
    unguided = guided_denoise(policy, cache, state, noise, target, torch.ones(10), beta=0.0)
    torch.testing.assert_close(unweighted, plain, rtol=0, atol=1e-6)
    torch.testing.assert_close(unguided, plain, rtol=0, atol=1e-6)
    guided = guided_denoise(policy, cache, state, noise, target, torch.ones(10), beta=5.0)
    assert (guided - target).abs().mean() < (plain - target).abs().mean(), "guidance pulls toward the target"


def test_no_previous_chunk_and_no_delay_is_the_plain_sampler(policy, observation):
    chunk = ChunkPlanner(policy, ExecutionConfig("rtc", 0, 5), seed=11)(observation, None)
    noise = torch.randn(1, 10, 4, generator=torch.Generator().manual_seed(11))
    plain = policy.unnormalize_actions(policy.denoise(*policy.observation_tensors([observation]), noise)[-1])[0]
    np.testing.assert_allclose(chunk, plain.numpy(), atol=1e-6)


def test_guidance_sensitivity_is_a_ratio_per_step(policy, observation):
    ratios = guidance_sensitivity(policy, observation)
    assert len(ratios) == policy.config.num_steps
    assert all(0 < r < 1 for r in ratios), ratios  # our expert is nearly sure of its chunk: the notebook's claim
    assert guidance_sensitivity(policy, observation) == ratios, "seeded: the same numbers again"


def test_rtc_pulls_the_frozen_actions_toward_the_previous_chunk(policy, observation):
    ahead = np.tile([0.8, 0.8, 0.0, -1.0], (6, 1))  # a previous chunk unlike what the policy would do here
    plain = ChunkPlanner(policy, ExecutionConfig("naive", 4, 4), seed=5)(observation, ahead)
    guided = ChunkPlanner(policy, ExecutionConfig("rtc", 4, 4), seed=5)(observation, ahead)
    distance = {name: np.abs(chunk[:4] - ahead[:4]).mean() for name, chunk in (("plain", plain), ("rtc", guided))}
    assert distance["rtc"] < 0.8 * distance["plain"], distance


@pytest.mark.parametrize("strategy", ["naive", "hard_mask", "rtc"])
def test_the_executed_frozen_prefix_is_the_previous_chunk(policy, strategy):
    d, s = 3, 4
    trace = run_episode(policy, ExecutionConfig(strategy, d, s), evaluation_seed(0, 1), max_steps=30)
    assert trace.switches[:4] == [3, 10, 14, 18], "the first chunk after the d-step wait, then one every s steps"
    for (previous_start, previous), (start, chunk), switch in zip(
        trace.chunks, trace.chunks[1:], trace.switches[1:], strict=False
    ):
        assert switch == start + d, "a chunk takes over d steps after its observation"
        frozen = range(start, start + d)  # what ran while this chunk was being computed
        np.testing.assert_array_equal(trace.actions[frozen], previous[[t - previous_start for t in frozen]])
        np.testing.assert_array_equal(trace.actions[switch], chunk[d])


def test_synchronous_pauses_d_steps_per_chunk(policy):
    trace = run_episode(policy, ExecutionConfig("synchronous", 2, 5), evaluation_seed(0, 1), max_steps=21)
    assert trace.paused == [0, 1, 7, 8, 14, 15]
    assert np.all(trace.actions[trace.paused][:, :3] == 0), "a paused arm commands no motion"


def test_temporal_ensembling_weights_the_oldest_first():
    older, newer = (0, np.zeros((10, 2))), (5, np.ones((10, 2)))
    np.testing.assert_allclose(ensemble_action([older, newer], 6, 0.0), [0.5, 0.5])
    w = np.exp(-1.0 * np.arange(2))  # ACT: w_i = exp(-m i), w_0 for the oldest prediction
    np.testing.assert_allclose(ensemble_action([older, newer], 6, 1.0), [w[1] / w.sum()] * 2)
    np.testing.assert_allclose(ensemble_action([older, newer], 12, 1.0), [1.0, 1.0])  # the older chunk ended


def test_metrics_against_a_hand_made_trace():
    actions = np.zeros((8, 4))
    actions[4:, 0] = 0.5  # the chunk starting at step 4 moves at 0.5 in x
    trace = Trace(actions, switches=[0, 4], grasp_step=6)
    np.testing.assert_allclose(boundary_jumps(trace), [0.5])
    velocity = actions[:, 0] * MAX_STEP / 0.02
    jerk = np.diff(velocity, 2) / 0.02**2
    assert rms_jerk(trace) == pytest.approx(np.sqrt(np.mean(jerk**2)))
    metrics = episode_metrics(trace)
    assert metrics["grasped"] == 1 and metrics["seconds_to_grasp"] == pytest.approx(0.12)
    assert metrics["success"] == 0 and math.isnan(metrics["seconds"])


def test_bad_settings_name_the_fix():
    with pytest.raises(ValueError, match=r"choose s in \[4, 6\]"):
        ExecutionConfig("rtc", 4, 7).check(10)
    with pytest.raises(ValueError, match=r"choose s in \[3, 7\]"):
        ExecutionConfig("rtc", 3, 2).check(10)
    with pytest.raises(ValueError, match="unknown strategy 'smooth'"):
        ExecutionConfig("smooth", 1, 5).check(10)
    with pytest.raises(ValueError, match="an int >= 0"):
        ExecutionConfig("rtc", -1, 5).check(10)


def test_a_policy_that_holds_its_actions_is_refused(policy, monkeypatch):
    monkeypatch.setattr(policy.config, "action_repeat", 5)
    with pytest.raises(ValueError, match="action_repeat=1"):
        ChunkPlanner(policy, ExecutionConfig("rtc", 0, 5), seed=0)


def test_the_recording_reruns(policy):
    """The shipped sweep's first episode, rerun for the two strategies the notebook compares most."""
    recording = load_recorded_sweep()
    recipe = SweepRecipe(**{k: tuple(v) if k == "delays" else v for k, v in recording["recipe"].items()})
    assert set(recording["results"]) == set(STRATEGIES) and len(recording["results"]["rtc"]) == len(recipe.delays)
    env = TabletopEnv(recipe.task)
    with torch_threads(recipe.threads):
        for strategy in ("naive", "rtc"):
            config = ExecutionConfig(strategy, recipe.delays[-1], recipe.horizon)
            rerun = episode_metrics(run_episode(policy, config, evaluation_seed(recipe.seed, 0), recipe.task, env))
            recorded = recording["results"][strategy][str(recipe.delays[-1])][0]
            for key, value in recorded.items():
                # The events (success, grasp, their times) rerun exactly. A measurement drifts in its last bits
                # on another CPU, and jerk (a third difference of the positions) magnifies that to 0.5%.
                tolerance = 0 if key in ("success", "grasped", "seconds", "seconds_to_grasp") else 1e-2
                assert rerun[key] == pytest.approx(value, rel=tolerance, nan_ok=True), (strategy, key)
    summary = summarize(recording["results"])
    assert summary["rtc"]["4"]["discontinuity"] < summary["naive"]["4"]["discontinuity"]


def test_a_sweep_keeps_each_finished_cell_and_resumes_from_them(tmp_path):
    recipe = SweepRecipe(delays=(0,), episodes=1)
    first = record_sweep(recipe, ("naive",), progress=False, cells_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["naive-d0.json"]
    again = record_sweep(recipe, ("naive",), progress=False, cells_dir=tmp_path)  # read, not run
    assert json.dumps(again) == json.dumps(first)  # as text: NaN (an episode that never placed) equals itself
    with pytest.raises(ValueError, match="another recipe"):
        record_sweep(SweepRecipe(delays=(0,), episodes=2), ("naive",), progress=False, cells_dir=tmp_path)


@pytest.mark.reproduce
def test_the_record_command_reproduces_the_whole_sweep(tmp_path):
    """``make reproduce ARTIFACT=rtc``: every strategy at every delay (hours: run the command with ``--cells``
    to be able to stop and resume it)."""
    recording = load_recorded_sweep()
    out = tmp_path / "rtc_sweep.json"
    subprocess.run([sys.executable, "-m", "vlacourse.chunking.rtc", "record", "--out", str(out), "--quiet"], check=True)
    rerun = load_recorded_sweep(out)
    assert rerun["recipe"] == recording["recipe"]
    for strategy, cells in recording["results"].items():
        for delay, episodes in cells.items():
            for recorded, again in zip(episodes, rerun["results"][strategy][delay], strict=True):
                for key, value in recorded.items():
                    assert again[key] == pytest.approx(value, rel=1e-3, nan_ok=True), (strategy, delay, key)
