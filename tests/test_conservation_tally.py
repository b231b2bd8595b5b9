"""The suite's conservation lines: summed per pipeline, and an unexplained loss fails."""

from __future__ import annotations

import conservation_tally
import pytest
from conservation_tally import Tally


def _tally(
    pipeline: str, *, lost: int = 0, duplicated: int = 0, accepted: str | None = None
) -> Tally:
    return Tally(pipeline, 10, 7, 3 - lost, lost, duplicated, test="t", accepted=accepted)


def test_one_line_per_pipeline_sums_every_run() -> None:
    lines, failures = conservation_tally.summary(
        [_tally("validation"), _tally("validation"), _tally("consolidation")]
    )
    assert [line.split()[1] for line in lines] == list(conservation_tally.PIPELINES)
    assert "in     20  stored     14  dead-lettered     6  lost 0  duplicated 0" in lines[0]
    assert "runs    0" in lines[1]
    assert failures == []


def test_a_loss_or_duplicate_without_a_reason_fails_the_session() -> None:
    _, failures = conservation_tally.summary(
        [_tally("premium", lost=1), _tally("late-data", duplicated=2)]
    )
    assert len(failures) == 2
    assert "premium lost 1" in failures[0]
    assert "late-data lost 0, duplicated 2" in failures[1]


def test_a_named_accepted_loss_is_shown_not_failed() -> None:
    lines, failures = conservation_tally.summary([_tally("validation", lost=1, accepted="why")])
    assert failures == []
    assert "lost 1" in lines[0]
    assert "accepted: t: why" in lines[0]


def test_an_accepted_loss_needs_a_reason_and_belongs_to_one_test() -> None:
    before = len(conservation_tally.TALLIES)
    try:
        conservation_tally.start_test("a")
        conservation_tally.accept_loss("the DLQ is down")
        conservation_tally.add(
            "validation", records=1, stored=0, dead_lettered=0, lost=1, duplicated=0
        )
        conservation_tally.start_test("b")
        conservation_tally.add(
            "validation", records=1, stored=0, dead_lettered=0, lost=1, duplicated=0
        )
        first, second = conservation_tally.TALLIES[before:]
        assert (first.test, first.accepted) == ("a", "the DLQ is down")
        assert (second.test, second.accepted) == ("b", None)
    finally:
        del conservation_tally.TALLIES[before:]
    with pytest.raises(ValueError, match="needs a reason"):
        conservation_tally.accept_loss(" ")
