"""The suite-wide conservation tally `make test` prints: one line per pipeline.

Every accounting the tests make (`conservation.conserve`, and each scenario run fed by
`fault_support.run_input`) adds its counts here; `conftest.py` sums them over all
pytest-xdist workers, prints them at the end and fails the session when a record was lost
or duplicated without a named reason. A test that demonstrates an accepted limit (a loss
the design gives up on) calls `accept_loss("why")` before it accounts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

PIPELINES = ("validation", "premium", "late-data", "consolidation")


@dataclass
class Tally:
    """One accounting of one run of one pipeline."""

    pipeline: str
    records: int
    stored: int
    dead_lettered: int
    lost: int
    duplicated: int
    test: str = ""
    accepted: str | None = None
    """Why a loss or duplicate here is accepted (named by the test), or None."""


TALLIES: list[Tally] = []
_current: dict[str, Any] = {"test": "", "accepted": None}


def start_test(nodeid: str) -> None:
    """Called by conftest before each test: later tallies belong to it."""
    _current.update(test=nodeid, accepted=None)


def accept_loss(reason: str) -> None:
    """Name why the current test's loss or duplicate is accepted (a documented limit)."""
    if not reason.strip():
        raise ValueError("an accepted loss needs a reason")
    _current["accepted"] = reason


def add(
    pipeline: str, *, records: int, stored: int, dead_lettered: int, lost: int, duplicated: int
) -> None:
    """Record one accounting for the suite's conservation lines."""
    TALLIES.append(
        Tally(
            pipeline,
            records,
            stored,
            dead_lettered,
            lost,
            duplicated,
            test=str(_current["test"]),
            accepted=_current["accepted"],
        )
    )


def dump() -> list[dict[str, Any]]:
    return [asdict(t) for t in TALLIES]


def load(rows: list[dict[str, Any]]) -> list[Tally]:
    return [Tally(**row) for row in rows]


def summary(tallies: list[Tally]) -> tuple[list[str], list[str]]:
    """(one line per pipeline, the unaccepted losses/duplicates that fail the session)."""
    lines: list[str] = []
    for pipeline in PIPELINES:
        mine = [t for t in tallies if t.pipeline == pipeline]
        total = {
            name: sum(getattr(t, name) for t in mine)
            for name in ("records", "stored", "dead_lettered", "lost", "duplicated")
        }
        accepted = [t for t in mine if (t.lost or t.duplicated) and t.accepted]
        line = (
            f"conservation {pipeline:13} runs {len(mine):4}  in {total['records']:6}  "
            f"stored {total['stored']:6}  dead-lettered {total['dead_lettered']:5}  "
            f"lost {total['lost']}  duplicated {total['duplicated']}"
        )
        if accepted:
            line += "  (accepted: " + "; ".join(f"{t.test}: {t.accepted}" for t in accepted) + ")"
        lines.append(line)
    failures = [
        f"{t.test}: {t.pipeline} lost {t.lost}, duplicated {t.duplicated}, no accepted reason"
        for t in tallies
        if (t.lost or t.duplicated) and not t.accepted
    ]
    return lines, failures
