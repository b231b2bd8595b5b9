"""LateDataReconciler under malformed events, duplicates and injected faults.

One emulator for the module (the LateDataReconciler alone, dev settings). Every test
uses its own orderId prefix and its own business days, so the ledger's `DAY#` items and
the dead-letter queue, which accumulate over the module, can be read per test.

The invariant (`account`, the late-data adapter of `conservation.conserve`): every input
event, identified by the id the workflow received it with (EventBridge's, or the content
hash the pipeline uses for an event without one), ends in exactly one place:

- the ledger entry `LATE#<orderId>` it created (its `firstSeenEventId`) or that it was a
  duplicate of; an entry counts once however many events name it;
- or one dead letter (copies of it share its deterministic id) with a machine-readable
  reason and the event verbatim.

On top: each `DAY#` aggregate equals the count and the sum over the distinct valid orders
of its day (the first valid arrival's amount), `OrderReconciled` is never published twice
for an order (and exactly once once the ledger has settled), and every `reconcile_deferred`
letter is well-formed and names an entry of the test.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, get_args

import conservation
import pytest
from fault_support import STATE_MACHINE, Run, deployed, output, snapshot, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.report import Mark, build_report
from emulator.scenarios.late_data import LateDataScenario
from runtime.common.dead_letter import dead_letter_id
from runtime.reconciliation.domain import RejectReason

pytestmark = pytest.mark.e2e

PIPELINE: Final = "late-data"
LEDGER: Final = "late-data-ledger"
DLQ: Final = "late-data-dlq"
DEFERRED: Final = "reconcile_deferred"
EVENT_REASONS: Final = frozenset(get_args(RejectReason)) | {"flag_failed"}
TICK: Final = {"tick": "schedule"}
SCENARIO: Final = LateDataScenario()
_INPUTS = itertools.count()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed(PIPELINE) as emulator:
        yield emulator


# feeding -----------------------------------------------------------------------------
def late(
    detail: Any, *, time: str | None = "2030-01-01T12:00:00Z", **envelope: Any
) -> dict[str, Any]:
    """A producer's `late.record` event (what it puts on the bus; EventBridge adds the id)."""
    return {
        "source": "orders.data",
        "detail-type": "late.record",
        "time": time,
        "detail": detail,
        **envelope,
    }


def identity(event: Any) -> str:
    """How the pipeline names an event: its id, else the SHA-256 of its canonical JSON."""
    if isinstance(event, dict) and isinstance(event.get("id"), str) and event["id"]:
        return str(event["id"])
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def send(
    emulator: Emulator, items: Sequence[Mapping[str, Any]]
) -> tuple[Run, dict[str, dict[str, Any]]]:
    """Events on the bus and ticks, through the scenario (as `python -m emulator run`).

    Returns the run and, per event id EventBridge gave, the event as the workflow got it.
    """
    scenario_items = [dict(item) if "tick" in item else {"event": dict(item)} for item in items]
    path = write(emulator.workdir, f"late-{next(_INPUTS)}.json", scenario_items)
    mark = Mark.now(emulator)
    fed = SCENARIO.feed(emulator, path)
    emulator.run_until_idle()
    report = build_report(emulator, PIPELINE, SCENARIO.component(emulator), mark)
    report = SCENARIO.adjust_report(emulator, report, fed)
    outcome = SCENARIO.outcome(report, fed)
    assert outcome.problems == []
    received: dict[str, dict[str, Any]] = {}
    for item in fed.events:
        assert item.execution is not None, item
        assert item.execution.result is not None, item
        event = item.execution.result.input
        assert isinstance(event, dict)
        assert event["detail"] == item.given["detail"]  # EventBridge passed it through
        received[str(item.event_id)] = event
    return Run(report, outcome), received


def start(emulator: Emulator, event: Any, *, times: int = 1) -> str:
    """Start the workflow with `event` as the rule would (`times` > 1: redelivered)."""
    machine = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    for _ in range(times):
        emulator.client("stepfunctions").start_execution(
            stateMachineArn=machine, input=json.dumps(event)
        )
        emulator.run_until_idle()
    return identity(event)


def tick(emulator: Emulator) -> Run:
    run, _ = send(emulator, [TICK])
    return run


@dataclass(frozen=True)
class Execution:
    arn: str
    status: str
    error: str | None
    flagged: dict[str, Any]
    """FlagLateOrder's result: from the output, or (failed run) its deferred letter."""


