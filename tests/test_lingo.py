"""The commenting VLA (LINGO-2): its labels against the expert, the consistency check, the copy of the flow VLA
that acts as it does, and the warning-sign measure."""

import numpy as np
import pytest
import torch

from vlacourse.hierarchy.lingo import (
    PHRASES,
    CommentaryBatches,
    CommentingFlowVLA,
    agrees,
    commentary_labels,
    moment,
    phrase,
    said,
    warning_sign,
)
from vlacourse.sim.dataset import collect, episode_seed
from vlacourse.sim.env import TabletopEnv
from vlacourse.sim.tasks import COLORS


@pytest.fixture(scope="module")
def demos():
    return collect("pick_place", episodes=4, seed=0, progress=False)


def replayed_chunks(demos, labels):
    """Each demonstration replayed in the simulator, 10 steps a chunk: (label, start, end, gripper commands)."""
    env = TabletopEnv("pick_place", cameras=())
    for episode in range(demos.num_episodes):
        frames = np.flatnonzero(demos.arrays["episode_index"] == episode)
        env.reset(seed=episode_seed(0, episode), options={"task": "pick_place"})
        for k in range(0, len(frames), 10):
            chunk, start = frames[k : k + 10], moment(env.arm)
            for action in demos.arrays["action"][chunk]:
                env.step(action)
            yield labels[chunk[0]], start, moment(env.arm), demos.arrays["action"][chunk, 3]


def test_the_labels_say_what_the_expert_does_and_another_block_would_be_wrong(demos):
    labels = commentary_labels(demos)
    assert len(labels) == len(demos) and {said(label)[0] for label in labels} == set(range(len(PHRASES)))
    chunks = list(replayed_chunks(demos, labels))
    assert all(agrees(*chunk) for chunk in chunks), "the expert's own chunks agree with their labels"
    wrong = 0
    for label, start, end, gripper in chunks:
        kind, color = said(label)
        other = next(c for c in COLORS if c != color)
        wrong += not agrees(phrase(kind, other), start, end, gripper)
    assert wrong / len(chunks) > 0.8, "naming another block disagrees (it can agree by chance: both on the way)"


def test_words_that_are_no_phrase_never_agree(demos):
    label, start, end, gripper = next(replayed_chunks(demos, commentary_labels(demos)))
    assert said("going to the purple block") is None and said("") is None
    for words in ("", "going to the purple block", "dancing", label + " now"):
        assert not agrees(words, start, end, gripper)


def test_a_commenting_copy_acts_as_the_flow_vla_and_its_words_leave_the_flow_loss_alone(demos):
    from vlacourse.policies.flow import load_course_flow_vla

    flow = load_course_flow_vla()
    vla = CommentingFlowVLA.from_flow(flow).eval()
    observation = TabletopEnv("pick_place").reset(seed=3)[0]
    noise = torch.randn(2, flow.config.chunk_size, flow.config.action_dim, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(vla.denoising_path(observation, noise), flow.denoising_path(observation, noise))
    batch = CommentaryBatches(demos, commentary_labels(demos), vla.config, 4, seed=0)()
    torch.manual_seed(0)
    flow_parts = flow(batch)[1]
    torch.manual_seed(0)
    loss, parts = vla(batch)
    assert parts["flow_loss"] == flow_parts["flow_loss"] and parts["commentary_loss"] > 0 and torch.isfinite(loss)
    assert isinstance(vla.comment(observation), str)


def test_the_warning_sign_measure_on_episodes_counted_by_hand():
    episodes = [
        {"success": False, "agreed": [True, False]},
        {"success": False, "agreed": [True, True]},
        {"success": True, "agreed": [True, False, True, True]},
        {"success": True, "agreed": [True, True]},
    ]
    measured = warning_sign(episodes)
    assert measured["consistent_chunks"] == 8 / 10
    assert measured["flagged_among_failed"] == 0.5 and measured["flagged_among_succeeded"] == 0.5
    assert measured["failure_rate"] == 0.5 and measured["failure_rate_when_flagged"] == 0.5
    assert measured["disagreeing_share_failed"] == 0.25 and measured["disagreeing_share_succeeded"] == 0.125
