"""Pointing: the pointer's read-out, its loss, its training on cheap scenes, and a VLA that points first."""

import pytest
import torch

from vlacourse.policies.fast_vla import build_fast_vla
from vlacourse.policies.flow import FlowConfig, FlowVLA, build_flow_vla
from vlacourse.policies.policy import POINTING_KEY, ChunkBatches, Policy
from vlacourse.policies.vlm_prefix import build_on_vlm
from vlacourse.sim.tasks import COLORS, HELD_OUT, TEMPLATES
from vlacourse.vlm.pointing import (
    PointingRecipe,
    build_pointing_vlm,
    pointing_instructions,
    train_pointing,
)
from vlacourse.vlm.vision import Pointer, Pointing, pointing_loss


def test_a_pointer_that_puts_all_weight_on_one_patch_points_at_its_centre():
    pointer = Pointer(text_dim=4, patch_dim=8, grid=4, cameras=1)
    torch.nn.init.zeros_(pointer.offsets.weight), torch.nn.init.zeros_(pointer.offsets.bias)
    patches = torch.zeros(1, 16, 8)
    patches[0, 6] = 100.0  # row 1, column 2 of a 4x4 grid
    with torch.no_grad():
        pointer.queries.weight.fill_(1.0), pointer.queries.bias.zero_()
        pointing = pointer([patches], torch.ones(1, 4))
    assert torch.allclose(pointing.points[0, 0], torch.tensor([(2.5 / 4) * 2 - 1, (1.5 / 4) * 2 - 1]))
    assert pointing.features().shape == (1, 3)


def test_the_loss_skips_points_out_of_view_and_counts_pixels():
    target = torch.tensor([[[0.5, 0.0, 1.0], [0.9, 0.9, 0.0]]])  # scene in view, wrist not
    pointing = Pointing(torch.tensor([[[0.5, 0.25], [-1.0, -1.0]]]), torch.tensor([[20.0, -20.0]]))
    loss, parts = pointing_loss(pointing, target, ("scene", "wrist"))
    assert loss.item() == pytest.approx(0.25, abs=1e-6)  # the wrist's miss does not count; the calls are right
    assert parts["point_px_scene"] == pytest.approx(8.0) and parts["point_px_wrist"] == 0.0


def test_the_instructions_name_their_block_and_leave_the_held_out_combinations_out():
    per_block = pointing_instructions()
    assert len(per_block) == len(COLORS)
    for color, texts in zip(COLORS, per_block, strict=True):
        assert f"where is the {color} block" in texts and all(color in t.split() for t in texts)
    green_in_the_bin = TEMPLATES["pick_place"][0].format(color="green")
    assert ("pick_place", "green") in HELD_OUT and green_in_the_bin not in per_block[COLORS.index("green")]


def test_pointing_learns_and_is_seeded():
    recipe = PointingRecipe(scenes=64, heldout_scenes=32, steps=30, batch_size=16, lr=1e-3)
    vlm, history, metrics = train_pointing(recipe, progress=False)
    assert history.losses[-1] < 0.7 * history.losses[0]
    assert set(metrics) >= {"scene_px_median", "wrist_px_median", "in_view_right"}
    _, again, _ = train_pointing(PointingRecipe(**{**recipe.__dict__, "steps": 30}), progress=False, stop_after=5)
    assert again.losses == history.losses[:5]


def test_co_training_adds_the_vlms_own_loss_and_measures_its_answers():
    from dataclasses import replace

    from vlacourse.vlm.pointing import ANSWERING

    recipe = replace(
        ANSWERING,
        scenes=32,
        heldout_scenes=32,
        steps=4,
        batch_size=4,
        vqa_batch_size=4,
        vqa_scenes=16,
    )
    vlm, history, metrics = train_pointing(recipe, progress=False)
    assert 0.5 < metrics["question_accuracy"] <= 1.0, "it starts from the course VLM, which answers most questions"
    alone = train_pointing(replace(recipe, vqa_batch_size=0), progress=False, stop_after=1)[1]
    # The same pointing batch and weights at step 1: the co-trained loss adds the questions' loss to it.
    assert history.losses[0] > alone.losses[0]


def test_a_vla_built_on_a_pointing_vlm_points_first_and_keeps_its_pointer(dataset, observation, tmp_path):
    pointing_vlm = build_pointing_vlm()
    torch.manual_seed(0)
    policy = build_flow_vla(dataset, chunk_size=5, num_steps=2, pointing_vlm=pointing_vlm)
    for name, tensor in pointing_vlm.pointer.state_dict().items():
        assert torch.equal(policy.pointer.state_dict()[name], tensor)
    batch = ChunkBatches(dataset, policy.config, 4, seed=0)()
    assert batch[POINTING_KEY].shape == (4, 2, 3)
    loss, parts = policy(batch)
    assert torch.isfinite(loss) and "point_px_scene" in parts
    policy.save(tmp_path / "flow.safetensors")
    loaded = Policy.load(tmp_path / "flow.safetensors")
    noise = torch.randn(1, 5, 4)
    images, instructions, state = policy.observation_tensors([observation])
    assert torch.allclose(
        policy.eval().denoise(images, instructions, state, noise)[-1],
        loaded.denoise(images, instructions, state, noise)[-1],
        atol=1e-6,
    )


def test_a_token_vla_points_before_its_action_tokens(dataset, observation):
    pointing_vlm = build_pointing_vlm()
    torch.manual_seed(0)
    policy = build_fast_vla(dataset, chunk_size=5, pointing_vlm=pointing_vlm)
    loss, parts = policy(ChunkBatches(dataset, policy.config, 4, seed=0)())
    assert torch.isfinite(loss) and {"action_loss", "point_px_scene"} <= set(parts)
    assert policy.eval().predict_action_chunk(observation).shape == (5, 4)


def test_a_policy_on_a_pointing_vlm_must_point(dataset):
    with pytest.raises(ValueError, match="point_weight > 0"):
        build_on_vlm(FlowVLA, FlowConfig(), dataset, build_pointing_vlm())