def executions(
    emulator: Emulator, keys: Collection[str], deferred: Sequence[Mapping[str, Any]] = ()
) -> dict[str, list[Execution]]:
    """The workflow executions of the events `keys`, by event identity.

    A deferred execution failed, so it has no output; its `reconcile_deferred` letter
    (naming the ledger entry and order) stands for the flag result instead.
    """
    machine = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    by_order = {
        str(b["record"].get("orderId")): {**b["record"], "status": "flagged"}
        for b in deferred
        if isinstance(b.get("record"), dict)
    }
    found: dict[str, list[Execution]] = defaultdict(list)
    for record in emulator.states.executions:
        if record.state_machine_arn != machine or record.result is None:
            continue
        event = record.result.input
        if isinstance(event, dict) and "mode" in event:
            continue  # a sweep
        key = identity(event)
        if key not in keys:
            continue
        result = record.result.output if isinstance(record.result.output, dict) else {}
        detail = event.get("detail") if isinstance(event, dict) else None
        order = str(detail.get("orderId")) if isinstance(detail, dict) else None
        flagged = (result.get("flagged") or {}).get("result") or (
            by_order.get(order) if record.status != "SUCCEEDED" and order else None
        )
        found[key].append(Execution(record.arn, record.status, record.error, flagged or {}))
    return found


# accounting --------------------------------------------------------------------------
def letter_key(letter: Mapping[str, Any]) -> str | None:
    source = letter.get("source")
    if not isinstance(source, dict):
        return None
    key = source.get("eventId") or source.get("contentSha256")
    return str(key) if key else None


def published(emulator: Emulator) -> Counter[str]:
    """`OrderReconciled` events the bus accepted over the module, by orderId."""
    return Counter(
        str(event["detail"].get("orderId"))
        for event in emulator.events.emitted
        if event["detail-type"] == "OrderReconciled"
    )


