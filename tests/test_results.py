"""RESULTS.md is what the shipped artifacts say, and the course's recordings are read with clear errors."""

import pytest

from tests.conftest import ROOT
from vlacourse import results
from vlacourse.checkpoint import read_recording


def test_the_results_page_is_what_the_shipped_artifacts_say():
    assert (ROOT / "RESULTS.md").read_text() == results.render(), (
        "RESULTS.md is out of date with vlacourse/data: run `python -m vlacourse.results` and commit it"
    )


def test_each_heads_row_is_read_from_its_checkpoint():
    page = results.render()
    for name, checkpoint in results.HEADS.items():
        metrics = results.metrics_of(checkpoint)
        episodes = metrics["recipe"]["eval_episodes"]
        assert f"| {name} | {results.success(metrics['success'], episodes)} |" in page


def test_a_success_rate_is_written_with_its_wilson_interval():
    # 90 of 100 by the closed form: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), z = 1.96
    assert results.success(0.9, 100) == "90% [83%, 94%] of 100"
    assert results.success(0.0, 50) == "0% [0%, 7%] of 50"


def test_the_check_names_the_command_that_fixes_a_stale_page(tmp_path):
    stale = tmp_path / "RESULTS.md"
    stale.write_text("# Results\n\nold numbers\n")
    with pytest.raises(SystemExit, match="run `python -m vlacourse.results`"):
        results.main(["--check", "--out", str(stale)])
    results.main(["--out", str(stale)])
    results.main(["--check", "--out", str(stale)])  # now current: returns


def test_a_missing_or_corrupt_recording_is_named_with_the_command_that_makes_it(tmp_path):
    command = "python -m vlacourse.policies.flow baseline"
    with pytest.raises(FileNotFoundError, match=r"ships no gone\.json yet: make one with `python -m vlacourse"):
        read_recording(None, "gone.json", command)
    with pytest.raises(
        FileNotFoundError, match=r"missing\.json: make it with `python -m vlacourse.policies.flow baseline"
    ):
        read_recording(tmp_path / "missing.json", "x.json", command)
    corrupt = tmp_path / "cut.json"
    corrupt.write_text('{"success": 0.')
    with pytest.raises(ValueError, match=r"cut\.json is not a readable JSON recording .* Delete it"):
        read_recording(corrupt, "x.json", command)
