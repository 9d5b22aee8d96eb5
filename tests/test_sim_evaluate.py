"""Evaluation: the Wilson interval against scipy, repeatable numbers, and what is not a policy."""

import numpy as np
import pytest
from scipy.stats import binomtest

from vlacourse.policies.policy import Policy, PolicyConfig
from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.evaluate import evaluate, wilson_interval
from vlacourse.sim.expert import ScriptedExpert


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (7, 10), (40, 50), (50, 50), (1, 3)])
def test_wilson_interval_matches_scipy(successes, trials):
    expected = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose(wilson_interval(successes, trials), (expected.low, expected.high), atol=1e-6)


def test_wilson_interval_refuses_impossible_counts():
    with pytest.raises(ValueError, match="0 <= successes <= trials"):
        wilson_interval(5, 3)


class DoNothing:
    def reset(self):
        pass

    def select_action(self, observation):
        return np.array([0.0, 0.0, 0.0, -1.0])


def test_same_seeds_give_the_same_numbers():
    env = TabletopEnv("reach", cameras=())
    first = evaluate(ScriptedExpert(env), "reach", episodes=5, env=env, progress=False)
    second = evaluate(ScriptedExpert(env), "reach", episodes=5, env=env, progress=False)
    assert (first.successes, first.mean_length) == (second.successes, second.mean_length) == (5, first.mean_length)
    assert first.policy_hz > 0 and "success 100.0%" in str(first)


def test_a_policy_that_does_nothing_never_succeeds():
    result = evaluate(DoNothing(), "reach", episodes=3, progress=False)
    assert result.successes == 0 and result.mean_length == 100 and result.interval[0] == 0


def test_heldout_split_is_evaluated_on_heldout_colours():
    env = TabletopEnv("pick_place", split="heldout", cameras=())
    result = evaluate(ScriptedExpert(env), "pick_place", episodes=2, env=env, progress=False)
    assert result.split == "heldout" and env.task_spec.color == "green"


def test_what_is_not_a_policy_is_refused():
    with pytest.raises(TypeError, match="a policy needs reset\\(\\) and select_action"):
        evaluate(lambda observation: np.zeros(4), "reach", episodes=1)


def test_an_expert_bound_to_another_env_is_refused():
    expert = ScriptedExpert(TabletopEnv("reach", cameras=()))
    with pytest.raises(ValueError, match="bound to another environment.*ScriptedExpert\\(env\\)"):
        evaluate(expert, "reach", episodes=1, env=TabletopEnv("reach", cameras=()))


class StepsByIndex:
    """A course-style policy whose chunks depend on the observation: moves toward +x, then stops."""

    config = PolicyConfig(chunk_size=4, n_action_steps=2)

    def __init__(self):
        self.batches = []

    def reset(self):
        pass

    def predict_action_chunk(self, observation):
        x = observation["observation.state"][0]
        return np.tile(np.array([1.0 if x < 0.3 else 0.0, 0.0, -1.0, -1.0], np.float32), (4, 1))

    def predict_action_chunks(self, observations):
        self.batches.append(len(observations))
        return np.stack([self.predict_action_chunk(o) for o in observations])

    def select_action(self, observation):  # one step of a chunk, as Policy's queue would give it
        return self.predict_action_chunk(observation)[0]

    executed_actions = Policy.executed_actions  # reads only the config


def test_side_by_side_runs_the_same_episodes_in_batches():
    policy = StepsByIndex()
    alone = evaluate(policy, "reach", episodes=5, seed=0, progress=False)
    together = evaluate(policy, "reach", episodes=5, seed=0, progress=False, side_by_side=3)
    assert (together.successes, together.mean_length) == (alone.successes, alone.mean_length)
    assert max(policy.batches) == 3 and together.episodes == 5
    with pytest.raises(TypeError, match="side_by_side=1"):
        evaluate(DoNothing(), "reach", episodes=2, progress=False, side_by_side=2)