@dataclass(frozen=True)
class Books:
    """What a test's events left behind, read from the pipeline's table and queue."""

    received: Mapping[str, Any]
    """Event identity → the event as the workflow received it (the test's input)."""
    ledger: list[dict[str, Any]]
    entries: dict[str, dict[str, Any]]
    """The test's `LATE#` entries by key."""
    letters: list[dict[str, Any]]
    """Dead letters of the test's events (copies included)."""
    deferred: list[dict[str, Any]]
    """`reconcile_deferred` letters of the test's entries (copies included)."""
    strays: list[str]
    """Letters about the test's orders that name no input event."""

    @classmethod
    def read(cls, emulator: Emulator, received: Mapping[str, Any], prefix: str) -> Books:
        report = snapshot(emulator, PIPELINE)
        ledger: list[dict[str, Any]] = report["tables"][LEDGER]
        queued = [b for b in report["queues"][DLQ] if isinstance(b, dict)]
        events = [b for b in queued if b.get("reason") != DEFERRED]

        def about_test(letter: Mapping[str, Any]) -> bool:
            record = letter.get("record")
            detail = record.get("detail") if isinstance(record, dict) else None
            order = detail.get("orderId") if isinstance(detail, dict) else None
            return isinstance(order, str) and order.startswith(prefix)

        return cls(
            received=received,
            ledger=ledger,
            entries={
                str(i["pk"]): i
                for i in ledger
                if str(i["pk"]).startswith("LATE#") and str(i.get("orderId", "")).startswith(prefix)
            },
            letters=[b for b in events if letter_key(b) in received],
            deferred=[
                b
                for b in queued
                if b.get("reason") == DEFERRED and str(b.get("id")).startswith("LATE#" + prefix)
            ],
            strays=[
                f"dead letter {b.get('id')} names no input event"
                for b in events
                if about_test(b) and letter_key(b) not in received
            ],
        )

    def reasons(self) -> dict[str, str]:
        """The reason each dead-lettered event was given, by event identity."""
        return {str(letter_key(b)): str(b["reason"]) for b in self.letters}

    def conserve(self, emulator: Emulator) -> conservation.Conservation:
        """Each input event in exactly one place: its ledger entry, or one dead letter."""
        endings: list[conservation.Ending] = []
        for key, runs in executions(emulator, self.received, self.deferred).items():
            for run in runs:
                ledger_key = run.flagged.get("ledgerKey")
                # An entry the run names that is not there is no ending: lost.
                if run.flagged.get("status") in {"flagged", "duplicate"} and (
                    ledger_key in self.entries
                ):
                    endings.append(conservation.Ending(key, "target", str(ledger_key)))
        for pk, entry in self.entries.items():
            first = entry.get("firstSeenEventId")
            record = first if first in self.received else f"{pk} first seen as {first}"
            endings.append(conservation.Ending(record, "target", pk))
        endings += [conservation.Ending(letter_key(b), "dlq", str(b["id"])) for b in self.letters]
        result = conservation.conserve(
            list(self.received), endings, self.letters, pipeline=PIPELINE
        )
        result.problems += self.strays
        for b in self.letters:
            key = str(letter_key(b))
            if b["reason"] not in EVENT_REASONS:
                result.problems.append(f"dead letter {b['id']} has unknown reason {b['reason']}")
            if b["id"] != dead_letter_id(PIPELINE, b["source"]):
                result.problems.append(f"dead letter {b['id']} is not its source's id")
            if not conservation.payload_matches(b, self.received[key]):
                result.problems.append(f"dead letter {b['id']} does not carry {key} verbatim")
        for b in self.deferred:
            result.problems += conservation.letter_problems(b, pipeline=PIPELINE)
            record = b.get("record")
            if not isinstance(record, dict) or record.get("ledgerKey") != b["id"]:
                result.problems.append(f"deferred letter {b['id']} lacks its flag result")
            if b["id"] not in self.entries:
                result.problems.append(f"deferred letter {b['id']} names no ledger entry")
        return result

    def ledger_problems(self, orders: Mapping[str, tuple[str, str]], *, settled: bool) -> list[str]:
        """One entry per distinct valid order, holding its first valid amount and its day;
        settled, each `DAY#` is the count and sum of its distinct valid orders."""
        stored = {str(e["orderId"]): e for e in self.entries.values()}
        problems = []
        if set(stored) != set(orders):
            problems.append(f"ledger entries {sorted(stored)}, valid orders {sorted(orders)}")
        days: dict[str, tuple[int, Decimal]] = {}
        for order, (amount, day) in orders.items():
            count, total = days.get(day, (0, Decimal(0)))
            days[day] = (count + 1, total + Decimal(amount))
            entry = stored.get(order, {})
            if entry and (Decimal(str(entry["amount"])), entry["businessDay"]) != (
                Decimal(amount),
                day,
            ):
                problems.append(f"LATE#{order} holds {entry}, not the first {amount} on {day}")
        aggregates = {str(i["pk"]): i for i in self.ledger if str(i["pk"]).startswith("DAY#")}
        for day, want in sorted(days.items()) if settled else ():
            item = aggregates.get("DAY#" + day, {})
            got = (int(item.get("orderCount", 0)), Decimal(str(item.get("amount", 0))))
            if got != want:
                problems.append(f"DAY#{day} holds {got}, its distinct valid orders sum to {want}")
        return problems

    def publish_problems(self, emulator: Emulator, *, settled: bool) -> list[str]:
        """`OrderReconciled` never twice; settled, exactly once and the outbox closed."""
        times = published(emulator)
        problems = []
        for entry in self.entries.values():
            order = str(entry["orderId"])
            if times[order] > 1 or (settled and times[order] != 1):
                problems.append(f"OrderReconciled published {times[order]} times for {order}")
            if settled and (entry["status"] != "reconciled" or "pendingState" in entry):
                problems.append(f"LATE#{order} is not settled: {entry}")
        return problems


def account(
    emulator: Emulator,
    received: Mapping[str, Any],
    prefix: str,
    orders: Mapping[str, tuple[str, str]],
    *,
    settled: bool = True,
) -> tuple[Books, conservation.Conservation]:
    """Check the invariant for the events `received` (identity → event as received).

    `orders`: the distinct valid orders of the test, orderId → (amount of the first valid
    arrival, business day). `settled`: every entry must be reconciled and published.
    """
    books = Books.read(emulator, received, prefix)
    result = books.conserve(emulator)
    result.problems += books.ledger_problems(orders, settled=settled)
    result.problems += books.publish_problems(emulator, settled=settled)
    return books, result.check()


def day_of(event: Mapping[str, Any]) -> str:
    """The business day (UTC in the dev stack) of a valid event: eventTime, else time."""
    detail = event["detail"]
    moment = detail.get("eventTime") or event["time"]
    return datetime.fromisoformat(str(moment)).astimezone(UTC).date().isoformat()


