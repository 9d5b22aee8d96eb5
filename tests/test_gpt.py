"""The tiny GPT: shapes, causality, weight tying, and the KV cache changing nothing but the speed."""

import math

import pytest
import torch

from vlacourse.lm.gpt import GPT, GPTConfig, KVCache


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=97, block_size=64, n_layer=2, n_head=4, n_embd=32)).eval()


def test_shapes_and_initial_loss(model):
    idx, targets = torch.randint(97, (2, 3, 20))
    logits, loss = model(idx, targets=targets)
    assert logits.shape == (3, 20, 97)
    assert abs(loss.item() - math.log(97)) < 0.3  # an untrained model is close to uniform


def test_the_future_does_not_change_the_past(model):
    idx = torch.randint(97, (1, 16))
    changed = idx.clone()
    changed[0, 10:] = (changed[0, 10:] + 1) % 97
    with torch.no_grad():
        assert torch.allclose(model(idx)[0][0, :10], model(changed)[0][0, :10], atol=1e-6)


def test_output_layer_is_tied_to_the_embedding(model):
    assert model.lm_head.weight is model.wte.weight


def test_cached_logits_match_a_full_pass(model):
    idx = torch.randint(97, (2, 24))
    with torch.no_grad():
        full, _ = model(idx)
        cache = KVCache(model.config.n_layer)
        prefill, _ = model(idx[:, :10], cache=cache)  # a prompt of 10, then one token at a time
        steps = [model(idx[:, t : t + 1], cache=cache)[0] for t in range(10, 24)]
    assert cache.length == 24
    assert torch.allclose(torch.cat([prefill, *steps], dim=1), full, atol=1e-5)


@pytest.mark.parametrize("temperature, top_k", [(0.0, None), (1.0, None), (0.8, 5)])
def test_cached_and_uncached_generation_give_identical_tokens(model, temperature, top_k):
    prompt = torch.randint(97, (2, 5))
    runs = [
        model.generate(
            prompt,
            30,
            temperature=temperature,
            top_k=top_k,
            use_cache=use_cache,
            generator=torch.Generator().manual_seed(1),
        )
        for use_cache in (True, False)
    ]
    assert runs[0].shape == (2, 35) and torch.equal(runs[0], runs[1])


def test_generation_stops_at_the_stop_token(model):
    prompt = torch.randint(97, (1, 3))
    first = model.generate(prompt, 1, temperature=0)[0, -1].item()
    assert model.generate(prompt, 20, temperature=0, stop_token=first).shape == (1, 4)


def test_bad_inputs_name_the_problem(model):
    with pytest.raises(ValueError, match="exceed block_size=64"):
        model(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 97\)"):
        model(torch.tensor([[5, 97]]))
    with pytest.raises(ValueError, match=r"integer token ids of shape \(B, T\)"):
        model(torch.zeros(4))
    with pytest.raises(ValueError, match="exceeds block_size=64"):
        model.generate(torch.zeros(1, 60, dtype=torch.long), 10)


def test_forward_embeddings_is_forward_on_embedded_tokens(model):
    idx = torch.randint(97, (2, 8))
    with torch.no_grad():
        assert torch.equal(model(idx)[0], model.forward_embeddings(model.wte(idx))[0])
