"""The shared policy interface, its data pipeline and training loop, on the binning VLA."""

import numpy as np
import pytest
import torch

from vlacourse.policies.binning_vla import BinningVLA, build_vla
from vlacourse.policies.flow import load_course_flow_vla
from vlacourse.policies.policy import (
    ENVIRONMENT_STATE_DIM,
    ChunkBatches,
    Policy,
    PolicyConfig,
    actions_per_second,
    chunk_error,
    load_policy,
    no_op_frames,
    object_offsets,
    train_policy,
)
from vlacourse.policies.vlm_prefix import grow_vocabulary
from vlacourse.sim.env import ENVIRONMENT_STATE_NAMES, TabletopEnv
from vlacourse.vlm.course_vlm import load_course_vlm


@pytest.fixture(scope="module")
def policy(dataset):
    torch.manual_seed(0)
    return build_vla(dataset, chunk_size=5).eval()


def test_chunks_follow_the_frame_and_are_padded_at_the_episode_end(dataset):
    config = PolicyConfig(chunk_size=5, n_action_steps=5)
    batches = ChunkBatches(dataset, config, batch_size=4, seed=0)
    last = dataset.episode_data_index["to"][0] - 1
    batch = batches.batch_at(np.array([0, last - 2]))
    assert batch["action"].shape == (2, 5, 4) and batch["observation.images.wrist"].shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(batch["action"][0].numpy(), dataset.arrays["action"][:5])
    assert batch["action_is_pad"][1].tolist() == [False, False, False, True, True]
    np.testing.assert_array_equal(batch["action"][1, 3].numpy(), dataset.arrays["action"][last])  # last repeated
    assert batch["task"][0] == dataset[0]["task"]


class ReplayPolicy(Policy):
    """Predicts the given chunks, in order: a stand-in for a trained policy."""

    def __init__(self, config, chunks):
        super().__init__(config, None)
        self.chunks, self.seen = chunks, []

    def predict_action_chunks(self, observations):
        self.seen = observations
        return self.chunks


def test_chunk_error_compares_predicted_and_demonstrated_chunks_without_padding(dataset):
    config = PolicyConfig(chunk_size=5, n_action_steps=5)
    last = dataset.episode_data_index["to"][0] - 1
    batch = ChunkBatches(dataset, config, batch_size=2, seed=0).batch_at(np.array([0, last - 2]))
    exact = batch["action"].numpy().copy()
    exact[1, 3:] = 99.0  # the padded actions: never compared
    replay = ReplayPolicy(config, exact)
    assert chunk_error(replay, batch) == 0.0
    assert replay.seen[1]["task"] == batch["task"][1]
    scene = dataset.arrays["observation.images.scene"]
    np.testing.assert_array_equal(replay.seen[1]["observation.images.scene"], scene[last - 2])
    np.testing.assert_array_equal(replay.seen[0]["observation.state"], dataset.arrays["observation.state"][0])
    zeros = ReplayPolicy(config, np.zeros_like(exact))
    real = ~batch["action_is_pad"].numpy()
    assert np.isclose(chunk_error(zeros, batch), np.abs(batch["action"].numpy()).mean(-1)[real].mean())


def test_no_op_frames_are_still_with_an_unchanged_gripper_and_start_no_chunk(dataset):
    no_op = no_op_frames(dataset)
    actions, starts = dataset.arrays["action"], set(dataset.episode_data_index["from"].tolist())
    for i in range(len(dataset)):  # brute force, frame by frame
        unchanged = i in starts or actions[i, 3] == actions[i - 1, 3]
        assert no_op[i] == (bool(np.all(np.abs(actions[i, :3]) < 0.05)) and unchanged), i
    assert no_op[list(starts)].all()  # the expert starts every episode at rest
    assert 0 < no_op.mean() < 0.3
    config = PolicyConfig(chunk_size=5, n_action_steps=5)
    assert not no_op[ChunkBatches(dataset, config, batch_size=4, seed=0).frames].any()
    assert len(ChunkBatches(dataset, config, 4, 0, skip_no_ops=False).frames) == len(dataset)


def test_growing_the_vocabulary_keeps_the_text_logits():
    from vlacourse.lm.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=50, n_layer=1, block_size=16)).eval()
    grown = grow_vocabulary(gpt, 7).eval()
    ids = torch.randint(0, 50, (2, 9))
    old, new = gpt(ids)[0], grown(ids)[0]
    assert new.shape == (2, 9, 57)
    torch.testing.assert_close(new[..., :50], old)
    assert grown.lm_head.weight.data_ptr() == grown.wte.weight.data_ptr()  # still tied