# malformed events and duplicates -------------------------------------------------------
def test_every_event_ends_in_one_place(emulator: Emulator) -> None:
    """Malformed, valid and duplicated events; then redeliveries of identical events."""
    p = "C-"
    at = "2031-01-05T09:00:00Z"
    on_bus: list[tuple[dict[str, Any], str | None]] = [
        (late({"orderId": f"{p}v1", "amount": 10.5, "reason": "cutoff"}, time=at), None),
        (late({"orderId": f"{p}v2", "amount": "20"}, time=at), None),
        (late({"orderId": f"{p}v3", "amount": 0}, time=at), None),
        # eventTime wins over the envelope's time; +05:00 puts it on the previous UTC day.
        (
            late({"orderId": f"{p}v4", "amount": "0.25", "eventTime": "2031-01-06T01:00+05:00"}),
            None,
        ),
        (late({"orderId": f"{p}" + "x" * (128 - len(p)), "amount": 1}, time=at), None),
        # duplicates: the same detail again (a new event id), and a conflicting amount
        (late({"orderId": f"{p}v1", "amount": 10.5, "reason": "cutoff"}, time=at), None),
        (late({"orderId": f"{p}v1", "amount": 99}, time=at), None),
        # a bad duplicate of a valid order is still rejected, and does not touch it
        (late({"orderId": f"{p}v2", "amount": "abc"}, time=at), "invalid_amount"),
        (late({"amount": 5}, time=at), "missing_order_id"),
        (late({"orderId": "", "amount": 5}, time=at), "missing_order_id"),
        (late({"orderId": "   ", "amount": 5}, time=at), "missing_order_id"),
        (late({"orderId": 42, "amount": 5}, time=at), "missing_order_id"),
        (late({"orderId": f"{p}" + "y" * (129 - len(p)), "amount": 5}), "missing_order_id"),
        (late({"orderId": f"{p}neg", "amount": -1}, time=at), "negative_amount"),
        (late({"orderId": f"{p}negs", "amount": "-0.01"}, time=at), "negative_amount"),
        (late({"orderId": f"{p}abc", "amount": "abc"}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}nan", "amount": "NaN"}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}inf", "amount": "-Infinity"}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}bool", "amount": True}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}null", "amount": None}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}list", "amount": [1]}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}none"}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}big", "amount": "1e126"}, time=at), "invalid_amount"),
        (late({"orderId": f"{p}why", "amount": 1, "reason": 7}, time=at), "malformed_detail"),
        (late({"orderId": f"{p}t1", "amount": 1, "eventTime": "yesterday"}), "invalid_event_time"),
        (
            late({"orderId": f"{p}t2", "amount": 1, "eventTime": "2031-02-30T00:00:00Z"}),
            "invalid_event_time",
        ),
        (
            late({"orderId": f"{p}t3", "amount": 1, "eventTime": 1_900_000_000}),
            "invalid_event_time",
        ),
        (
            late({"orderId": f"{p}t4", "amount": 1, "eventTime": "9999-12-31T23:59:59-14:00"}),
            "invalid_event_time",
        ),
    ]
    _, received = send(emulator, [event for event, _ in on_bus])
    expected = {key: reason for key, (_, reason) in zip(received, on_bus, strict=True) if reason}

    # Straight to the workflow (a redrive, or a redelivery keeping the event id): details
    # PutEvents itself would refuse, and identical events delivered twice.
    base = {"version": "0", "account": "123456789012", "region": "us-east-1", "resources": []}
    direct: list[tuple[dict[str, Any], str | None, int]] = [
        ({**base, **late("a string", time=at), "id": f"{p}d-str"}, "malformed_detail", 1),
        ({**base, **late(["orderId", 1], time=at), "id": f"{p}d-list"}, "malformed_detail", 1),
        ({**base, **late(None, time=at), "id": f"{p}d-null"}, "malformed_detail", 1),
        ({k: v for k, v in late({}).items() if k != "detail"}, "malformed_detail", 2),
        ({**base, **late({"orderId": f"{p}r1", "amount": 3}, time=at), "id": f"{p}d-r1"}, None, 2),
        (
            {**base, **late({"orderId": f"{p}r2", "amount": -3}), "id": f"{p}d-r2"},
            "negative_amount",
            2,
        ),
        (late({"orderId": f"{p}nt", "amount": 3}, time=None), "invalid_event_time", 2),  # no id
    ]
    for event, reason, times in direct:
        key = start(emulator, event, times=times)
        received[key] = event
        if reason:
            expected[key] = reason

    orders = {
        f"{p}v1": ("10.5", "2031-01-05"),
        f"{p}v2": ("20", "2031-01-05"),
        f"{p}v3": ("0", "2031-01-05"),
        f"{p}v4": ("0.25", "2031-01-05"),
        f"{p}" + "x" * (128 - len(p)): ("1", "2031-01-05"),
        f"{p}r1": ("3", "2031-01-05"),
    }
    books, result = account(emulator, received, p, orders)
    assert books.reasons() == expected
    assert (result.records, result.stored) == (len(received), len(orders))
    assert result.dead_lettered == len(expected)
    assert books.deferred == []
    # Redelivered rejections: copies of one letter, not two letters.
    copies = Counter(str(b["id"]) for b in books.letters)
    assert sorted(copies.values()) == [1] * (len(expected) - 3) + [2, 2, 2]
    # Every execution succeeded (a rejection ends in EventRejected); duplicates changed nothing.
    runs = executions(emulator, list(received))
    assert {r.status for rs in runs.values() for r in rs} == {"SUCCEEDED"}
    statuses = Counter(r.flagged["status"] for rs in runs.values() for r in rs)
    assert (statuses["flagged"], statuses["duplicate"]) == (len(orders), 3)


