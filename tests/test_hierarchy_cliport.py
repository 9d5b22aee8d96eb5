"""The CLIPort-style planner: the place's cross-correlation against a brute-force sum, the streams' ablations,
what is frozen, and that it learns a fixed batch."""

import pytest
import torch

from vlacourse.hierarchy.cliport import FROZEN, Planner, PlannerConfig, correlate, crop_around, unravel
from vlacourse.hierarchy.top_view import TOP_SIZE
from vlacourse.lm.gpt import GPT, GPTConfig
from vlacourse.vlm.vision import ViT, ViTConfig


def planner(streams: str = "two") -> Planner:
    torch.manual_seed(0)
    return Planner(PlannerConfig(streams=streams), ViT(ViTConfig()), GPT(GPTConfig(block_size=16, n_layer=1)))


def observed(batch) -> list[torch.Tensor]:
    """What the planner reads of a batch: the top view, its heights, the instruction's tokens and length."""
    return [batch[key] for key in ("rgb", "heights", "ids", "lengths")]


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(1)
    B = 2
    return {
        "rgb": torch.randint(0, 256, (B, *TOP_SIZE, 3), dtype=torch.uint8, generator=generator),
        "heights": torch.rand(B, *TOP_SIZE, generator=generator) * 0.04,
        "ids": torch.randint(0, 512, (B, 6), generator=generator),
        "lengths": torch.tensor([6, 4]),
        "pick": torch.tensor([[10, 20], [40, 100]]),
        "place": torch.tensor([[30, 90], [0, 0]]),
    }


def test_the_place_correlation_is_the_brute_force_sum():
    torch.manual_seed(0)
    key, kernel = torch.randn(2, 3, 7, 9), torch.randn(2, 3, 5, 5)
    out = correlate(key, kernel)
    padded = torch.nn.functional.pad(key, (2, 2, 2, 2))
    brute = torch.zeros(2, 7, 9)
    for b in range(2):
        for i in range(7):
            for j in range(9):
                brute[b, i, j] = (padded[b, :, i : i + 5, j : j + 5] * kernel[b]).sum()
    assert torch.allclose(out, brute, atol=1e-5)


def test_a_crop_is_centred_on_its_pixel_with_zeros_beyond_the_image():
    features = torch.arange(2 * 6 * 8, dtype=torch.float32).reshape(1, 2, 6, 8).repeat(2, 1, 1, 1)
    crops = crop_around(features, torch.tensor([[3, 4], [0, 0]]), 3)
    assert torch.equal(crops[0], features[0, :, 2:5, 3:6])
    assert torch.equal(crops[1, :, 0], torch.zeros(2, 3)) and torch.equal(crops[1, :, 1:, 1:], features[1, :, :2, :2])
    assert torch.equal(unravel(torch.tensor([0, TOP_SIZE[1] + 3]), TOP_SIZE[1]), torch.tensor([[0, 0], [1, 3]]))


def test_maps_cover_the_top_view_and_only_the_planners_own_weights_train(batch):
    model = planner()
    picks, places, pick_logits, place_logits = model.decide(
        batch["rgb"], batch["heights"], batch["ids"], batch["lengths"]
    )
    assert pick_logits.shape == place_logits.shape == (2, *TOP_SIZE) and picks.shape == places.shape == (2, 2)
    loss, parts = model(batch)
    loss.backward()
    assert all(p.grad is None for p in [*model.vit.parameters(), *model.text_tower.parameters()])
    assert all(p.grad is not None for name, p in model.named_parameters() if p.requires_grad), "every own weight"
    assert not any(k.startswith(FROZEN) for k in model.own_state_dict())
    assert set(parts) == {"pick", "place"}


def test_the_spatial_stream_alone_is_blind_to_the_words_and_the_two_streams_are_not(batch):
    other_words = {**batch, "ids": (batch["ids"] + 7) % 512}
    for streams, blind in (("spatial", True), ("two", False), ("semantic", False)):
        model = planner(streams).eval()
        maps = [
            model.pick_logits(model.inputs(b["rgb"], b["heights"], b["ids"], b["lengths"]))
            for b in (batch, other_words)
        ]
        assert torch.equal(maps[0], maps[1]) == blind, streams


def test_the_words_order_reaches_the_maps_and_the_padding_does_not(batch):
    """ "stack the red block on the blue block" and its swap hold the same words: only their order tells them
    apart, so the planner reads the text tower's features, not bare word embeddings."""
    model = planner().eval()

    def pick_map(ids, lengths):
        return model.pick_logits(model.inputs(batch["rgb"][:1], batch["heights"][:1], ids, lengths))

    ids, length = batch["ids"][:1], batch["lengths"][:1]
    swapped = ids[:, [0, 3, 2, 1, 4, 5]]  # the same bag of words, two of them swapped
    padded = torch.cat([ids, torch.zeros(1, 3, dtype=ids.dtype)], dim=1)
    assert not torch.allclose(pick_map(ids, length), pick_map(swapped, length))
    assert torch.allclose(pick_map(ids, length), pick_map(padded, length), atol=1e-5)


def test_the_planner_learns_a_fixed_batch(batch):
    model = planner()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    first = model(batch)[0].item()
    for _ in range(40):
        optimizer.zero_grad()
        model(batch)[0].backward()
        optimizer.step()
    picks, places, *_ = model.decide(*observed(batch))
    assert model(batch)[0].item() < 0.2 * first
    assert torch.equal(picks, batch["pick"])


def test_settings_and_inputs_it_cannot_take_are_refused_with_the_fix(batch):
    with pytest.raises(ValueError, match="choose one of"):
        PlannerConfig(streams="both")
    with pytest.raises(ValueError, match="odd"):
        PlannerConfig(crop=8)
    with pytest.raises(ValueError, match="multiples of 8"):
        planner().inputs(batch["rgb"][:, :, :60], *observed(batch)[1:])
