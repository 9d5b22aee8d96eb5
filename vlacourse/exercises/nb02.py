"""Tests of notebook 02's exercises: SigLIP's sigmoid loss, and the image-prefix attention mask."""

import math

import torch
import torch.nn.functional as F

from vlacourse.exercises import exercise_test


def _pairs():
    generator = torch.Generator().manual_seed(0)
    x = F.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    y = F.normalize(torch.randn(5, 8, generator=generator), dim=-1)
    return x, y


def _literal_loss(x, y, t, b):
    total = 0.0
    for i in range(len(x)):
        for j in range(len(y)):
            z = 1.0 if i == j else -1.0
            total += math.log1p(math.exp(-z * (t * float(x[i] @ y[j]) + b)))
    return total / len(x)


@exercise_test("sigmoid_loss")
def matches_the_sum_over_all_pairs(fn):
    x, y = _pairs()
    got = float(fn(x, y, torch.tensor(10.0), torch.tensor(-10.0)))
    expected = _literal_loss(x, y, 10.0, -10.0)
    assert abs(got - expected) < 1e-4, f"got {got:.4f}, expected {expected:.4f} (sum over pairs, divided by B)"


@exercise_test("sigmoid_loss")
def matching_pairs_pull_and_others_push(fn):
    x = torch.eye(4)
    aligned = float(fn(x, x, torch.tensor(20.0), torch.tensor(-10.0)))
    shuffled = float(fn(x, x.roll(1, 0), torch.tensor(20.0), torch.tensor(-10.0)))
    assert aligned < 0.01 and shuffled > 5, (
        f"aligned pairs should cost about 0 ({aligned:.3f}), shuffled ones a lot ({shuffled:.3f})"
    )


@exercise_test("prefix_attention_mask")
def image_tokens_see_each_other_both_ways(fn):
    mask = fn(3, 2)
    assert mask.shape == (5, 5) and mask.dtype == torch.bool, "expected a (N + T, N + T) = (5, 5) bool tensor"
    assert mask[:3, :3].all(), "image tokens (the first N) attend to every image token, before or after"


@exercise_test("prefix_attention_mask")
def image_tokens_do_not_see_the_text(fn):
    assert not fn(3, 2)[:3, 3:].any(), "an image token must not attend to text tokens"


@exercise_test("prefix_attention_mask")
def text_is_causal_and_sees_the_whole_image(fn):
    mask = fn(3, 2)
    assert mask[3:, :3].all(), "text tokens attend to the whole image"
    assert mask[3, 3] and not mask[3, 4] and mask[4, 3] and mask[4, 4], "text tokens attend causally to the text"
