"""The ViT and SigLIP's sigmoid loss, against a literal computation over every pair."""

import math

import pytest
import torch
import torch.nn.functional as F

from vlacourse.lm.gpt import GPTConfig
from vlacourse.vlm.vision import KeypointReadout, SigLIP, ViT, ViTConfig, retrieval_top1, sigmoid_loss


def test_sigmoid_loss_matches_the_sum_over_pairs():
    torch.manual_seed(0)
    x, y = F.normalize(torch.randn(6, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    t, b = torch.tensor(7.0), torch.tensor(-3.0)
    total = 0.0
    for i in range(6):
        for j in range(6):
            z = 1.0 if i == j else -1.0
            total += -math.log(1 / (1 + math.exp(-z * (t * (x[i] @ y[j]) + b))))
    assert abs(sigmoid_loss(x, y, t, b).item() - total / 6) < 1e-4


def test_sigmoid_loss_is_small_for_aligned_pairs():
    x = torch.eye(4)
    assert sigmoid_loss(x, x, torch.tensor(30.0), torch.tensor(-15.0)) < 0.01
    assert sigmoid_loss(x, x.roll(1, 0), torch.tensor(30.0), torch.tensor(-15.0)) > 10


def test_retrieval_top1_counts_own_matches():
    x = torch.eye(4)
    assert retrieval_top1(x, x) == 1.0 and retrieval_top1(x, x.roll(1, 0)) == 0.0


def test_vit_tokens_and_position_dependence():
    torch.manual_seed(0)
    vit = ViT(ViTConfig(n_layer=1, n_embd=32, n_head=2)).eval()
    images = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    tokens = vit(images)
    assert tokens.shape == (2, 64, 32)
    swapped = images.clone()
    swapped[:, :8, :8], swapped[:, :8, 8:16] = images[:, :8, 8:16], images[:, :8, :8]  # swap two patches
    with torch.no_grad():
        assert not torch.allclose(vit(swapped)[:, 0], tokens[:, 1])  # positions make patches distinguishable
    with pytest.raises(ValueError, match=r"images must be \(B, 64, 64, 3\) uint8"):
        vit(torch.zeros(2, 3, 64, 64))


def test_siglip_embeddings_are_unit_vectors():
    model = SigLIP(
        ViTConfig(n_layer=1, n_embd=32, n_head=2),
        GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=32),
        embed_dim=16,
    )
    images = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)
    ids, lengths = torch.randint(50, (3, 10)), torch.tensor([10, 4, 7])
    (image_embeddings, text_embeddings), loss = model(images, ids, lengths)
    assert torch.allclose(image_embeddings.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(text_embeddings.norm(dim=-1), torch.ones(3), atol=1e-5)
    loss.backward()
    assert model.image_tower.patch_embed.weight.grad is not None and model.bias.grad is not None
    padded = ids.clone()
    padded[1, 4:] = 0  # what follows a text's last token does not change its embedding (causal tower)
    with torch.no_grad():
        assert torch.allclose(model.embed_texts(padded, lengths)[1], model.embed_texts(ids, lengths)[1], atol=1e-6)


def test_keypoint_readout_is_the_expected_patch_coordinate():
    torch.manual_seed(0)
    readout = KeypointReadout(n_embd=8, num_keypoints=3, grid=4)
    tokens = torch.randn(2, 16, 8)
    keypoints = readout(tokens).view(2, 3, 2)
    # Brute force: patch i sits at column i % 4, row i // 4 of a grid spanning [-1, 1].
    weights = torch.softmax(readout.scores(tokens), dim=1)  # (B, N, K)
    for b in range(2):
        for k in range(3):
            x = sum(weights[b, i, k] * (-1 + 2 * (i % 4) / 3) for i in range(16))
            y = sum(weights[b, i, k] * (-1 + 2 * (i // 4) / 3) for i in range(16))
            torch.testing.assert_close(keypoints[b, k], torch.stack([x, y]))
    # One patch scored far above the rest: the keypoint is that patch's centre.
    peaked = torch.zeros(1, 16, 8)
    peaked[0, 6] = 1.0
    readout.scores.weight.data.fill_(100.0)
    torch.testing.assert_close(readout(peaked).view(3, 2)[0], torch.tensor([-1 + 2 * 2 / 3, -1 + 2 * 1 / 3]))
