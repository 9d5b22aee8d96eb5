"""A streaming camera on the arm, and selective decoding: turn a stream of embeddings into text only where it changes.

The stream: the scripted expert doing clear_table, filmed at 10 Hz by both cameras. Each frame is annotated with
what the robot is doing, the dataset's subtask label ("pick up the red block", "put the red block in the bin"), in
one of three wordings picked per run of the subtask, as people annotating video would word it.

Selective decoding (VL-JEPA, Chen et al. 2025, arXiv 2512.10942, its streaming-video experiment): the model
predicts an embedding of "what is the robot doing?" at every frame, which costs one predictor pass; turning an
embedding into text is the expensive step, so it happens only for a few points of the stream.

    uniform:   decode every k frames, each decode standing for the k frames around it
    adaptive:  change curve c(t) = 1 - cos(mean of the w frames before t, mean of the w frames from t)
               a segment starts at each peak of c above a threshold; one decode per segment

Each decode reads the mean embedding of the span it stands for (averaging is what makes a span's decode steadier
than one frame's). Quality: the share of annotated frames whose span's decoded text names their subtask; cost:
decodes per second. The paper compares the two by CIDEr on EgoExo4D's procedural videos, with a segmentation
of its own; ours starts segments at the change curve's peaks (what the course's widget can show and a threshold
can move), and scores a caption by whether it names the right subtask (our captions are a closed set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from vlacourse.sim.arm import CONTROL_HZ
from vlacourse.sim.tasks import COLORS

STREAM_HZ = 10  # frames a second: every fifth control step
QUERY = "what is the robot doing?"
DONE = "done"  # the env's subtask once the table is clear
WORDINGS = {  # the three ways an annotator says each subtask; the first is the env's own label
    "pick": ("pick up the {color} block", "grasp the {color} block", "go get the {color} one"),
    "place": ("put the {color} block in the bin", "drop the {color} block into the bin", "bin the {color} one"),
}
SUBTASK_OF = {
    wording.format(color=color): WORDINGS[kind][0].format(color=color)
    for kind in WORDINGS
    for color in COLORS
    for wording in WORDINGS[kind]
}  # any wording -> the env's subtask label


@dataclass
class Stream:
    """One filmed episode: frames at ``STREAM_HZ`` and their annotations."""

    scene: np.ndarray  # (T, H, W, 3) uint8, the scene camera
    wrist: np.ndarray  # (T, H, W, 3) uint8, the wrist camera
    subtasks: list[str]  # the env's subtask label of each frame
    captions: list[str]  # each frame's annotation: its subtask in the wording picked for that run

    def __len__(self) -> int:
        return len(self.subtasks)

    @property
    def seconds(self) -> float:
        return len(self) / STREAM_HZ


def annotation(previous: str | None, subtask: str) -> str:
    """The frame's label: the env's subtask, except while a released block falls into the bin, when the env
    already says "pick up" that block (it is neither held nor in the bin) and an annotator still sees it put there."""
    for color in COLORS:
        if previous == WORDINGS["place"][0].format(color=color) and subtask == WORDINGS["pick"][0].format(color=color):
            return previous
    return subtask


def film(episodes: int, seed: int, image_size: int = 64, progress: bool = True) -> list[Stream]:
    """The scripted expert doing clear_table ``episodes`` times (operator styles in turn), filmed at 10 Hz, each
    subtask run worded one of three ways at random; seeded, so the same arguments film the same streams."""
    from vlacourse.sim.dataset import episode_seed
    from vlacourse.sim.env import TabletopEnv
    from vlacourse.sim.expert import STYLES, ScriptedExpert

    env = TabletopEnv("clear_table", image_size=image_size, cameras=())  # rendered below, only the frames kept
    rng = np.random.default_rng(seed)
    styles = sorted(STYLES)
    streams = []
    for episode in tqdm(range(episodes), desc="filming clear_table", disable=not progress, unit="episode"):
        expert = ScriptedExpert(env, style=styles[episode % len(styles)], seed=episode_seed(seed, episode))
        observation, info = env.reset(seed=episode_seed(seed, episode))
        frames: dict[str, list] = {"scene": [], "wrist": [], "subtasks": [], "captions": []}
        wording = None
        for step in range(env.max_steps):
            if info["subtask"] == DONE:
                break
            if step % (CONTROL_HZ // STREAM_HZ) == 0:
                subtask = annotation(frames["subtasks"][-1] if frames["subtasks"] else None, info["subtask"])
                if not frames["subtasks"] or frames["subtasks"][-1] != subtask:  # a new run: new words
                    kind = "pick" if subtask.startswith("pick") else "place"
                    color = next(c for c in COLORS if f" {c} " in subtask)
                    wording = WORDINGS[kind][rng.integers(3)].format(color=color)
                for camera in ("scene", "wrist"):
                    frames[camera].append(env.policy_camera.render(env.arm.data, camera).copy())
                frames["subtasks"].append(subtask)
                frames["captions"].append(wording)
            observation, _, terminated, truncated, info = env.step(expert.select_action(observation))
            if terminated or truncated:
                break
        streams.append(
            Stream(np.stack(frames["scene"]), np.stack(frames["wrist"]), frames["subtasks"], frames["captions"])
        )
    return streams


# Selective decoding. Embeddings are (T, D) unit vectors, one per frame.
def change_curve(embeddings: np.ndarray, window: int = 3) -> np.ndarray:
    """(T,) how much the stream changes at each frame: 1 - cosine between the mean embedding of the ``window``
    frames before t and that of the ``window`` frames from t on; 0 where either side is shorter than the window."""
    curve = np.zeros(len(embeddings))
    for t in range(window, len(embeddings) - window + 1):
        before, after = embeddings[t - window : t].mean(0), embeddings[t : t + window].mean(0)
        curve[t] = 1 - before @ after / (np.linalg.norm(before) * np.linalg.norm(after))
    return curve


def adaptive_starts(curve: np.ndarray, threshold: float, window: int = 3) -> np.ndarray:
    """The frames where segments start: 0, and each peak of ``curve`` above ``threshold`` (the highest value
    within ``window`` frames either side, the earliest where tied)."""
    starts = [0]
    for t in np.flatnonzero(curve > threshold):
        around = curve[max(0, t - window) : t + window + 1]
        if curve[t] == around.max() and t - starts[-1] > window:
            starts.append(int(t))
    return np.array(starts)


def uniform_starts(length: int, every: int) -> np.ndarray:
    """Segments of ``every`` frames: a decode every ``every`` frames (``STREAM_HZ / every`` a second)."""
    return np.arange(0, length, every)


def decode_points(starts: np.ndarray, length: int) -> np.ndarray:
    """Where each segment's decode stands in time: its middle frame."""
    stops = np.append(starts[1:], length)
    return (starts + stops - 1) // 2


