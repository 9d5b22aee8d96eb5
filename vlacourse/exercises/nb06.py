"""Tests of notebook 06's exercises: pi0's flow-matching loss and its Euler sampler, against closed forms."""

import torch

from vlacourse.exercises import exercise_test


def _chunk_batch(seed: int = 0):
    """(actions, noise, t): a batch of 3 chunks of 5 actions in 4 dimensions, and a flow time per chunk."""
    generator = torch.Generator().manual_seed(seed)
    actions = torch.rand(3, 5, 4, generator=generator) * 2 - 1
    noise = torch.randn(3, 5, 4, generator=generator)
    return actions, noise, torch.tensor([0.1, 0.5, 0.9])


@exercise_test("flow_matching_loss")
def the_exact_velocity_costs_nothing(fn):
    actions, noise, t = _chunk_batch()
    exact = noise - actions  # what carries x_t along its straight line, whatever t
    loss = fn(lambda x, t: exact, actions, noise, t)
    assert abs(float(loss)) < 1e-10, f"a velocity field that returns noise - actions should cost 0, got {float(loss)}"


@exercise_test("flow_matching_loss")
def a_field_that_says_zero_costs_the_mean_squared_target(fn):
    actions, noise, t = _chunk_batch(1)
    loss = fn(lambda x, t: torch.zeros_like(x), actions, noise, t)
    expected = (noise - actions).pow(2).mean()
    assert torch.isclose(torch.as_tensor(loss, dtype=expected.dtype), expected), (
        f"with v = 0 the loss is the mean of (noise - actions)^2 ({expected:.4f}), got {float(loss):.4f}"
    )


@exercise_test("flow_matching_loss")
def the_model_sees_x_t_at_pi0s_convention(fn):
    actions, noise, t = _chunk_batch(2)
    seen = {}

    def recording_field(x, times):
        seen["x"], seen["t"] = x, times
        return torch.zeros_like(x)

    fn(recording_field, actions, noise, t)
    expected = t[:, None, None] * noise + (1 - t[:, None, None]) * actions
    assert torch.equal(seen["t"], t), "pass the flow times to the velocity field unchanged"
    assert torch.allclose(seen["x"], expected, atol=1e-6), (
        "pi0's convention: x_t = t * noise + (1 - t) * actions (t = 1 is pure noise, t = 0 the actions)"
    )


def _exact_field(target: torch.Tensor):
    """The velocity that carries x_t = t e + (1 - t) A to a single target A: (x_t - A) / t."""
    return lambda x, t: (x - target) / t[:, None, None]


@exercise_test("euler_sample")
def a_constant_field_moves_the_noise_by_exactly_it(fn):
    noise = torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(3))
    velocity = torch.full_like(noise, 0.25)
    got = fn(lambda x, t: velocity, noise, 4)
    assert torch.allclose(got, noise - velocity, atol=1e-6), (
        "integrating from t = 1 to t = 0 in steps of 1/N moves x by minus the velocity in total"
    )


@exercise_test("euler_sample")
def the_exact_field_lands_on_the_target_for_any_number_of_steps(fn):
    target, noise = torch.rand(2, 5, 4) * 2 - 1, torch.randn(2, 5, 4)
    for steps in (1, 3, 10):
        got = fn(_exact_field(target), noise, steps)
        assert torch.allclose(got, target, atol=1e-5), (
            f"with {steps} steps: the field (x - A) / t carries the noise straight to A; you are off by "
            f"{(got - target).abs().max():.3g} (start at t = 1, step by -1/N)"
        )


@exercise_test("euler_sample")
def it_asks_the_field_at_times_one_down_to_one_over_n(fn):
    noise, asked = torch.randn(2, 5, 4), []

    def recording_field(x, t):
        assert t.shape == (len(x),), f"pass one time per chunk, shape ({len(x)},), got {tuple(t.shape)}"
        asked.append(round(float(t[0]), 6))
        return torch.zeros_like(x)

    fn(recording_field, noise, 5)
    assert asked == [1.0, 0.8, 0.6, 0.4, 0.2], f"5 steps evaluate the field at t = 1, 0.8, ..., 0.2; got {asked}"
