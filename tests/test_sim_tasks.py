"""The task suite: success detectors (true after the expert, false for a robot that does nothing),
held-out combinations, layouts."""

import numpy as np
import pytest

from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.expert import ScriptedExpert
from vlacourse.sim.tasks import COLORS, HELD_OUT, TASKS, is_success, sample_layout, sample_task


@pytest.mark.parametrize("task", TASKS)
def test_detector_is_true_when_the_expert_succeeds(task):
    env = TabletopEnv(task, cameras=())
    expert = ScriptedExpert(env)
    observation, info = env.reset(seed=11)
    assert not info["success"] and not is_success(env.arm, env.task_spec)
    terminated = truncated = False
    while not (terminated or truncated):
        observation, reward, terminated, truncated, info = env.step(expert.select_action(observation))
    assert terminated and reward == 1.0 and info["success"] and info["subtask"] == "done"
    assert is_success(env.arm, env.task_spec)


@pytest.mark.parametrize("task", TASKS)
def test_detector_stays_false_for_a_robot_that_does_nothing(task):
    env = TabletopEnv(task, cameras=())
    for seed in range(3):
        env.reset(seed=seed)
        for _ in range(min(env.max_steps, 150)):
            _, _, terminated, _, _ = env.step([0, 0, 0, -1])
            assert not terminated


def test_splits_keep_held_out_combinations_apart():
    rng = np.random.default_rng(0)
    for task in ("reach", "push", "pick_place", "stack"):
        train = {sample_task(task, rng, "train").color for _ in range(200)}
        heldout = {sample_task(task, rng, "heldout").color for _ in range(50)}
        assert heldout == {c for t, c in HELD_OUT if t == task}
        assert train == set(COLORS) - heldout
    with pytest.raises(ValueError, match="clear_table names no colour"):
        sample_task("clear_table", rng, "heldout")
    with pytest.raises(ValueError, match="unknown split 'test'"):
        sample_task("reach", rng, "test")


def test_every_colour_is_seen_in_training_in_some_task():
    for color in COLORS:
        assert any((task, color) not in HELD_OUT for task in ("reach", "push", "pick_place", "stack"))


def test_instructions_name_the_blocks_and_zones():
    rng = np.random.default_rng(1)
    for task in ("push", "stack"):
        for _ in range(20):
            spec = sample_task(task, rng)
            assert spec.color in spec.instruction and spec.target in spec.instruction


def test_layouts_keep_blocks_apart_and_in_reach():
    rng = np.random.default_rng(2)
    for _ in range(50):
        spec = sample_task("push", rng)
        layout = sample_layout(rng, spec)
        blocks = np.array([layout.blocks[c][:2] for c in COLORS])
        gaps = np.linalg.norm(blocks[:, None] - blocks[None], axis=-1) + np.eye(len(COLORS))
        assert gaps.min() > 0.08
        assert np.all(np.linalg.norm(blocks, axis=1) < 0.43)
        for zone in layout.zones.values():
            assert np.abs(blocks - zone).max(axis=1).min() > 0.07  # no block starts inside a zone
