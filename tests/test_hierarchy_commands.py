"""NaVILA's mid-level commands for the arm: the words, their parser, the oracle that says them and the low level
that carries them out."""

import numpy as np
import pytest

from vlacourse.hierarchy.commands import (
    COMMANDS,
    LONGEST_MOVE_CM,
    UNREADABLE,
    CommandOracle,
    commands_to,
    parse_command,
    run_commanded,
)
from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.expert import STYLES


def test_every_command_says_one_thing_and_parses():
    assert len(COMMANDS) == len(set(COMMANDS)) == 6 * LONGEST_MOVE_CM + 2
    moves = [parse_command(text).displacement for text in COMMANDS if parse_command(text).gripper is None]
    assert len({tuple(np.round(m, 3)) for m in moves}) == len(moves), "no two commands move the same way"
    assert parse_command("move left 4 cm").displacement == pytest.approx([0, 0.04, 0]), "left is the robot's +y"
    assert parse_command("move forward 4 cm").displacement == pytest.approx([0.04, 0, 0]), "forward: away, +x"
    assert parse_command("lower 3 cm").displacement == pytest.approx([0, 0, -0.03])
    assert parse_command(" close the gripper ").gripper == 1.0 and parse_command("open the gripper").gripper == -1.0


@pytest.mark.parametrize("text", ["move up 3 cm", "move left 11 cm", "lower 0 cm", "raise 2.5 cm", "stop", ""])
def test_anything_else_is_refused_with_the_grammar(text):
    with pytest.raises(ValueError, match="is not a command: say 'move forward"):
        parse_command(text)


def test_the_way_to_a_point_adds_up_to_it_and_clears_the_table_first():
    rng = np.random.default_rng(0)
    for _ in range(200):
        here, goal = rng.uniform([0.1, -0.3, 0.02], [0.55, 0.3, 0.2], size=(2, 3))
        said = commands_to(here, goal)
        total = sum(parse_command(text).displacement for text in said) if said else np.zeros(3)
        assert total == pytest.approx(np.round((goal - here) * 100) / 100, abs=1e-9), "every centimetre said once"
        axes = [int(np.flatnonzero(parse_command(text).displacement)[0]) for text in said]
        vertical = [k for k, axis in enumerate(axes) if axis == 2]
        lateral = [k for k, axis in enumerate(axes) if axis != 2]
        if goal[2] > here[2]:
            assert all(v < k for v in vertical for k in lateral), "going up: before crossing"
        else:
            assert all(v > k for v in vertical for k in lateral), "going down: after crossing"
        assert axes == sorted(axes, key=lambda a: {0: 1, 1: 2, 2: 0 if goal[2] > here[2] else 3}[a])


@pytest.mark.parametrize("task", ["pick_place", "stack"])
def test_the_oracles_commands_do_the_task_with_every_low_level(task):
    env = TabletopEnv(task, cameras=())
    for style in STYLES:
        for seed in range(3):
            observation = env.reset(seed=seed)[0]
            episode = run_commanded(env, observation, CommandOracle(env), style)
            assert episode.success, (task, style, seed, episode.commands)
            assert UNREADABLE not in episode.commands and 2 < episode.commands_per_second < 6, episode


def test_the_oracle_corrects_a_wrong_move_from_where_the_arm_is():
    env = TabletopEnv("pick_place", cameras=())
    env.reset(seed=0)
    oracle = CommandOracle(env)
    first = parse_command(oracle())
    assert first.displacement is not None
    env.target = env.target - 3 * first.displacement  # as if the low level had gone the wrong way, three times over
    again = parse_command(oracle())
    assert again.displacement @ first.displacement > 0, "the next command heads the same way again, further"


def test_text_that_is_no_command_holds_the_arm_and_is_recorded():
    env = TabletopEnv("pick_place", cameras=())
    observation = env.reset(seed=0)[0]
    start = env.target.copy()
    said = iter(["dance", "move left 11 cm"])
    episode = run_commanded(env, observation, lambda observation: next(said, "open the gripper"), "quick")
    assert episode.commands[:2] == [UNREADABLE, UNREADABLE] and not episode.success
    assert np.allclose(env.target, start), "nothing moved: every command held or opened the open gripper"
