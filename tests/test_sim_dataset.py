"""Demonstration datasets: LeRobot's fields, determinism, the on-disk cache and its recovery."""

import numpy as np
import pytest

from vlacourse.sim.arm import CONTROL_HZ
from vlacourse.sim.dataset import DemoDataset, cache_path, collect, load_or_collect


@pytest.fixture(scope="module")
def reach3():
    return collect("reach", episodes=3, seed=0, progress=False)


def test_frames_carry_lerobots_fields(reach3):
    frame = reach3[0]
    for key in (
        "observation.images.scene",
        "observation.images.wrist",
        "observation.state",
        "observation.environment_state",
        "action",
        "episode_index",
        "frame_index",
        "index",
        "timestamp",
        "task_index",
        "task",
        "subtask",
        "next.done",
        "next.reward",
    ):
        assert key in frame, key
    assert frame["observation.images.scene"].shape == (64, 64, 3) and frame["action"].shape == (4,)
    assert frame["task"].startswith(("reach", "move", "go")) and frame["subtask"].startswith("reach the")


def test_episodes_are_indexed_like_lerobot(reach3):
    assert reach3.num_episodes == 3 and len(reach3) == reach3.episode_data_index["to"][-1]
    for e in range(3):
        episode = reach3.episode(e)
        n = len(episode["action"])
        assert (episode["episode_index"] == e).all()
        assert np.array_equal(episode["frame_index"], np.arange(n))
        np.testing.assert_allclose(episode["timestamp"], np.arange(n) / CONTROL_HZ, rtol=1e-6)
        assert episode["next.done"][-1] and not episode["next.done"][:-1].any()
    assert np.array_equal(reach3.arrays["index"], np.arange(len(reach3)))
    assert reach3.episode_success.all()


def test_stats_are_the_datas_percentiles(reach3):
    actions = reach3.arrays["action"]
    np.testing.assert_allclose(reach3.stats["action"]["q01"], np.percentile(actions, 1, axis=0))
    np.testing.assert_allclose(reach3.stats["action"]["q99"], np.percentile(actions, 99, axis=0))
    np.testing.assert_allclose(reach3.stats["observation.state"]["mean"], reach3.arrays["observation.state"].mean(0))


def test_same_seed_same_dataset(reach3):
    again = collect("reach", episodes=3, seed=0, progress=False)
    for key, values in reach3.arrays.items():
        assert np.array_equal(values, again.arrays[key]), key
    other = collect("reach", episodes=3, seed=1, progress=False)
    assert not np.array_equal(other.arrays["observation.state"][:5], reach3.arrays["observation.state"][:5])


def test_workers_record_the_same_dataset():
    alone = collect("short", episodes=5, seed=2, progress=False)
    shared = collect("short", episodes=5, seed=2, progress=False, workers=2)
    assert shared.tasks == alone.tasks and shared.subtasks == alone.subtasks
    for key, values in alone.arrays.items():
        assert np.array_equal(values, shared.arrays[key]), key


def test_cache_is_written_reloaded_and_rebuilt_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("VLACOURSE_CACHE", str(tmp_path))
    first = load_or_collect("reach", episodes=2, seed=4, progress=False)
    path = cache_path("reach", 2, 4)
    assert path.exists() and not list(tmp_path.glob("*.tmp.npz"))
    reloaded = load_or_collect("reach", episodes=2, seed=4, progress=False)
    assert reloaded.tasks == first.tasks and np.array_equal(reloaded.arrays["action"], first.arrays["action"])
    path.write_bytes(path.read_bytes()[:1000])  # a file cut short
    with pytest.warns(UserWarning, match="unreadable.*collecting it again"):
        rebuilt = load_or_collect("reach", episodes=2, seed=4, progress=False)
    assert np.array_equal(rebuilt.arrays["observation.images.scene"], first.arrays["observation.images.scene"])
    assert isinstance(DemoDataset.load(path), DemoDataset)  # the rebuilt file is whole again


def test_bad_arguments_name_the_fix(reach3):
    with pytest.raises(ValueError, match=r"unknown suite 'pickplace'.*'pick_place'"):
        collect("pickplace", episodes=1)
    with pytest.raises(ValueError, match="episodes must be a positive int"):
        collect("reach", episodes=0)
    with pytest.raises(IndexError, match="the dataset has 3 episodes"):
        reach3.episode(3)