def test_forward_gives_a_loss_near_uniform_over_bins_and_learns_one_batch(dataset):
    torch.manual_seed(0)
    policy = build_vla(dataset, chunk_size=5)
    policy.config.locate_weight = 0.0  # the action tokens alone (the localisation loss is tested below)
    batch = ChunkBatches(dataset, policy.config, batch_size=8, seed=0)()
    loss, parts = policy(batch)
    assert parts["token_accuracy"] < 0.2 and loss.item() > np.log(256) * 0.5
    optimizer = torch.optim.AdamW(policy.parameters(), lr=3e-3)
    for _ in range(150):
        loss, parts = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert parts["token_accuracy"] > 0.6, f"150 steps on one batch should memorise it, got {parts}"


def test_object_offsets_are_the_objects_seen_from_the_gripper():
    env = TabletopEnv("stack")
    observation = env.reset(seed=4)[0]
    offsets = object_offsets(
        torch.from_numpy(observation["observation.environment_state"])[None],
        torch.from_numpy(observation["observation.state"])[None],
    )[0].numpy()
    gripper = env.arm.gripper_position()
    assert offsets.shape == (ENVIRONMENT_STATE_DIM,) == (len(ENVIRONMENT_STATE_NAMES),)
    np.testing.assert_allclose(offsets[3:6] * 0.1, env.arm.block_position("green") - gripper, atol=1e-5)
    np.testing.assert_allclose(offsets[14:16] * 0.1, env.arm.zone_position("black")[:2] - gripper[:2], atol=1e-5)


def test_the_localisation_loss_is_added_with_its_weight_and_trains_the_locator(dataset):
    torch.manual_seed(0)
    policy = build_vla(dataset, chunk_size=5)
    batch = ChunkBatches(dataset, policy.config, batch_size=8, seed=0)()
    loss, parts = policy(batch)
    assert loss.item() > parts["action_loss"] and 1 < parts["locate_cm"] < 100
    loss.backward()
    assert policy.locator.weight.grad.abs().sum() > 0
    policy.zero_grad()
    policy.config.locate_weight = 0.0
    loss, parts = policy(batch)
    assert loss.item() == pytest.approx(parts["action_loss"]) and "locate_cm" not in parts
    loss.backward()
    assert policy.locator.weight.grad is None or policy.locator.weight.grad.abs().sum() == 0


def test_predicted_chunks_are_bin_centres_inside_the_bounds(policy, observation):
    chunk = policy.predict_action_chunk(observation)
    tokenizer = policy.action_tokenizer
    assert chunk.shape == (5, 4) and chunk.dtype == np.float32
    assert np.all(chunk >= tokenizer.low - 1e-6) and np.all(chunk <= tokenizer.high + 1e-6)
    np.testing.assert_allclose(tokenizer.decode(tokenizer.encode(chunk)), chunk, atol=1e-6)


def test_select_action_predicts_once_per_n_action_steps(policy, observation, monkeypatch):
    calls = []
    original = BinningVLA.predict_action_chunk

    def counting(self, obs):
        calls.append(1)
        return original(self, obs)

    monkeypatch.setattr(BinningVLA, "predict_action_chunk", counting)
    policy.reset()
    actions = [policy.select_action(observation) for _ in range(12)]
    assert len(calls) == 3 and all(a.shape == (4,) for a in actions)  # 5 + 5 + 2 of a third chunk
    assert policy.queued_actions == 3  # the third chunk's last 3 of its 5
    np.testing.assert_array_equal(actions[0], actions[5])  # same observation, same chunk
    policy.reset()
    policy.select_action(observation)
    assert len(calls) == 4  # reset empties the queue


def test_save_and_load_give_the_same_actions(policy, observation, tmp_path):
    path = tmp_path / "vla.safetensors"
    policy.save(path, {"note": 1})
    loaded = Policy.load(path)
    assert isinstance(loaded, BinningVLA) and loaded.metrics == {"note": 1}
    np.testing.assert_array_equal(loaded.predict_action_chunk(observation), policy.predict_action_chunk(observation))
    np.testing.assert_array_equal(loaded.action_tokenizer.low, policy.action_tokenizer.low)


