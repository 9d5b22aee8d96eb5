"""A policy that acts at a lower rate than the arm (``PolicyConfig.action_repeat``): what it learns from the
demonstrations and how its actions reach the arm, checked against a brute-force computation."""

import numpy as np
import pytest

from vlacourse.policies.policy import ChunkBatches, Policy, PolicyConfig, actions_per_second, held_actions
from vlacourse.sim.evaluate import evaluate


def brute_force_held(actions: np.ndarray, repeat: int) -> np.ndarray:
    """One action per ``repeat`` control steps, by loops: the mean motion, the last gripper command."""
    held = []
    for start in range(0, len(actions), repeat):
        steps = actions[start : start + repeat]
        held.append([*(sum(step[axis] for step in steps) / repeat for axis in range(3)), steps[-1][3]])
    return np.array(held, np.float32)


def test_held_actions_move_as_far_and_command_the_gripper_as_the_last_step():
    actions = np.random.default_rng(0).uniform(-1, 1, (2, 15, 4)).astype(np.float32)  # (B, T * k, D)
    held = held_actions(actions, 5)
    assert held.shape == (2, 3, 4)
    for row, expected in zip(held, actions, strict=True):
        np.testing.assert_allclose(row, brute_force_held(expected, 5), rtol=1e-6)
    # held for 5 steps, each moves as far as the 5 steps it stands for
    np.testing.assert_allclose(np.repeat(held, 5, axis=1)[..., :3].sum(1), actions[..., :3].sum(1), rtol=1e-5)
    assert held_actions(actions, 1) is actions


def test_chunk_batches_at_10_hz_hold_the_demonstrations_actions(dataset):
    config = PolicyConfig(chunk_size=2, n_action_steps=2, action_repeat=5)
    batches = ChunkBatches(dataset, config, 64, seed=0)
    frames = batches.rng.choice(batches.frames, 64)
    batch = batches.batch_at(frames)
    assert batch["action"].shape == (64, 2, 4) and batch["action_is_pad"].shape == (64, 2)
    raw = dataset.arrays["action"]
    for i, frame in enumerate(frames):
        end = batches.episode_end[frame]
        steps = [raw[min(step, end - 1)] for step in range(frame, frame + 10)]  # padded with the last action
        np.testing.assert_allclose(batch["action"][i].numpy(), brute_force_held(np.array(steps), 5), rtol=1e-6)
        assert batch["action_is_pad"][i].tolist() == [frame >= end, frame + 5 >= end]
    assert batch["action_is_pad"].any(), "some frames near an episode's end: check padding on them"


class CountingChunks(Policy):
    """Chunks whose actions are numbered by the chunk and the action: 10 * chunk + action."""

    def __init__(self, config: PolicyConfig):
        super().__init__(config, None)
        self.chunks = 0

    def predict_action_chunk(self, observation):
        self.chunks += 1
        numbers = 10 * self.chunks + np.arange(self.config.chunk_size, dtype=np.float32)  # (H,)
        return np.repeat(numbers[:, None], self.config.action_dim, axis=1)  # (H, D)

    def predict_action_chunks(self, observations):
        return np.stack([self.predict_action_chunk(o) for o in observations])


def test_select_action_holds_each_action_for_action_repeat_steps(observation):
    policy = CountingChunks(PolicyConfig(chunk_size=3, n_action_steps=2, action_repeat=4))
    first = [policy.select_action(observation)[0] for _ in range(9)]
    assert first == [10] * 4 + [11] * 4 + [20], "two actions of each chunk, each held four control steps"
    assert policy.queued_actions == 7
    assert policy.steps_per_chunk == 8 and actions_per_second(policy, observation, chunks=2)["actions_per_second"] > 0


def test_side_by_side_evaluation_holds_actions_as_select_action_does():
    policy = CountingChunks(PolicyConfig(chunk_size=2, n_action_steps=2, action_repeat=5))
    queued = []
    original = policy.executed_actions

    def recording(chunk):
        queued.append(original(chunk))
        return queued[-1]

    policy.executed_actions = recording
    evaluate(policy, "reach", episodes=2, seed=0, progress=False, side_by_side=2)
    assert queued and all(len(q) == 10 for q in queued)
    np.testing.assert_array_equal(queued[0][:, 0], [10] * 5 + [11] * 5)


def test_an_action_repeat_below_one_is_refused():
    with pytest.raises(ValueError, match="action_repeat must be at least 1"):
        PolicyConfig(action_repeat=0)
