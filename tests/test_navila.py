"""The command VLA (NaVILA): its noisy demonstrations, its training rows, and a small model taught to say them."""

import numpy as np
import pytest
import torch

from vlacourse.hierarchy.commands import COMMANDS, parse_command
from vlacourse.hierarchy.navila import (
    CommandBatches,
    build_command_vla,
    collect_command_demos,
    load_course_command_vla,
    perturbed,
)
from vlacourse.training import train


def test_noise_moves_some_moves_off_and_never_down_further_or_the_gripper():
    rng = np.random.default_rng(0)
    moves = [text for text in COMMANDS if parse_command(text).displacement is not None]
    changed = 0
    for _ in range(20):
        for text in COMMANDS:
            carried_out = perturbed(text, rng, 0.3)
            said, done = parse_command(text), parse_command(carried_out)
            if said.gripper is not None:
                assert carried_out == text, "the gripper's commands are never perturbed"
                continue
            changed += carried_out != text
            if said.displacement[2] < 0:
                assert done.displacement[2] >= said.displacement[2], "a lower may stop short, never go further"
            assert np.abs(done.displacement - said.displacement).max() <= 0.02 + 1e-9 or not np.any(
                done.displacement * said.displacement
            ), "one or two centimetres off, or a short move sideways"
    assert 0.2 < changed / (20 * len(moves)) < 0.3, "about noise of them (a few perturbations give the same words)"
    assert all(perturbed(text, rng, 0.0) == text for text in COMMANDS), "no noise, no change"


@pytest.fixture(scope="module")
def demos():
    return collect_command_demos("pick_place", 2, seed=0, noise=0.3)


def test_each_row_is_what_the_cameras_showed_and_the_oracles_command(demos):
    rows = len(demos.commands)
    assert rows > 20 and all(text in COMMANDS for text in demos.commands)
    assert demos.arrays["observation.images.scene"].shape == (rows, 64, 64, 3)
    assert demos.arrays["observation.state"].shape == (rows, 9) and len(demos.arrays["task_index"]) == rows
    clean = collect_command_demos("pick_place", 2, seed=0)
    assert clean.commands != demos.commands, "noise changes the way, so the oracle says other commands"


def test_what_the_vla_says_is_what_its_training_logits_choose_and_training_moves_them(demos, tmp_path):
    vla = build_command_vla(demos).eval()
    ids, targets = vla.text_ids(["move left 4 cm", "close the gripper"])
    assert vla.tokenizer.decode(ids[0]) == " move left 4 cm." and (targets[1] == -100).sum() > 0
    batch = CommandBatches(demos, vla.config, 6, seed=0)()
    inputs = vla.images_of(batch), vla.instruction_ids(batch["task"]), batch["observation.state"]
    written = vla.greedy_tokens(*inputs, 8, text=True)  # (6, 8)
    chosen = vla.read_tokens(batch, written)[0].argmax(-1)  # (6, 8)
    assert torch.equal(chosen, written), "greedy decoding with its cache = the argmax at every teacher-forced step"
    before = vla(batch)[1]["command_loss"]
    train(vla.train(), lambda: batch, 15, lr=1e-3, progress=False, compute_loss=lambda m, b: m(b)[0], warmup_steps=1)
    assert vla(batch)[1]["command_loss"] < 0.5 * before, "a few steps on one batch: its commands grow likely"
    vla.eval()
    path = tmp_path / "command_vla.safetensors"
    vla.save(path, {"note": "a test"})
    again = load_course_command_vla(path)
    assert again.commands_for(*inputs) == vla.commands_for(*inputs)
    assert again.metrics == {"note": "a test"}
