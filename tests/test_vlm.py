"""The VLM's mechanics on tiny models: where the loss falls, cached generation, the checkpoint round trip."""

import numpy as np
import pytest
import torch

from vlacourse.lm.gpt import GPTConfig
from vlacourse.lm.tokenizer import BPETokenizer
from vlacourse.vlm.course_vlm import VLM, Recipe, encode_examples, load_course_vlm, save_course_vlm
from vlacourse.vlm.vision import SigLIP, ViTConfig

TEXT = "question: is the red block in the bin? answer: yes\ncaption: the red block is in the bin.\n" * 20
TINY_VIT = ViTConfig(n_layer=1, n_head=2, n_embd=32)


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, 300)


@pytest.fixture(scope="module")
def vlm(tokenizer):
    torch.manual_seed(0)
    return VLM(
        TINY_VIT, GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=32)
    ).eval()


def test_loss_falls_on_the_answer_only(tokenizer):
    ids, targets = encode_examples(
        tokenizer,
        [
            (0, "question: is the red block in the bin? answer:", " yes\n"),
            (0, "caption:", " the red block is in the bin.\n"),
        ],
    )
    prompt = tokenizer.encode("question: is the red block in the bin? answer:")
    answer = tokenizer.encode(" yes\n")
    assert ids[0, : len(prompt)].tolist() == prompt
    # The last prompt position predicts the first answer token; nothing before it is scored.
    assert (
        targets[0, : len(prompt) - 1].eq(-100).all() and targets[0, len(prompt) - 1 :][: len(answer)].tolist() == answer
    )
    assert targets[1].ne(-100).sum() == len(tokenizer.encode(" the red block is in the bin.\n"))


def test_forward_reads_the_image_prefix(vlm, tokenizer):
    images = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    ids, targets = encode_examples(tokenizer, [(0, "caption:", " the red block is in the bin.\n")] * 2)
    logits, loss = vlm(images, ids, targets)
    assert logits.shape == (*ids.shape, tokenizer.vocab_size) and torch.isfinite(loss)
    assert not torch.allclose(logits[0], logits[1])  # different images, different predictions


def test_cached_generation_matches_greedy_decoding_without_cache(vlm, tokenizer):
    images = torch.randint(0, 256, (3, 64, 64, 3), dtype=torch.uint8)
    prompt = tokenizer.encode("question: is the red block in the bin? answer:")
    generated = vlm.generate(images, prompt, max_new_tokens=6, stop_token=-1)  # no stop: 6 tokens each
    for image, tokens in zip(images, generated, strict=True):
        ids = list(prompt)
        for _ in range(6):
            logits, _ = vlm(image[None], torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
        assert tokens == ids[len(prompt) :]


def test_checkpoint_round_trip_in_float16(tmp_path, tokenizer):
    torch.manual_seed(1)
    recipe = Recipe(
        vit=TINY_VIT,
        text=GPTConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=32),
        gpt=GPTConfig(vocab_size=tokenizer.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=32),
    )
    siglip, vlm = SigLIP(recipe.vit, recipe.text), VLM(recipe.vit, recipe.gpt)
    vlm.vision.load_state_dict(siglip.image_tower.state_dict())
    path = tmp_path / "vlm.safetensors"
    save_course_vlm(path, siglip, vlm, tokenizer, recipe, {"vqa_accuracy": 0.5})
    loaded_siglip, loaded_vlm, loaded_tokenizer, metrics = load_course_vlm(path)
    assert metrics == {"vqa_accuracy": 0.5} and loaded_tokenizer.merges == tokenizer.merges
    for original, loaded in ((vlm, loaded_vlm), (siglip, loaded_siglip)):
        for name, value in original.state_dict().items():
            np.testing.assert_allclose(loaded.state_dict()[name], value.half().float(), atol=1e-6, err_msg=name)


def test_attention_map_matches_the_models_own_attention(vlm, tokenizer):
    from vlacourse.vlm.course_vlm import attention_to_image

    image = torch.randint(0, 256, (64, 64, 3), dtype=torch.uint8)
    prompt = tokenizer.encode("question: is the red block in the bin? answer:")
    weights = attention_to_image(vlm, image, prompt, layer=0)
    assert weights.shape == (8, 8) and 0 < weights.sum() <= 1 + 1e-6
    # Independent check: capture the first layer's attention input and recompute with explicit softmax.
    captured = {}
    hook = vlm.gpt.blocks[0].attn.register_forward_hook(lambda m, args, out: captured.setdefault("x", args[0]))
    vlm(image[None], torch.tensor([prompt]))
    hook.remove()
    attention = vlm.gpt.blocks[0].attn
    q, k, _ = attention.c_attn(captured["x"]).split(32, dim=2)
    q, k = (t.view(1, -1, 2, 16).transpose(1, 2) for t in (q, k))
    causal = torch.triu(torch.full((q.shape[2],) * 2, float("-inf")), 1)
    full = torch.softmax((q @ k.transpose(-2, -1)) / 4 + causal, -1)  # head size 16: scale 1/4
    np.testing.assert_allclose(weights.flatten(), full[0, :, -1, :64].mean(0).detach(), atol=1e-5)


def test_importing_the_vlm_leaves_mujoco_unloaded():
    # `python -m vlacourse.vlm.course_vlm train` must choose MuJoCo's backend before MuJoCo loads.
    import subprocess
    import sys

    code = "import sys, vlacourse.vlm.course_vlm; assert 'mujoco' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


class SaysNo:
    """A stand-in VLM that answers "no" to everything."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def parameters(self):
        yield torch.zeros(1)

    def generate(self, images, prompt, max_new_tokens, stop_token):
        return [self.tokenizer.encode(" no")] * len(images)


def test_question_accuracy_and_the_majority_baseline():
    from vlacourse.lm.corpus import load_corpus
    from vlacourse.vlm.course_vlm import question_accuracy
    from vlacourse.vlm.scenes import SceneMaker, question_kind

    tokenizer = BPETokenizer.train(load_corpus(), 512)
    scenes = SceneMaker().make_many(40, seed=5, progress=False)
    accuracy, majority = question_accuracy(SaysNo(tokenizer), tokenizer, scenes, seed=0)
    rng = np.random.default_rng(0)  # one generator across the scenes, as the evaluator uses
    asked = [qa for s in scenes for qa in s.questions(rng)]
    assert accuracy == sum(a == "no" for _, a in asked) / len(asked)
    by_kind = {}
    for q, a in asked:
        by_kind.setdefault(question_kind(q), []).append(a)
    assert majority == sum(max(map(answers.count, set(answers))) for answers in by_kind.values()) / len(asked)
    assert accuracy <= majority + 1e-9  # one fixed answer cannot beat the best fixed answer per kind


def test_a_truncated_vlm_checkpoint_names_the_command_that_makes_it(tmp_path):
    path = tmp_path / "course_vlm.safetensors"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(
        ValueError, match=r"course_vlm\.safetensors is not a readable .*python -m vlacourse.vlm.course_vlm train"
    ):
        load_course_vlm(path)
