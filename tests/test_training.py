"""The shared training loop: its learning-rate schedule against the closed form, frozen parts left alone."""

import math

import pytest
import torch

from vlacourse.training import learning_rate, train


def test_warmup_rises_linearly_to_the_rate():
    assert [learning_rate(s, 100, 1.0, warmup_steps=4) for s in (1, 2, 4, 5, 100)] == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_cosine_falls_from_the_rate_to_a_tenth():
    steps, warmup = 110, 10
    assert learning_rate(warmup, steps, 2.0, warmup, cosine=True) == pytest.approx(2.0)
    assert learning_rate(steps, steps, 2.0, warmup, cosine=True) == pytest.approx(0.2)
    halfway = learning_rate(60, steps, 2.0, warmup, cosine=True)  # half of the decay: cos(pi / 2) = 0
    assert halfway == pytest.approx(0.2 + 1.8 * 0.5 * (1 + math.cos(math.pi / 2)))


class Regression(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.frozen, self.trained = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)

    def forward(self, x, y):
        prediction = self.trained(self.frozen(x))
        return prediction, torch.nn.functional.mse_loss(prediction, y)


def test_train_fits_and_leaves_frozen_parameters_alone():
    torch.manual_seed(0)
    model = Regression()
    model.frozen.requires_grad_(False)
    before = model.frozen.weight.clone()
    x = torch.randn(64, 3)
    y = x.sum(dim=1, keepdim=True)
    history = train(
        model, lambda: (x, y), steps=300, lr=5e-2, warmup_steps=20, cosine=True, weight_decay=0.0, progress=False
    )
    assert torch.equal(model.frozen.weight, before)  # no update, no weight decay
    assert history.losses[-1] < 0.05 * history.losses[0]


def test_a_diverging_loss_names_the_fix():
    model = Regression()
    with pytest.raises(FloatingPointError, match="lower lr"):
        train(model, lambda: (torch.full((4, 3), float("nan")), torch.zeros(4, 1)), steps=1, progress=False)


def test_the_prefix_check_allows_another_cpus_drift_but_not_another_recipe():
    from tests.conftest import assert_same_losses

    recorded = [6.0 - 0.08 * step for step in range(50)]
    drifted = recorded[:20] + [loss * (1.04 if step % 2 else 0.96) for step, loss in enumerate(recorded[20:])]
    assert_same_losses(drifted, recorded)
    another_rate = recorded[:1] + [loss * 0.99 for loss in recorded[1:]]
    with pytest.raises(AssertionError):
        assert_same_losses(another_rate, recorded)
    with pytest.raises(AssertionError):
        assert_same_losses([loss * 1.02 for loss in recorded], recorded)


def test_rounding_to_float16_leaves_what_a_float16_checkpoint_holds():
    from vlacourse.training import round_to_float16

    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.fill_(1 / 3)
    round_to_float16(layer)
    assert layer.weight.dtype == torch.float32
    assert torch.equal(layer.weight, torch.full((3, 4), 1 / 3).half().float()) and layer.weight[0, 0] != 1 / 3