def test_a_truncated_or_corrupt_file_is_named_with_the_fix(policy, tmp_path):
    saved = tmp_path / "vla.safetensors"
    policy.save(saved)
    data = saved.read_bytes()
    for name, content in (("truncated", data[: len(data) // 2]), ("empty", b""), ("page", b"<html>404</html>")):
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        with pytest.raises(ValueError, match=rf"{path} is not a readable safetensors file .*Delete it, then save"):
            Policy.load(path)
        assert path.read_bytes() == content, "a failed load must leave the file as it was"
    with pytest.raises(ValueError, match=r"truncated\.safetensors .*`python -m vlacourse.policies.flow train --out "):
        load_course_flow_vla(tmp_path / "truncated.safetensors")
    with pytest.raises(FileNotFoundError, match="there is no file"):
        Policy.load(tmp_path / "missing.safetensors")


def test_bad_observations_name_the_fix(policy, observation):
    with pytest.raises(KeyError, match="observation.images.wrist"):
        policy.predict_action_chunk({k: v for k, v in observation.items() if k != "observation.images.wrist"})
    with pytest.raises(ValueError, match="image_size=64"):
        policy.predict_action_chunk(observation | {"observation.images.scene": np.zeros((32, 32, 3), np.uint8)})
    with pytest.raises(ValueError, match="finite"):
        policy.predict_action_chunk(observation | {"observation.state": np.full(9, np.nan, np.float32)})
    with pytest.raises(ValueError, match="instruction"):
        policy.predict_action_chunk(observation | {"task": ""})
    with pytest.warns(UserWarning, match="never saw"):
        chunk = policy.predict_action_chunk(observation | {"task": "juggle the purple block"})
    assert np.all(np.isfinite(chunk))
    with pytest.raises(ValueError, match="n_action_steps"):
        PolicyConfig(chunk_size=5, n_action_steps=6)


def test_train_policy_is_seeded_saves_and_measures_the_arm(dataset, tmp_path):
    histories = []
    for run in range(2):
        torch.manual_seed(0)
        policy = build_vla(dataset, chunk_size=5)
        histories.append(
            train_policy(
                policy,
                dataset,
                steps=4,
                batch_size=4,
                seed=0,
                warmup_steps=2,
                eval_every=4,
                eval_task="reach",
                eval_episodes=1 - run,
                checkpoint=tmp_path / f"{run}.st",
                progress=False,
            )
        )
    first, second = histories
    assert first.losses == second.losses and len(first.losses) == 4
    assert first.success_steps == [4] and len(first.success_rates) == 1 and second.success_rates == []
    assert len(first.chunk_errors) == 1 and first.chunk_errors == second.chunk_errors  # seeded, measured each eval
    assert (tmp_path / "0.st").exists()


def test_actions_per_second_counts_executed_actions(policy, observation):
    speed = actions_per_second(policy, observation, chunks=2)
    assert speed["ms_per_chunk"] > 0
    assert speed["actions_per_second"] == pytest.approx(5 / speed["ms_per_chunk"] * 1000)


def test_instructions_sit_at_the_same_positions_in_training_and_at_inference(policy, dataset):
    shortest = min(policy.instructions, key=len)
    alone = policy.instruction_ids([shortest])
    batch = policy.instruction_ids(list(dataset.tasks))
    assert alone.shape[1] == batch.shape[1] == policy.instruction_width
    assert policy.tokenizer.decode(alone[0].tolist()).strip() == f"instruction: {shortest}"


def test_chunks_of_a_batch_of_observations_match_one_by_one(policy):
    env = TabletopEnv("pick_place")
    observations = [env.reset(seed=seed)[0] for seed in range(3)]
    batched = policy.predict_action_chunks(observations)
    one_by_one = np.stack([policy.predict_action_chunk(o) for o in observations])
    assert batched.shape == (3, 5, 4)
    # Batched float sums may round differently: allow a rare neighbouring bin.
    assert np.mean(batched == one_by_one) > 0.95


def test_keypoint_tokens_sit_before_the_state_and_can_be_turned_off(dataset, observation):
    _, vlm, tokenizer, _ = load_course_vlm()
    widths = {}
    for keypoints in (16, 0):
        torch.manual_seed(0)
        config = PolicyConfig(chunk_size=5, n_action_steps=5, keypoints=keypoints)
        policy = BinningVLA(config, dataset.stats, vlm, tokenizer, dataset.tasks)
        assert len(policy.keypoint_readouts) == (2 if keypoints else 0)
        widths[keypoints] = policy.prefix(*policy.observation_tensors([observation])).shape[1]
    assert widths[16] == widths[0] + 2  # one token per camera


def test_a_checkpoint_missing_from_the_package_names_the_command_that_makes_it():
    with pytest.raises(FileNotFoundError, match="python -m vlacourse.policies.binning_vla train --out course_vla_gone"):
        load_policy(None, "course_vla_gone.safetensors", "python -m vlacourse.policies.binning_vla train")
