"""VL-JEPA's parts: the bidirectional InfoNCE against a brute-force sum, the predictor's bidirectional reading of
padded inputs, the Y-decoder against a brute-force nearest neighbour, and the Y-encoder's lower learning rate."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.nn import functional as F

from vlacourse.lm.gpt import GPT, Block, GPTConfig
from vlacourse.training import train
from vlacourse.vlm.vision import SigLIP, ViTConfig
from vlacourse.vlm.vl_jepa import VLJEPA, NearestText, bidirectional_infonce, same_texts, token_distance


def brute_force_infonce(predicted, targets, scale, texts):
    """Both directions, term by term: -log of the matching pair's share among the pairs that may be negatives."""
    n, total = len(texts), 0.0
    for i in range(n):
        for direction in ("prediction", "target"):
            scores = {}
            for j in range(n):
                if j != i and texts[j] == texts[i]:
                    continue  # an identical target text is not a negative
                a, b = (predicted[i], targets[j]) if direction == "prediction" else (predicted[j], targets[i])
                scores[j] = math.exp(scale * float(a @ b))
            total += -math.log(scores[i] / sum(scores.values()))
    return total / (2 * n)


def test_infonce_is_the_brute_force_sum_both_ways_without_identical_targets_as_negatives():
    generator = torch.Generator().manual_seed(0)
    predicted = F.normalize(torch.randn(6, 8, generator=generator, dtype=torch.float64), dim=-1)
    targets = F.normalize(torch.randn(6, 8, generator=generator, dtype=torch.float64), dim=-1)
    texts = ["yes", "no", "yes", "red", "yes", "no"]
    loss = bidirectional_infonce(predicted, targets, torch.tensor(5.0, dtype=torch.float64), same_texts(texts))
    assert loss.item() == pytest.approx(brute_force_infonce(predicted, targets, 5.0, texts), rel=1e-12)
    # Every text different: the plain symmetric InfoNCE (CLIP's loss).
    distinct = [str(i) for i in range(6)]
    plain = bidirectional_infonce(predicted, targets, torch.tensor(5.0, dtype=torch.float64), same_texts(distinct))
    logits = 5.0 * predicted @ targets.T
    labels = torch.arange(6)
    clip = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    assert plain.item() == pytest.approx(clip.item(), rel=1e-12)


def test_a_padding_mask_reads_only_the_real_tokens_in_both_directions():
    torch.manual_seed(0)
    block = Block(GPTConfig(n_embd=32, n_head=4), causal=False)
    x = torch.randn(1, 5, 32)
    padded = torch.cat([x, torch.randn(1, 3, 32)], dim=1)  # three padding positions after the real five
    real = torch.tensor([[True] * 5 + [False] * 3])
    assert torch.allclose(block(padded, real=real)[:, :5], block(x), atol=1e-6)
    changed = x.clone()
    changed[0, 4] += torch.randn(32)  # not a constant: LayerNorm would remove it
    assert not torch.allclose(block(changed)[:, 0], block(x)[:, 0]), "bidirectional: the first reads the last"
    with pytest.raises(ValueError, match="causal=False"):
        Block(GPTConfig(n_embd=32, n_head=4))(padded, real=real)


def small_jepa():
    torch.manual_seed(0)
    siglip = SigLIP(ViTConfig(n_layer=1, n_embd=32, n_head=2), GPTConfig(block_size=16, n_layer=1, n_embd=32))
    return VLJEPA(siglip, GPT(GPTConfig(block_size=160, n_layer=3, n_embd=32, n_head=2)))


@pytest.fixture(scope="module")
def jepa():
    return small_jepa()


def test_the_predictor_starts_from_the_gpts_last_blocks_and_ignores_padding(jepa):
    assert len(jepa.blocks) == 2 and not any(block.attn.causal for block in jepa.blocks)
    assert all(not p.requires_grad for p in jepa.x_encoder.parameters()), "the X-encoder is frozen"
    images = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    visual = jepa.visual_tokens([images, images.flip(0)])  # two cameras side by side
    assert visual.shape == (2, 2 * 64, 32)
    query = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    lengths = torch.tensor([3, 5])
    predicted = jepa.predict(visual, query, lengths)
    assert predicted.shape == (2, jepa.config.embed_dim)
    assert torch.allclose(predicted.norm(dim=-1), torch.ones(2), atol=1e-5)
    alone = jepa.predict(visual[:1], query[:1, :3], lengths[:1])
    assert torch.allclose(alone, predicted[:1], atol=1e-5), "padding after the query changes nothing"


def test_the_y_encoder_learns_at_a_twentieth_of_the_rate():
    model = small_jepa()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    texts = ["yes", "no", "red", "yes"]
    ids = torch.tensor([[3, 0], [4, 0], [5, 6], [3, 0]])
    lengths = torch.tensor([1, 1, 2, 1])
    visual = torch.randn(4, 10, 32)
    groups = [(visual[:2], ids[:2], lengths[:2]), (visual[2:, :6], ids[2:], lengths[2:])]  # 10 and 6 visual tokens
    batch = (groups, ids, lengths, same_texts(texts))
    train(model, lambda: batch, steps=1, lr=1e-2, weight_decay=0.0, progress=False, lr_scales={"y_": 0.05})
    moved = {name: (p.detach() - before[name]).abs().max().item() for name, p in model.named_parameters()}
    # Adam's first step moves each parameter by about its learning rate, whatever its gradient's size.
    assert moved["to_embedding.weight"] == pytest.approx(1e-2, rel=0.05)
    assert moved["y_projection.weight"] == pytest.approx(5e-4, rel=0.05)
    assert moved["x_encoder.positions"] == 0.0
    with pytest.raises(ValueError, match="no parameter of the model starts with"):
        train(model, lambda: batch, steps=1, progress=False, lr_scales={"z_": 0.05})


def test_the_y_decoder_is_the_brute_force_nearest_text():
    rng = np.random.default_rng(0)
    bank = torch.from_numpy(rng.normal(size=(7, 5)))
    texts = [f"answer {i}" for i in range(7)]
    decoder = NearestText(texts, bank)
    predicted = torch.from_numpy(rng.normal(size=(20, 5)))
    expected = []
    for p in predicted.numpy():
        cosines = [p @ b / (np.linalg.norm(p) * np.linalg.norm(b)) for b in bank.numpy()]
        expected.append(texts[int(np.argmax(cosines))])
    assert decoder.decode(predicted) == expected
    with pytest.raises(ValueError, match="one embedding per text"):
        NearestText(texts[:3], bank)


def test_token_distance():
    assert token_distance([1, 2, 3], [1, 2, 3]) == 0
    assert token_distance([1, 2], [3, 4]) == 1
    assert token_distance([1, 2, 3], [2, 3, 4]) == pytest.approx(1 - 2 / 4)


def test_same_texts():
    assert same_texts(["a", "b", "a"]).tolist() == [[True, False, True], [False, True, False], [True, False, True]]


def test_parameters_counted_are_the_trainable_ones():
    from vlacourse.vlm.vl_jepa import count_parameters

    layer = nn.Linear(3, 2)
    assert count_parameters(layer) == 8
    layer.weight.requires_grad_(False)
    assert count_parameters(layer) == 2
