"""Byte-level BPE: round trips on any text, merges against a brute-force count, bad ids refused."""

import random
import re
from collections import Counter

import pytest

from vlacourse.lm.corpus import load_corpus
from vlacourse.lm.tokenizer import SPLIT_PATTERN, BPETokenizer

SMALL = "the red block is left of the blue block. put the red block in the bin!\n" * 3 + "bin bins binned 42 43\n"


def brute_force_merges(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """BPE the slow, literal way: every word occurrence, in order, merged one pair at a time."""
    occurrences = [list(w.encode("utf-8")) for w in re.findall(SPLIT_PATTERN, text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts = Counter()
        for ids in occurrences:
            for i in range(len(ids) - 1):
                counts[(ids[i], ids[i + 1])] += 1
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        merges.append(pair)
        for ids in occurrences:
            i = 0
            while i < len(ids) - 1:
                if (ids[i], ids[i + 1]) == pair:
                    ids[i : i + 2] = [new_id]
                i += 1
    return merges


def test_merges_match_a_brute_force_count():
    assert BPETokenizer.train(SMALL, 300).merges == brute_force_merges(SMALL, 300)


def test_round_trip_on_arbitrary_text():
    tokenizer = BPETokenizer.train(load_corpus(), 400)
    rng = random.Random(0)
    alphabet = "abc xyz.,!?\n\t0123 éü中文🤖" + "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(200))
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        assert tokenizer.decode(tokenizer.encode(text)) == text


def test_training_compresses_the_corpus_and_is_deterministic():
    corpus = load_corpus()
    tokenizer = BPETokenizer.train(corpus, 512)
    assert len(corpus.encode()) / len(tokenizer.encode(corpus)) > 3.5
    assert BPETokenizer.train(corpus, 512).merges == tokenizer.merges


def test_save_and_load_keep_the_encoding(tmp_path):
    tokenizer = BPETokenizer.train(SMALL, 290)
    tokenizer.save(tmp_path / "bpe.json")
    loaded = BPETokenizer.load(tmp_path / "bpe.json")
    assert loaded.merges == tokenizer.merges and loaded.encode(SMALL) == tokenizer.encode(SMALL)


def test_invalid_token_ids_are_refused():
    tokenizer = BPETokenizer.train(SMALL, 280)
    with pytest.raises(ValueError, match=r"token ids \[280\] are not in this tokenizer's vocabulary of 280"):
        tokenizer.decode([1, 280])
    with pytest.raises(ValueError, match="vocab_size must be at least 256"):
        BPETokenizer.train(SMALL, 100)