def segment_means(embeddings: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(segments, D): each segment's mean embedding, what its one decode reads."""
    return np.stack([part.mean(0) for part in np.split(embeddings, starts[1:])])


def per_frame(decoded_subtasks: list[str | None], starts: np.ndarray, length: int) -> list[str | None]:
    """What each frame's segment was decoded as."""
    return list(np.repeat(np.array(decoded_subtasks, dtype=object), np.diff(np.append(starts, length))))


def span_quality(decoded_subtasks: list[str | None], starts: np.ndarray, truth: list[str]) -> float:
    """Share of frames whose segment's decoded subtask is the frame's own."""
    return float(np.mean([d == t for d, t in zip(per_frame(decoded_subtasks, starts, len(truth)), truth, strict=True)]))


@dataclass
class DecodedStream:
    """One stream decoded once per segment (what the widget draws)."""

    starts: np.ndarray  # the first frame of each segment
    per_frame: list[str | None]  # the subtask each frame's segment was decoded as
    quality: float  # share of frames decoded as their own subtask
    every: int = 0  # uniform decoding's spacing in frames; 0 for adaptive decoding

    @property
    def points(self) -> np.ndarray:
        return decode_points(self.starts, len(self.per_frame))


def decoded(embeddings: np.ndarray, truth: list[str], decode, starts: np.ndarray, every: int = 0) -> DecodedStream:
    names = decode(segment_means(embeddings, starts))
    return DecodedStream(starts, per_frame(names, starts, len(truth)), span_quality(names, starts, truth), every)


def decode_stream(embeddings, truth, decode, curve: np.ndarray, threshold: float, window: int = 3) -> DecodedStream:
    """Adaptive decoding of one stream at ``threshold`` on its change ``curve``."""
    return decoded(embeddings, truth, decode, adaptive_starts(curve, threshold, window))


def uniform_match(embeddings, truth, decode, quality: float) -> DecodedStream:
    """Uniform decoding of one stream with the fewest decodes that reach ``quality`` (every frame, if none does)."""
    for every in sorted(UNIFORM_EVERY, reverse=True):
        result = decoded(embeddings, truth, decode, uniform_starts(len(truth), every), every)
        if result.quality >= quality:
            return result
    return result


def rate_and_quality(embeddings: list[np.ndarray], truths: list[list[str]], decode, starts_of) -> tuple[float, float]:
    """Decodes a second and quality over many streams: ``starts_of(embeddings)`` segments one stream, ``decode``
    turns (segments, D) mean embeddings into the subtasks they name."""
    decodes = correct = frames = 0
    for stream, truth in zip(embeddings, truths, strict=True):
        starts = starts_of(stream)
        decodes += len(starts)
        correct += span_quality(decode(segment_means(stream, starts)), starts, truth) * len(truth)
        frames += len(truth)
    return decodes / (frames / STREAM_HZ), correct / frames


UNIFORM_EVERY = tuple(range(1, 61))  # frames between uniform decodes: every spacing from 0.1 s to 6 s
THRESHOLDS = tuple(float(t) for t in np.round(np.geomspace(0.002, 0.5, 36), 4))  # adaptive decoding's thresholds


def uniform_curve(embeddings, truths, decode) -> list[tuple[float, float]]:
    """(rate, quality) of uniform decoding at each of ``UNIFORM_EVERY``."""
    spacing = [lambda e, k=k: uniform_starts(len(e), k) for k in UNIFORM_EVERY]
    return [rate_and_quality(embeddings, truths, decode, starts_of) for starts_of in spacing]


def adaptive_curve(embeddings, truths, decode, window: int = 3) -> list[tuple[float, float]]:
    """(rate, quality) of adaptive decoding at each of ``THRESHOLDS``."""
    curves = [change_curve(e, window) for e in embeddings]
    points = []
    for threshold in THRESHOLDS:
        starts = iter([adaptive_starts(c, threshold, window) for c in curves])
        points.append(rate_and_quality(embeddings, truths, decode, lambda e, s=starts: next(s)))
    return points


def chosen_threshold(embeddings, truths, decode, window: int = 3) -> float:
    """The threshold adaptive decoding runs at, chosen on streams it is then not measured on: the one of
    ``THRESHOLDS`` with the highest quality (the one with fewer decodes where tied)."""
    points = adaptive_curve(embeddings, truths, decode, window)
    return THRESHOLDS[max(range(len(points)), key=lambda k: (points[k][1], -points[k][0]))]


def selective_curves(embeddings, truths, decode, threshold: float, window: int = 3) -> dict:
    """Both rate-quality curves over held-out streams, and the comparison at equal quality: adaptive decoding at
    ``threshold`` (chosen on other streams) against the fewest uniform decodes that reach its quality (``fewer``;
    where no uniform spacing does, the comparison is with decoding every frame, and ``fewer`` is a lower bound).
    Also the paper's reading: adaptive decoding's fewest decodes reaching what uniform decoding does at one a
    second (``at_one_a_second``)."""
    uniform, adaptive = uniform_curve(embeddings, truths, decode), adaptive_curve(embeddings, truths, decode, window)
    rate, quality = adaptive[THRESHOLDS.index(threshold)]
    reaching = [r for r, q in uniform if q >= quality]
    uniform_rate = min(reaching) if reaching else None
    return {
        "uniform": {"every": list(UNIFORM_EVERY), **as_columns(uniform)},
        "adaptive": {"threshold": list(THRESHOLDS), **as_columns(adaptive)},
        "threshold": threshold,
        "adaptive_rate": rate,
        "adaptive_quality": quality,
        "uniform_rate": uniform_rate,
        "fewer": (uniform_rate or STREAM_HZ) / rate,
        "fewer_is_lower_bound": uniform_rate is None,
        "at_one_a_second": fewer_decodes(uniform[UNIFORM_EVERY.index(STREAM_HZ)], adaptive),
    }


def as_columns(points: list[tuple[float, float]]) -> dict[str, list[float]]:
    return {"rate": [r for r, _ in points], "quality": [q for _, q in points]}


def fewer_decodes(reference: tuple[float, float], adaptive: list[tuple[float, float]]) -> dict:
    """At the quality uniform decoding reaches at ``reference`` (rate, quality): adaptive decoding's lowest rate
    reaching it, and how many times fewer decodes that is."""
    rate, quality = reference
    reaching = [r for r, q in adaptive if q >= quality]
    lowest = min(reaching) if reaching else float("nan")
    return {"reference_rate": rate, "reference_quality": quality, "adaptive_rate": lowest, "fewer": rate / lowest}
