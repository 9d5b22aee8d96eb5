"""The FAST VLA: its training targets, memorising a batch, decoding to the end token, saving, bad sequences."""

import warnings

import numpy as np
import pytest
import torch

from vlacourse.policies.binning_vla import decoding_cost
from vlacourse.policies.fast_vla import FASTVLA, build_fast_vla
from vlacourse.policies.policy import ChunkBatches, Policy, PolicyConfig


@pytest.fixture(scope="module")
def policy(dataset):
    torch.manual_seed(0)
    return build_fast_vla(dataset, chunk_size=5, vocab_size=256).eval()


def test_targets_are_each_chunks_fast_tokens_then_the_end_token(policy, dataset):
    batch = ChunkBatches(dataset, policy.config, batch_size=6, seed=0)()
    tokens, targets = policy.action_token_targets(batch)
    for row, chunk in enumerate(batch["action"].numpy()):
        expected = policy.fast.encode(chunk) + [policy.end_token]
        n = len(expected)
        assert tokens[row, :n].tolist() == expected and targets[row, :n].tolist() == expected
        assert (targets[row, n:] == -100).all() and (tokens[row, n:] == policy.end_token).all()
    assert tokens.shape[1] < 5 * 4, "FAST should write the demonstrations' chunks in fewer tokens than bins"


def test_the_vocabulary_grows_by_the_fast_tokens_and_the_end_token(policy):
    assert policy.action_vocab_size == policy.fast.vocab_size + 1
    assert policy.gpt.config.vocab_size == policy.text_vocab + policy.fast.vocab_size + 1


def test_it_memorises_a_batch_and_writes_it_back_greedily(dataset):
    torch.manual_seed(0)
    policy = build_fast_vla(dataset, chunk_size=5, vocab_size=256)
    policy.config.locate_weight = 0.0
    batch = ChunkBatches(dataset, policy.config, batch_size=4, seed=1)()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    for _ in range(100):
        loss, parts = policy(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert parts["token_accuracy"] > 0.95, parts
    policy.eval()
    images = policy.images_of(batch)
    chunks = policy.generate(images, policy.instruction_ids(batch["task"]), batch["observation.state"])
    expected = np.stack([policy.fast.decode(policy.fast.encode(c)) for c in batch["action"].numpy()])
    np.testing.assert_allclose(chunks, expected, atol=1e-6)
    longest = max(len(policy.fast.encode(c)) for c in batch["action"].numpy())
    assert policy.decoding_steps == longest + 1  # every token, then the end token, and no more


def test_save_and_load_give_the_same_actions(policy, observation, tmp_path):
    path = tmp_path / "fast_vla.safetensors"
    policy.save(path)
    loaded = Policy.load(path)
    assert isinstance(loaded, FASTVLA) and loaded.fast.merges == policy.fast.merges
    np.testing.assert_array_equal(loaded.predict_action_chunk(observation), policy.predict_action_chunk(observation))


def test_a_sequence_that_is_not_a_chunk_gives_zero_actions_and_a_warning(policy, observation, monkeypatch):
    never_ends = torch.zeros((1, 21), dtype=torch.long)  # 21 copies of token 0 and no end token
    monkeypatch.setattr(policy, "greedy_tokens", lambda *args, **kwargs: never_ends)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunk = policy.predict_action_chunk(observation)
    assert chunk.shape == (5, 4) and not chunk.any()
    assert any("do not decode to one chunk" in str(w.message) for w in caught)


def test_whole_chunks_only_allows_the_tokens_that_fit_and_the_end_once_the_chunk_is_whole(policy):
    fast, whole = policy.fast, 5 * 4
    merged = max(range(fast.vocab_size), key=lambda t: len(fast.vocab[t]))  # the token of most coefficients
    rows = [[], [merged], [0] * (whole - 1), [0] * whole]
    for row in rows:
        allowed = policy.whole_chunks_only(torch.tensor([row], dtype=torch.long).reshape(1, len(row)))[0]
        left = whole - sum(len(fast.vocab[t]) for t in row)
        brute = [len(fast.vocab[t]) <= left for t in range(fast.vocab_size)] + [left == 0]
        assert allowed.tolist() == brute, row


def test_constrained_decoding_writes_whole_chunks_where_the_untrained_model_would_not(policy, dataset):
    batch = ChunkBatches(dataset, policy.config, batch_size=8, seed=2)()
    inputs = policy.images_of(batch), policy.instruction_ids(batch["task"]), batch["observation.state"]
    end = policy.end_token
    free = policy.greedy_tokens(*inputs, 5 * 4 + 1, stop=end).tolist()  # (8, n), unconstrained
    written = [sum(len(policy.fast.vocab[t]) for t in row[: row.index(end)]) if end in row else None for row in free]
    assert any(n != 5 * 4 for n in written), "the untrained model should write some sequence that is no chunk"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sequence that does not decode to one chunk warns
        chunks = policy.generate(*inputs)
    assert chunks.shape == (8, 5, 4)


def test_decoding_cost_counts_the_passes_the_chunk_took(policy, observation):
    cost = decoding_cost(policy, observation, repeats=2)
    assert 1 <= cost["forward_passes_per_chunk"] == policy.decoding_steps <= 5 * 4 + 1


def test_a_tokenizer_of_another_chunk_size_is_refused(policy):
    from vlacourse.vlm.course_vlm import load_course_vlm

    _, vlm, tokenizer, _ = load_course_vlm()
    with pytest.raises(ValueError, match="fit it on this chunk size"):
        FASTVLA(PolicyConfig(chunk_size=10, n_action_steps=10), None, vlm, tokenizer, policy.instructions, policy.fast)
