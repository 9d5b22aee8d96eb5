"""Byte-level byte-pair encoding (BPE), as in GPT-2 (Radford et al. 2019, section 2.2).

    text --regex split--> words --UTF-8--> bytes (ids 0..255) --merges, lowest rank first--> token ids

Training starts from the 256 byte values and repeatedly merges the most frequent adjacent pair of ids
into a new id, until the vocabulary has ``vocab_size`` entries. Text is first split into words (a
word keeps its leading space, as in GPT-2) so that merges never cross word boundaries; counting over
the distinct words with their counts, instead of over the whole text, makes training fast. Any text
round-trips, since every byte is in the vocabulary. Ties between equally frequent pairs go to the
smallest pair of ids, so training is deterministic.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

# GPT-2's split pattern with ASCII letter classes (Python's re has no \p{L}): words with their leading
# space, numbers, punctuation runs, and whitespace.
SPLIT_PATTERN = r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+"


def count_pairs(words: dict[tuple[int, ...], int]) -> Counter:
    """How often each adjacent pair of ids occurs, each word weighted by its count."""
    counts: Counter = Counter()
    for ids, n in words.items():
        for pair in pairwise(ids):
            counts[pair] += n
    return counts


def merge(ids: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    """Replace every occurrence of ``pair`` in ``ids`` (left to right, not overlapping) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


def most_frequent(counts: Counter) -> tuple[int, int]:
    """The most frequent pair; among equals, the smallest."""
    return max(counts, key=lambda pair: (counts[pair], -pair[0], -pair[1]))


def learn_merges(words: Counter, first_id: int, vocab_size: int) -> list[tuple[int, int]]:
    """BPE training: merge the most frequent adjacent pair of ``words`` (id tuples with their counts) into
    ids ``first_id``, ``first_id + 1``, ... until ``vocab_size`` ids exist or nothing is left to merge."""
    merges = []
    for new_id in range(first_id, vocab_size):
        counts = count_pairs(words)
        if not counts:  # every word is a single token: nothing left to merge
            break
        pair = most_frequent(counts)
        merges.append(pair)
        words = Counter({merge(ids, pair, new_id): n for ids, n in words.items()})
    return merges


def apply_merges(ids: tuple[int, ...], ranks: dict[tuple[int, int], int]) -> tuple[int, ...]:
    """BPE encoding: repeatedly merge the pair learned first (lowest new id), until no learned pair is left."""
    while len(ids) > 1:
        pair = min(pairwise(ids), key=lambda p: ranks.get(p, float("inf")))
        if pair not in ranks:
            break
        ids = merge(ids, pair, ranks[pair])
    return ids


class BPETokenizer:
    def __init__(self, merges: list[tuple[int, int]] | None = None):
        self.merges = [tuple(pair) for pair in (merges or [])]  # merges[i] made id 256 + i
        self.ranks = {pair: 256 + i for i, pair in enumerate(self.merges)}
        self.vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
        for pair, new_id in self.ranks.items():
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (one id per byte), got {vocab_size}")
        words = Counter(tuple(w.encode("utf-8")) for w in re.findall(SPLIT_PATTERN, text))
        return cls(learn_merges(words, 256, vocab_size))

    def _encode_word(self, word: str) -> list[int]:
        if word not in self._cache:
            self._cache[word] = list(apply_merges(tuple(word.encode("utf-8")), self.ranks))
        return self._cache[word]

    def encode(self, text: str) -> list[int]:
        return [i for word in re.findall(SPLIT_PATTERN, text) for i in self._encode_word(word)]

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(
                f"token ids {bad[:5]} are not in this tokenizer's vocabulary of {self.vocab_size}: "
                "were they made by another tokenizer, or sampled from a larger output layer?"
            )
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_strings(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, for showing tokenization."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in self.encode(text)]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"split_pattern": SPLIT_PATTERN, "merges": self.merges}))

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        data = json.loads(Path(path).read_text())
        if data.get("split_pattern") != SPLIT_PATTERN:
            raise ValueError(f"{path} was trained with another split pattern; retrain it with BPETokenizer.train")
        return cls([tuple(pair) for pair in data["merges"]])
