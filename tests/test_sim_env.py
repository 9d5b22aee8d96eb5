"""The environment: the gymnasium API, determinism, and bad input that is refused or clipped."""

import numpy as np
import pytest

from vlacourse.sim.env import ACTION_NAMES, ENVIRONMENT_STATE_NAMES, MAX_STEP, STATE_NAMES, TabletopEnv
from vlacourse.sim.tasks import COLORS, ZONES


@pytest.fixture(scope="module")
def env():
    return TabletopEnv("pick_place")


def _run(env, seed, steps=25):
    observation, _ = env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 4))
    states, images = [observation["observation.state"]], [observation["observation.images.scene"]]
    for action in actions:
        observation, *_ = env.step(action)
        states.append(observation["observation.state"])
        images.append(observation["observation.images.scene"])
    return np.array(states), np.array(images)


def test_same_seed_same_trajectory_and_images(env):
    states, images = _run(env, seed=5)
    again_states, again_images = _run(TabletopEnv("pick_place"), seed=5)  # a fresh env, too
    assert np.array_equal(states, again_states) and np.array_equal(images, again_images)
    other_states, _ = _run(env, seed=6)
    assert not np.array_equal(states, other_states)


def test_observation_matches_its_space(env):
    observation, info = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    assert observation["observation.images.wrist"].shape == (64, 64, 3)
    assert observation["observation.state"].shape == (len(STATE_NAMES),)
    assert isinstance(observation["task"], str) and info["subtask"].startswith("pick up the")
    assert env.action_space.shape == (len(ACTION_NAMES),)
    assert (env.action_space.low == -1).all() and (env.action_space.high == 1).all()


def test_environment_state_is_the_objects_true_positions(env):
    observation, _ = env.reset(seed=3)
    positions = dict(zip(ENVIRONMENT_STATE_NAMES, observation["observation.environment_state"], strict=True))
    for color in COLORS:
        block = env.arm.block_position(color)
        np.testing.assert_allclose([positions[f"{color}_{a}"] for a in "xyz"], block, atol=1e-6)
    for zone in ZONES:
        np.testing.assert_allclose([positions[f"{zone}_{a}"] for a in "xy"], env.arm.zone_position(zone)[:2], atol=1e-6)


def test_image_size_and_cameras_are_configurable():
    env = TabletopEnv("reach", image_size=32, cameras=("wrist",))
    observation, _ = env.reset(seed=0)
    assert observation["observation.images.wrist"].shape == (32, 32, 3)
    assert "observation.images.scene" not in observation
    assert env.render().shape == (360, 480, 3)


def test_actions_move_the_gripper_target_by_at_most_a_centimetre(env):
    env.reset(seed=1)
    before = env.target.copy()
    env.step([1, -1, 0.5, 0])
    np.testing.assert_allclose(env.target - before, [MAX_STEP, -MAX_STEP, MAX_STEP / 2])


def test_out_of_bounds_actions_are_clipped(env):
    env.reset(seed=2)
    env.step([5.0, 0, 0, 3.0])
    clipped_target, clipped_state = env.target.copy(), env.state()
    env.reset(seed=2)
    env.step([1.0, 0, 0, 1.0])
    assert np.array_equal(env.target, clipped_target) and np.array_equal(env.state(), clipped_state)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ([np.nan, 0, 0, 0], "contains NaN or infinity"),
        ([0, np.inf, 0, 0], "contains NaN or infinity"),
        ([0, 0, 0], r"shape \(4,\) = \[dx, dy, dz, gripper\], got shape \(3,\)"),
        (np.zeros((2, 4)), r"got shape \(2, 4\); a batch or a chunk"),
    ],
)
def test_bad_actions_raise_and_change_nothing(env, action, message):
    env.reset(seed=3)
    env.step([0.2, 0, 0, 0])
    qpos, steps = env.arm.data.qpos.copy(), env.steps
    with pytest.raises(ValueError, match=message):
        env.step(action)
    assert np.array_equal(env.arm.data.qpos, qpos) and env.steps == steps


def test_stepping_before_reset_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"call env.reset\(seed=...\) before env.step"):
        TabletopEnv("reach", cameras=()).step([0, 0, 0, 0])


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown task 'pick'.*'pick_place'"):
        TabletopEnv("pick")
    with pytest.raises(ValueError, match=r"unknown camera\(s\) \['top'\]: choose from \('scene', 'wrist'\)"):
        TabletopEnv(cameras=("top",))
    env = TabletopEnv("reach", cameras=())
    with pytest.raises(ValueError, match="unknown task 'stacking'"):
        env.reset(seed=0, options={"task": "stacking"})
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) \['colour'\]"):
        env.reset(seed=0, options={"colour": "red"})
    with pytest.raises(ValueError, match="image_size must be an int"):
        TabletopEnv(image_size=0)


def test_episodes_are_truncated_at_the_step_limit():
    env = TabletopEnv("reach", cameras=())
    env.reset(seed=0)
    for _ in range(env.max_steps):
        _, reward, terminated, truncated, info = env.step([0, 0, 0, -1])
    assert truncated and not terminated and reward == 0 and not info["success"]


def test_reset_options_choose_task_and_colour():
    env = TabletopEnv("reach", cameras=())
    observation, info = env.reset(seed=0, options={"task": "stack", "color": "blue"})
    assert info["task_spec"].task == "stack" and info["task_spec"].color == "blue"
    assert "blue" in observation["task"]
    with pytest.raises(ValueError, match=r"colour 'red' is not in the train split of stack"):
        env.reset(seed=0, options={"task": "stack", "color": "red"})


def test_an_unknown_split_is_refused_when_the_environment_is_made():
    with pytest.raises(ValueError, match=r"unknown split 'test': choose one of \('train', 'heldout'\)"):
        TabletopEnv("pick_place", split="test")
    with pytest.raises(ValueError, match="clear_table names no colour"):
        TabletopEnv("clear_table", split="heldout")
