"""The planner's demonstrations, its shifted batches, a short training run, and its file."""

import numpy as np
import pytest
import torch

from vlacourse.hierarchy.planning import (
    PlannerBatches,
    PlannerRecipe,
    collect_planner_demos,
    load_course_planner,
    merge,
    outcomes,
    save_planner,
    shifted,
    train_planner,
)
from vlacourse.hierarchy.primitives import expert_decision
from vlacourse.sim.env import TabletopEnv


@pytest.fixture(scope="module")
def demos():
    return merge(collect_planner_demos("pick_place", 3), collect_planner_demos("stack", 3))


def test_a_demonstration_is_the_episodes_first_view_and_the_experts_decision(demos):
    env = TabletopEnv("stack", cameras=())
    env.reset(seed=1)
    decision = expert_decision(env)
    assert demos["instructions"][4] == env.task_spec.instruction
    assert demos["pick"][4].tolist() == list(np.round(decision.pick)) and demos["rgb"].shape == (6, 64, 112, 3)


def test_a_shifted_view_carries_its_labels_with_it(demos):
    image = torch.arange(12).reshape(3, 4)
    assert torch.equal(shifted(image, 1, -1), torch.tensor([[0, 0, 0, 0], [1, 2, 3, 0], [5, 6, 7, 0]]))
    from vlacourse.vlm.course_vlm import load_course_vlm

    tokenizer = load_course_vlm()[2]
    batch = PlannerBatches(demos, tokenizer, batch_size=16, shift=8, seed=0)()
    moved = (batch["pick"] != demos["pick"][0]).any()
    assert moved and batch["rgb"].shape == (16, 64, 112, 3) and batch["ids"].shape[0] == 16
    # What lies under the shifted pick is what lay under the demonstrated one: the named block's top.
    for heights, pick in zip(batch["heights"], batch["pick"], strict=True):
        assert heights[tuple(pick)] == pytest.approx(0.04, abs=2e-3)


def test_the_recipes_first_steps_train_and_the_file_keeps_the_planner(tmp_path):
    recipe = PlannerRecipe(demonstrations=3, steps=20, batch_size=2)
    planner, history, metrics = train_planner(recipe, progress=False, stop_after=5)
    assert len(history.losses) == 5 and all(np.isfinite(history.losses)) and metrics["prefix_losses"] == history.losses
    save_planner(planner, tmp_path / "planner.safetensors", metrics)
    loaded, tokenizer, loaded_metrics = load_course_planner(tmp_path / "planner.safetensors")
    assert loaded_metrics == metrics and loaded.config == planner.config
    for name, value in planner.own_state_dict().items():
        assert torch.equal(value, loaded.own_state_dict()[name]), name
    assert len(outcomes(loaded, tokenizer, "pick_place", episodes=1)) == 1
