"""The planner widget, driven without a browser: its controls set by ``.value`` and by ``set``."""

import pytest
import torch

from vlacourse.hierarchy.cliport import Planner, PlannerConfig
from vlacourse.vlm.course_vlm import load_course_vlm
from vlacourse.vlm.vision import ViT, ViTConfig
from vlacourse.widgets.planner import planner_widget


@pytest.fixture(scope="module")
def view():
    """The widget on an untrained planner: what it draws is tested here, how well it plans elsewhere."""
    torch.manual_seed(0)
    siglip, _, tokenizer, _ = load_course_vlm()
    planner = Planner(PlannerConfig(), ViT(ViTConfig()), siglip.text_tower).eval()
    return planner_widget(planner, tokenizer)


def test_the_first_picture_is_a_planned_and_executed_episode(view):
    episode = view.episodes["pick_place", "red", 0]
    assert view.image.value and episode.instruction.count("red") == 1 and episode.split == "train"
    assert episode.pick_logits.shape == (64, 112) and len(episode.frames) >= 2


def test_moving_a_control_plans_another_episode_and_redraws(view):
    first, redraws = view.image.value, view.redraws
    view.controls["scene"].value = 3
    assert view.redraws == redraws + 1 and view.image.value != first and ("pick_place", "red", 3) in view.episodes
    view.set(task="stack", color="red", scene=0)
    episode = view.episodes["stack", "red", 0]
    assert episode.split == "heldout", "red is never the block moved in stack's training data"
    assert view.redraws == redraws + 2


def test_values_the_widget_cannot_take_are_refused_with_the_choices(view):
    with pytest.raises(ValueError, match="choose one of"):
        view.set(task="push")
    with pytest.raises(ValueError, match="out of range"):
        view.set(scene=99)
