"""Tests of notebook 07's exercises: the stop-gradient in the expert's attention, and which loss trains which
part, checked against autograd on the course's own network."""

import functools

import torch
from torch.nn import functional as F

from vlacourse.exercises import exercise_test


def _attention_inputs(seed: int = 0):
    """(q, prefix_k, prefix_v, own_k, own_v): 2 chunks, 2 heads, 3 expert tokens reading 5 prefix tokens."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(2, 2, 3, 8), (2, 2, 5, 8), (2, 2, 5, 8), (2, 2, 3, 8), (2, 2, 3, 8)]
    return [torch.randn(*shape, generator=generator, requires_grad=True) for shape in shapes]


@exercise_test("expert_attention")
def it_reads_the_prefix_and_its_own_tokens(fn):
    q, prefix_k, prefix_v, own_k, own_v = _attention_inputs()
    expected = F.scaled_dot_product_attention(q, torch.cat([prefix_k, own_k], 2), torch.cat([prefix_v, own_v], 2))
    for stop_gradient in (False, True):
        got = fn(q, prefix_k, prefix_v, own_k, own_v, stop_gradient)
        assert got.shape == expected.shape, (
            f"the output has one vector per query, {tuple(expected.shape)}, got {tuple(got.shape)}"
        )
        assert torch.allclose(got, expected, atol=1e-5), (
            "each expert query attends over the prefix's keys then its own (concatenate along the tokens, dim 2); "
            "the stop-gradient must not change the numbers"
        )


@exercise_test("expert_attention")
def the_stop_gradient_cuts_the_path_to_the_vlm_and_no_other(fn):
    for stop_gradient in (False, True):
        q, prefix_k, prefix_v, own_k, own_v = _attention_inputs(1)
        fn(q, prefix_k, prefix_v, own_k, own_v, stop_gradient).pow(2).sum().backward()
        reached = [t.grad is not None and bool(t.grad.abs().sum() > 0) for t in (prefix_k, prefix_v)]
        if stop_gradient:
            assert not any(reached), (
                "with the stop-gradient no gradient may reach the VLM's keys and values (read them through .detach())"
            )
        else:
            assert all(reached), "without the stop-gradient the loss reaches the VLM's keys and values"
        assert all(t.grad is not None for t in (q, own_k, own_v)), (
            "the expert's own queries, keys and values always learn: detach only what comes from the VLM"
        )


_MEASURED: dict[tuple[bool, bool], dict[str, set[str]]] = {}


@functools.cache
def _demonstrations():
    """Two pick-and-place demonstrations, collected once for the four networks."""
    from vlacourse.sim.dataset import collect

    return collect("pick_place", episodes=2, seed=7, progress=False)


def _measured_receivers(stop_gradient: bool, vlm_losses: bool) -> dict[str, set[str]]:
    """What autograd says on the course's network (two demonstrations, a batch of 2): for each loss the run
    trains, the sides ("VLM", "expert") whose parameters receive a nonzero gradient from it."""
    key = (stop_gradient, vlm_losses)
    if key not in _MEASURED:
        from vlacourse.policies.insulation import build_insulated_vla, gradient_norms, run_name
        from vlacourse.policies.policy import ChunkBatches
        from vlacourse.vlm.course_vlm import qa_batches
        from vlacourse.vlm.scenes import SceneMaker

        dataset = _demonstrations()
        torch.manual_seed(0)
        policy = build_insulated_vla(dataset, run_name(stop_gradient, vlm_losses), chunk_size=5)
        scenes = SceneMaker(64).make_many(2, seed=7, progress=False)
        batch = {
            **ChunkBatches(dataset, policy.config, 2, seed=0)(),
            "co_training": qa_batches(scenes, policy.tokenizer, 2, seed=0)(),
        }
        sides, vlm_parts = {}, policy.vlm_parts()
        for loss, norms in gradient_norms(policy, batch).items():
            sides[loss] = {
                "VLM" if part in vlm_parts else "expert"
                for part, norm in norms.items()
                if norm > 0 and not part.startswith("keys")
            }
        _MEASURED[key] = sides
    return _MEASURED[key]


@exercise_test("which_parts_learn")
def it_matches_autograd_on_every_run(fn):
    for stop_gradient in (False, True):
        for vlm_losses in (False, True):
            said = {loss: set(sides) for loss, sides in fn(stop_gradient, vlm_losses).items()}
            measured = _measured_receivers(stop_gradient, vlm_losses)
            assert said == measured, (
                f"stop_gradient={stop_gradient}, vlm_losses={vlm_losses}: autograd says {measured}, you said {said}"
            )
