"""The scripted expert: minimum-jerk motion against its closed form, success, and its options."""

import numpy as np
import pytest

from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.evaluate import evaluate
from vlacourse.sim.expert import STYLES, ScriptedExpert, minimum_jerk
from vlacourse.sim.tasks import held


def test_minimum_jerk_has_zero_velocity_and_acceleration_at_both_ends():
    start, end = np.zeros(3), np.array([0.3, -0.1, 0.2])
    path = np.vstack([start, minimum_jerk(start, end, 200)])  # (201, 3)
    np.testing.assert_allclose(path[-1], end)
    velocity = np.diff(path, axis=0)
    acceleration = np.diff(velocity, axis=0)
    assert np.abs(velocity[[0, -1]]).max() < 1e-5 and np.abs(acceleration[[0, -1]]).max() < 1e-5
    # The peak speed of a minimum-jerk motion is 1.875 times the average (Flash and Hogan 1985).
    peak = np.linalg.norm(velocity, axis=1).max() / (np.linalg.norm(end - start) / 200)
    assert abs(peak - 1.875) < 1e-3


@pytest.mark.parametrize("task", ["reach", "push", "pick_place", "stack"])
def test_expert_solves_short_tasks(task):
    env = TabletopEnv(task, cameras=())
    result = evaluate(ScriptedExpert(env), task, episodes=20, env=env, progress=False)
    assert result.successes >= 19, result


def test_expert_clears_the_table():
    env = TabletopEnv("clear_table", cameras=())
    assert evaluate(ScriptedExpert(env), "clear_table", episodes=3, env=env, progress=False).successes == 3


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_operator_style_succeeds_and_they_differ(style):
    env = TabletopEnv("pick_place", cameras=())
    result = evaluate(ScriptedExpert(env, style=style), "pick_place", episodes=5, env=env, progress=False)
    assert result.successes == 5
    STYLE_LENGTHS[style] = result.mean_length


STYLE_LENGTHS: dict[str, float] = {}


def test_operator_styles_take_different_times():
    assert len(set(STYLE_LENGTHS.values())) == len(STYLES), STYLE_LENGTHS


def test_recovery_demonstration_misses_first_then_succeeds():
    env = TabletopEnv("pick_place", cameras=())
    expert = ScriptedExpert(env, recovery=True, seed=3)
    observation, _ = env.reset(seed=3)
    color, closed_on_nothing, terminated = env.task_spec.color, False, False
    while not terminated and env.steps < env.max_steps:
        action = expert.select_action(observation)
        observation, _, terminated, _, _ = env.step(action)
        if action[3] > 0 and env.arm.gripper_opening() < 0.01 and not held(env.arm, color):
            closed_on_nothing = True  # the fingers shut on air: the planned miss
    assert closed_on_nothing and terminated


def test_noise_changes_the_motion_but_not_the_labels_scale():
    env = TabletopEnv("pick_place", cameras=())
    expert = ScriptedExpert(env, noise=0.2, seed=0)
    observation, _ = env.reset(seed=0)
    differences = []
    for _ in range(50):
        action = expert.select_action(observation)
        differences.append(np.abs(action[:3] - expert.label[:3]).max())
        assert np.all(np.abs(expert.label) <= 1)
        observation, *_ = env.step(action)
    assert np.mean(differences) > 0.05


def test_bad_options_are_refused():
    env = TabletopEnv("reach", cameras=())
    with pytest.raises(ValueError, match=r"unknown operator style 'fast'.*'careful', 'quick', 'steady'"):
        ScriptedExpert(env, style="fast")
    with pytest.raises(ValueError, match="noise is a standard deviation"):
        ScriptedExpert(env, noise=-0.1)
