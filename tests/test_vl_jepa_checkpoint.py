"""The shipped VL-JEPA comparison (``python -m vlacourse.vlm.vl_jepa_recipe train``): issue 26's bars from its
file, its first held-out answers and streams rerun, and the recipe's first training losses."""

import numpy as np
import pytest

from tests.conftest import CHECKED_STEPS, assert_same_losses
from vlacourse.training import PREFIX_STEPS
from vlacourse.vlm.course_vlm import Recipe
from vlacourse.vlm.vl_jepa_recipe import (
    STREAM_PROMPT,
    JEPARecipe,
    build,
    encode_frames,
    encode_streams,
    heldout_correct,
    jepa_answers,
    load_vl_jepa,
    predict_texts,
    subtask_decoder,
    token_answers,
    train_both,
)

RERUN_SCENES = 32
RERUN_STREAMS = 2


@pytest.fixture(scope="module")
def shipped():
    return load_vl_jepa()


def test_the_shipped_comparison_meets_issue_26s_bars(shipped):
    metrics = shipped.metrics
    assert shipped.recipe == JEPARecipe(), "made by another recipe: make reproduce ARTIFACT=vl_jepa"
    assert metrics["answers"]["vl_jepa"] >= metrics["answers"]["token_vlm"] - 0.05, metrics["answers"]
    assert metrics["passes_per_answer"]["token_vlm"] > 1 == metrics["passes_per_answer"]["vl_jepa"]
    trainable = metrics["trainable"]
    assert trainable["vl_jepa_predictor"] < trainable["token_vlm"], trainable
    selective = metrics["selective"]
    assert selective["fewer"] >= 2.85 and selective["at_one_a_second"]["fewer"] >= 2.85, selective
    assert metrics["heldout_streams"] == JEPARecipe.heldout_streams


def test_its_first_held_out_answers_are_as_recorded(shipped):
    scenes = Recipe().heldout(count=RERUN_SCENES, progress=False)
    tokens = encode_frames(shipped.jepa.x_encoder, [np.stack([s.image for s in scenes])])
    answerers = {
        "token_vlm": lambda v, p: token_answers(shipped.token_vlm, shipped.tokenizer, v, p)[0],
        "vl_jepa": jepa_answers(shipped.jepa, shipped.tokenizer, shipped.decoder),
    }
    for name, answer in answerers.items():
        rerun = heldout_correct(answer, tokens, scenes)
        assert rerun == [c == "1" for c in shipped.metrics["answers_correct"][name][: len(rerun)]], name


def test_its_first_held_out_streams_decode_as_recorded(shipped):
    decode = subtask_decoder(shipped.decoder)
    for k, stream in enumerate(shipped.recipe.streams("heldout", count=RERUN_STREAMS, progress=False)):
        visual = encode_streams(shipped.jepa.x_encoder, [stream])
        embeddings = predict_texts(shipped.jepa, shipped.tokenizer, visual, STREAM_PROMPT).numpy()
        right = float(np.mean(np.array(decode(embeddings)) == np.array(stream.subtasks)))
        assert right == pytest.approx(shipped.metrics["doing_per_stream"]["vl_jepa"][k], abs=1e-9), k


def test_the_recipes_first_steps_give_the_losses_it_recorded(shipped):
    recipe = JEPARecipe()
    recorded = shipped.metrics["prefix_losses"]
    rerun = train_both(recipe, build(recipe, progress=False), progress=False, stop_after=CHECKED_STEPS)
    for name, curve in rerun.items():
        assert len(recorded[name]) == PREFIX_STEPS
        assert_same_losses(curve, recorded[name][:CHECKED_STEPS], f"{name}: retrain and ship: make reproduce")


@pytest.mark.reproduce
def test_the_train_command_reproduces_the_shipped_comparison(shipped, tmp_path):
    """``make reproduce ARTIFACT=vl_jepa``: the whole recipe again."""
    import subprocess
    import sys

    out = tmp_path / "vl_jepa.safetensors"
    subprocess.run(
        [sys.executable, "-m", "vlacourse.vlm.vl_jepa_recipe", "train", "--out", str(out), "--quiet"], check=True
    )
    metrics = load_vl_jepa(out).metrics
    for name, curve in metrics["prefix_losses"].items():
        assert_same_losses(curve, shipped.metrics["prefix_losses"][name], name)
    for name in ("token_vlm", "vl_jepa"):
        assert abs(metrics["answers"][name] - shipped.metrics["answers"][name]) <= 0.03, name
    assert metrics["selective"]["fewer"] >= 2.85
