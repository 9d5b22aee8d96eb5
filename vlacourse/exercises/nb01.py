"""Tests of notebook 01's exercises: the causal mask, and the pair count at the heart of BPE."""

import torch
import torch.nn.functional as F

from vlacourse.exercises import exercise_test


@exercise_test("causal_mask")
def shape_and_type(fn):
    mask = fn(5)
    assert isinstance(mask, torch.Tensor), f"return a torch tensor, got {type(mask).__name__}"
    assert mask.shape == (5, 5) and mask.dtype == torch.bool, (
        f"expected a (5, 5) bool tensor, got {tuple(mask.shape)} {mask.dtype}"
    )


@exercise_test("causal_mask")
def each_token_sees_itself_and_the_past_only(fn):
    mask = fn(4)
    for i in range(4):
        for j in range(4):
            assert bool(mask[i, j]) == (j <= i), f"mask[{i}, {j}] should be {j <= i}: query {i}, key {j}"


@exercise_test("causal_mask")
def attention_with_it_matches_is_causal(fn):
    q, k, v = torch.randn(3, 1, 2, 6, 8).unbind(0)  # (batch, heads, T, head size)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    got = F.scaled_dot_product_attention(q, k, v, attn_mask=fn(6))
    assert torch.allclose(got, expected, atol=1e-6), "attention with your mask differs from is_causal=True"


@exercise_test("most_frequent_pair")
def finds_the_most_frequent_pair(fn):
    assert tuple(fn([1, 2, 3, 1, 2, 4, 1, 2])) == (1, 2)


@exercise_test("most_frequent_pair")
def counts_overlapping_pairs(fn):
    assert tuple(fn([7, 7, 7, 7, 5, 6, 5, 6])) == (7, 7), "7 7 7 7 holds the pair (7, 7) three times"


@exercise_test("most_frequent_pair")
def ties_go_to_the_smallest_pair(fn):
    assert tuple(fn([9, 8, 3, 4])) == (3, 4), "each pair occurs once: take the smallest, (3, 4)"