# injected faults -------------------------------------------------------------------------
def run_with(
    emulator: Emulator, items: Sequence[Mapping[str, Any]], arm: Callable[[Faults], object]
) -> tuple[Run, dict[str, dict[str, Any]], Faults]:
    with Faults(emulator) as faults:
        arm(faults)
        run, received = send(emulator, items)
    assert faults.hits, "the fault never struck"
    return run, received, faults


@pytest.mark.parametrize("times", [3, 6], ids=["within-the-handler", "across-step-retries"])
def test_a_throttled_reconcile_transaction_is_retried_and_reconciled_once(
    emulator: Emulator, times: int
) -> None:
    """3 throttles: the ledger's own 4 attempts absorb them; 6: the step retries the task."""
    p, day = f"T{times}-", f"2031-02-0{times}"
    events = [late({"orderId": f"{p}1", "amount": "12.5"}, time=f"{day}T10:00:00Z")]
    run, received, faults = run_with(
        emulator,
        events,
        lambda f: f.throttle_dynamodb(times=times, table=LEDGER, operations={"TransactWriteItems"}),
    )
    assert len(faults.hits) == times
    assert [e["status"] for e in run.report["executions"]] == ["SUCCEEDED"]
    books, _ = account(emulator, received, p, {f"{p}1": ("12.5", day)})
    assert (books.letters, books.deferred) == ([], [])


def test_a_persistent_reconcile_failure_is_deferred_then_swept_exactly_once(
    emulator: Emulator,
) -> None:
    p, day = "D-", "2031-03-01"
    orders = {f"{p}1": ("7.25", day)}
    events = [late({"orderId": f"{p}1", "amount": 7.25}, time=f"{day}T10:00:00Z")]
    with Faults(emulator) as faults:
        faults.throttle_dynamodb(times=None, table=LEDGER, operations={"TransactWriteItems"})
        run, received = send(emulator, events)
        assert run.outcome.details[0].endswith("ledger entry now flagged")
        deferred, _ = account(emulator, received, p, orders, settled=False)
        (letter,) = deferred.deferred
        assert (letter["id"], letter["reason"]) == (f"LATE#{p}1", DEFERRED)
        assert "TransactionRetriesExhausted" in letter["message"]
        entry = deferred.entries[f"LATE#{p}1"]
        assert (entry["status"], entry["pendingState"]) == ("flagged", "PENDING")
        # Still failing: the sweep tries, counts the failure, and leaves it flagged.
        still = tick(emulator)
        assert "reconciled 0, published 0" in still.outcome.details[0]
        assert "failed 0" not in still.outcome.details[0]
        again, _ = account(emulator, received, p, orders, settled=False)
        assert again.entries[f"LATE#{p}1"]["status"] == "flagged"
        assert len(again.deferred) == 1  # the sweep dead-letters nothing more
    assert published(emulator)[f"{p}1"] == 0
    assert "DAY#" + day not in {i["pk"] for i in snapshot(emulator, PIPELINE)["tables"][LEDGER]}
    # Fixed: the next tick past the threshold reconciles it, once; another changes nothing.
    swept = tick(emulator)
    assert "reconciled 1, published 1, failed 0" in swept.outcome.details[0]
    account(emulator, received, p, orders)
    quiet = tick(emulator)
    assert "pending 0, reconciled 0, published 0, failed 0" in quiet.outcome.details[0]
    account(emulator, received, p, orders)


