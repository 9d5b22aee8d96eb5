"""The flow-matching VLA: pi0's time schedule, the attention mask, the Euler sampler, the cached prefix."""

import numpy as np
import pytest
import torch
from scipy import stats

from vlacourse.policies.flow import FlowVLA, build_flow_vla, sample_time, suffix_mask, time_code
from vlacourse.policies.policy import ChunkBatches, Policy, chunk_error


@pytest.fixture(scope="module")
def policy(dataset):
    torch.manual_seed(0)
    return build_flow_vla(dataset, chunk_size=5, num_steps=4).eval()


def test_flow_times_follow_openpis_scaled_beta():
    t = sample_time(200_000, 1.5, generator=torch.Generator().manual_seed(0)).numpy()
    assert t.min() >= 0.001 and t.max() <= 1.0
    grid = np.linspace(0.01, 0.99, 50)
    empirical = (t[None, :] <= grid[:, None]).mean(1)
    expected = stats.beta(1.5, 1).cdf((grid - 0.001) / 0.999)  # scipy's Beta, an independent computation
    assert np.abs(empirical - expected).max() < 0.005


def test_time_code_is_sines_then_cosines():
    code = time_code(torch.tensor([0.0, 0.3]), 16)
    assert code.shape == (2, 16)
    assert torch.allclose(code[0, :8], torch.zeros(8)) and torch.allclose(code[0, 8:], torch.ones(8))
    assert torch.allclose(code[1, :8] ** 2 + code[1, 8:] ** 2, torch.ones(8), atol=1e-6)


def test_the_state_reads_the_prefix_and_itself_and_actions_read_everything():
    mask = suffix_mask(prefix_length=3, chunk_size=2)
    assert mask.tolist() == [
        [True, True, True, True, False, False],
        [True, True, True, True, True, True],
        [True, True, True, True, True, True],
    ]


def test_the_state_token_never_sees_the_noisy_actions(policy, dataset):
    batch = ChunkBatches(dataset, policy.config, batch_size=2, seed=0)()
    cache = policy.prefix_cache(policy.images_of(batch), policy.instruction_ids(batch["task"]))
    keys_before = [k.clone() for k in cache.keys]
    t = torch.tensor([0.5, 0.9])
    with torch.no_grad():
        a = policy.expert_hidden(cache, batch["observation.state"], torch.randn(2, 5, 4), t)
        b = policy.expert_hidden(cache, batch["observation.state"], torch.randn(2, 5, 4), t)
    assert torch.allclose(a[:, 0], b[:, 0], atol=1e-6) and not torch.allclose(a[:, 1:], b[:, 1:])
    assert all(torch.equal(k, before) for k, before in zip(cache.keys, keys_before, strict=True)), (
        "the expert must read the prefix's keys, never write them: the prefix never sees the suffix"
    )


def test_the_cached_prefix_gives_the_actions_of_recomputing_it_every_step(policy, observation):
    noise = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(1))
    cached = policy.denoising_path(observation, noise)
    recomputed = policy.denoising_path(observation, noise, recompute_prefix=True)
    assert cached.shape == (1 + 4, 3, 5, 4)
    np.testing.assert_allclose(cached, recomputed, atol=1e-5)  # every step, not only the last
    assert policy.decoding_steps == 1 + 4


def test_the_path_starts_at_the_noise_and_each_noise_is_its_own_sample(policy, observation):
    noise = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(2))
    path = policy.denoising_path(observation, noise)
    np.testing.assert_allclose(path[0], policy.unnormalize_actions(noise).numpy(), atol=1e-6)
    alone = policy.denoising_path(observation, noise[1:2])  # batching the noises changes nothing
    np.testing.assert_allclose(path[:, 1], alone[:, 0], atol=1e-5)


def test_euler_with_the_exact_velocity_lands_on_the_target(policy, observation, monkeypatch):
    # For one target chunk A, the velocity that carries x_t = t e + (1 - t) A is (x_t - A) / t: Euler steps of
    # 1/N from t = 1 stay on that straight line and reach A at t = 0 exactly.
    target = torch.rand(1, 5, 4) * 2 - 1  # normalised actions
    monkeypatch.setattr(policy, "velocity", lambda cache, state, x, t: (x - target) / t[:, None, None])
    chunk = policy.denoising_path(observation, torch.randn(1, 5, 4))[-1, 0]
    np.testing.assert_allclose(chunk, policy.unnormalize_actions(target)[0].numpy(), atol=1e-5)


def test_it_learns_a_batch_of_chunks(dataset):
    torch.manual_seed(0)
    policy = build_flow_vla(dataset, chunk_size=5, num_steps=10)
    policy.config.locate_weight = 0.0
    batch = ChunkBatches(dataset, policy.config, batch_size=4, seed=1)()
    before = chunk_error(policy.eval(), batch)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    policy.train()
    for _ in range(200):
        loss, parts = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = chunk_error(policy.eval(), batch)
    assert parts["flow_loss"] < 0.3 and after < 0.3 * before, (parts, before, after)


def test_save_and_load_give_the_same_chunk_from_the_same_noise(policy, observation, tmp_path):
    path = tmp_path / "flow.safetensors"
    policy.save(path)
    loaded = Policy.load(path)
    assert isinstance(loaded, FlowVLA) and loaded.config.num_steps == 4
    noise = torch.randn(1, 5, 4)
    np.testing.assert_array_equal(loaded.denoising_path(observation, noise), policy.denoising_path(observation, noise))


def test_bad_settings_and_noise_say_what_to_pass(policy, observation):
    from vlacourse.policies.flow import FlowConfig

    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        FlowConfig(num_steps=0)
    with pytest.raises(ValueError, match="beta_alpha must be positive"):
        FlowConfig(beta_alpha=0)
    with pytest.raises(ValueError, match=r"noise must have the shape of the chunks, \(2, 5, 4\)"):
        policy.denoising_path(observation, torch.randn(2, 10, 4))
    with pytest.raises(ValueError, match=r"noise must be \(S, chunk_size, action_dim\)"):
        policy.denoising_path(observation, torch.randn(5, 4))


def test_sampling_steps_changes_the_steps_inside_the_block_only(policy, observation):
    noise = torch.randn(1, 5, 4)
    with policy.sampling_steps(2):
        assert policy.denoising_path(observation, noise).shape[0] == 1 + 2
    assert policy.config.num_steps == 4 and policy.denoising_path(observation, noise).shape[0] == 1 + 4
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        with policy.sampling_steps(0):
            pass
    assert policy.config.num_steps == 4


def test_torch_threads_sets_the_threads_inside_the_block_and_restores_them():
    from vlacourse.policies.policy import torch_threads

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