def test_a_failed_put_events_is_published_once_by_the_sweep(emulator: Emulator) -> None:
    """PutEvents down: the day is counted at once, the event waits in the outbox."""
    p, day = "E-", "2031-04-01"
    orders = {f"{p}1": ("8", day), f"{p}2": ("1.5", day)}
    events = [
        late({"orderId": f"{p}1", "amount": 8}, time=f"{day}T10:00:00Z"),
        late({"orderId": f"{p}2", "amount": "1.5"}, time=f"{day}T11:00:00Z"),
        late({"orderId": f"{p}1", "amount": 8}, time=f"{day}T10:00:00Z"),  # a duplicate
    ]
    run, received, _ = run_with(
        emulator, events, lambda f: f.fail_calls("events", ["PutEvents"], times=None)
    )
    assert [e["status"] for e in run.report["executions"]] == ["FAILED"] * 3
    waiting, _ = account(emulator, received, p, orders, settled=False)
    assert {b["id"] for b in waiting.deferred} == {f"LATE#{p}1", f"LATE#{p}2"}
    for entry in waiting.entries.values():
        assert (entry["status"], entry.get("eventPending")) == ("reconciled", True)
    day_item = next(i for i in run.report["tables"][LEDGER] if i["pk"] == "DAY#" + day)
    assert (day_item["orderCount"], day_item["amount"]) == (2, 9.5)
    assert published(emulator)[f"{p}1"] == published(emulator)[f"{p}2"] == 0
    swept = tick(emulator)
    assert "reconciled 0, published 2, failed 0" in swept.outcome.details[0]
    account(emulator, received, p, orders)
    tick(emulator)
    account(emulator, received, p, orders)


def test_letters_deferring_one_entry_are_copies_of_one_letter(emulator: Emulator) -> None:
    p, day = "X-", "2031-05-01"
    events = [late({"orderId": f"{p}1", "amount": 2}, time=f"{day}T10:00:00Z")] * 2
    with Faults(emulator) as faults:  # not retried by the ledger: fails fast
        faults.fail_calls(
            "dynamodb", ["TransactWriteItems"], times=None, code="AccessDeniedException", status=400
        )
        _, received = send(emulator, events)
    books, _ = account(emulator, received, p, {f"{p}1": ("2", day)}, settled=False)
    deferred = books.deferred
    assert len(deferred) == 2
    endings = [conservation.Ending("entry", "dlq", str(b["id"])) for b in deferred]
    conservation.conserve(["entry"], endings, deferred, pipeline=PIPELINE).check()


# a property --------------------------------------------------------------------------
VALID_AMOUNTS: Final = (0, 1, "2.5", 3.75)
BAD_AMOUNTS: Final = ("abc", -1, True, None)
_EXAMPLES = itertools.count()


@settings(
    max_examples=4,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", ""]),
            st.sampled_from(VALID_AMOUNTS + BAD_AMOUNTS),
            st.integers(min_value=1, max_value=2),
        ),
        min_size=1,
        max_size=7,
    )
)
def test_any_sequence_counts_each_valid_order_once(
    emulator: Emulator, sequence: list[tuple[str, Any, int]]
) -> None:
    """Whatever mix of orders, amounts and days arrives, in any order, the books balance."""
    example = next(_EXAMPLES)
    p = f"H{example}-"
    events: list[dict[str, Any]] = []
    orders: dict[str, tuple[str, str]] = {}
    rejected = 0
    for suffix, amount, day in sequence:
        order = p + suffix if suffix else ""
        event = late(
            {"orderId": order, "amount": amount}, time=f"{2040 + example}-01-0{day}T08:00:00Z"
        )
        events.append(event)
        valid = bool(order) and not isinstance(amount, bool) and amount in VALID_AMOUNTS
        rejected += not valid
        if valid and order not in orders:
            orders[order] = (str(amount), day_of(event))
    _, received = send(emulator, events)
    _, result = account(emulator, received, p, orders)
    assert (result.stored, result.dead_lettered) == (len(orders), rejected)
