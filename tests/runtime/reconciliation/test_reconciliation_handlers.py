"""The three handlers against moto: the seed, duplicates, races, bad events and repairs."""

from __future__ import annotations

import contextlib
import inspect
import json
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import pytest
from reconciliation_support import (
    LEDGER_TABLE,
    REPO,
    SAMPLES,
    SOURCE,
    THRESHOLD,
    Harness,
    Serialized,
    client_error,
    late_event,
    number,
)

from emulator.services.dynamodb_limits import DynamoDBLimits
from runtime.reconciliation import handler
from runtime.reconciliation.events import PublishError
from runtime.reconciliation.ledger import LedgerEntryMissing, TransactionRetriesExhausted

SEED_DAY = "2025-01-15"
OUTBOX_ATTRIBUTES = (
    "pendingState",
    "pendingSince",
    "eventPending",
    "publishLeaseUntil",
    "publishLeaseId",
)


def failed_put_events(**_: Any) -> dict[str, Any]:
    """PutEvents' quiet failure: HTTP 200 with the entry refused."""
    return {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "simulated"}],
    }


def throttled_transaction() -> Exception:
    return client_error(
        "TransactionCanceledException",
        "TransactWriteItems",
        CancellationReasons=[{"Code": "ThrottlingError"}, {"Code": "None"}],
    )


def emf_metrics(output: str) -> dict[str, list[float]]:
    """Metric name -> values from the EMF lines Powertools printed."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        blob = json.loads(line)
        if "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return found


def test_the_seed_event_is_flagged_reconciled_and_published_once(harness: Harness) -> None:
    flagged, reconciled = harness.event_path(late_event())

    assert flagged == {
        "status": "flagged",
        "orderId": "A1080",
        "amount": "420.5",
        "businessDay": SEED_DAY,
        "ledgerKey": "LATE#A1080",
        "eventTime": "2025-01-15T10:00:00Z",
        "latenessSeconds": 300,
    }
    assert reconciled == {
        "orderId": "A1080",
        "outcome": "reconciled",
        "businessDay": SEED_DAY,
        "published": True,
    }
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1
    assert number(aggregate, "lateOrderCount") == 1
    assert number(aggregate, "amount") == Decimal("420.5")

    entry = harness.aws.entry("A1080")
    assert entry["status"] == {"S": "reconciled"}
    assert entry["amount"] == {"N": "420.5"}
    assert entry["businessDay"] == {"S": SEED_DAY}
    assert entry["reconciledAt"] == {"S": "2025-01-15T10:05:00.000Z"}
    assert entry["firstSeenEventId"] == {"S": late_event()["id"]}
    assert "publishedEventId" in entry
    assert not set(OUTBOX_ATTRIBUTES) & set(entry), "the entry left the outbox"

    events = harness.aws.reconciled_events()
    assert len(events) == 1
    assert events[0]["source"] == SOURCE
    assert events[0]["detail-type"] == "OrderReconciled"
    assert events[0]["detail"] == {
        "orderId": "A1080",
        "amount": "420.5",
        "businessDay": SEED_DAY,
        "reason": "arrived_after_cutoff",
        "eventTime": "2025-01-15T10:00:00Z",
        "reconciledAt": "2025-01-15T10:05:00.000Z",
        "latenessSeconds": 300,
    }
    assert harness.aws.dead_letters() == []


@pytest.mark.parametrize("same_event_id", [False, True], ids=["new-event-id", "redelivery"])
def test_a_duplicate_changes_nothing(harness: Harness, same_event_id: bool) -> None:
    harness.event_path(late_event())
    before = harness.aws.ledger()
    assert len(harness.aws.reconciled_events()) == 1

    again = late_event(event_id=late_event()["id"] if same_event_id else "another-id")
    harness.clock.advance(60)
    flagged, reconciled = harness.event_path(again)

    assert flagged["status"] == "duplicate"
    assert flagged["latenessSeconds"] == 300, "the stored entry's values, not the duplicate's"
    assert reconciled == {
        "orderId": "A1080",
        "outcome": "already_reconciled",
        "businessDay": SEED_DAY,
        "published": False,
    }
    assert harness.aws.ledger() == before
    assert len(harness.aws.reconciled_events()) == 1


def test_a_duplicate_with_another_amount_is_a_conflict_and_not_applied(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    harness.event_path(late_event())
    before = harness.aws.ledger()
    capsys.readouterr()

    conflicting = late_event({**late_event()["detail"], "amount": 999}, event_id="e-2")
    flagged, reconciled = harness.event_path(conflicting)

    assert flagged["status"] == "duplicate"
    assert flagged["amount"] == "420.5"
    assert reconciled is not None
    assert reconciled["outcome"] == "already_reconciled"
    assert harness.aws.ledger() == before
    assert "different amount" in caplog.text
    assert emf_metrics(capsys.readouterr().out)["LateRecordConflicts"] == [1]


def test_interleaved_duplicate_runs_count_once(harness: Harness) -> None:
    first = harness.flag(late_event(event_id="e-1"))
    second = harness.flag(late_event(event_id="e-2"))
    assert (first["status"], second["status"]) == ("flagged", "duplicate")

    assert harness.reconcile(second)["outcome"] == "reconciled"
    assert harness.reconcile(first)["outcome"] == "already_reconciled"

    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1
    assert number(aggregate, "amount") == Decimal("420.5")
    assert len(harness.aws.reconciled_events()) == 1


def test_a_duplicate_run_during_the_publish_does_not_publish_again(harness: Harness) -> None:
    """The lease: a run that finds the event pending while another publishes it stays out."""
    first = harness.flag(late_event(event_id="e-1"))
    second = harness.flag(late_event(event_id="e-2"))
    inner = harness.events._inner
    during: list[dict[str, Any]] = []

    def put_events(**kwargs: Any) -> Any:
        if not during:
            during.append(harness.reconcile(second))
        return inner.put_events(**kwargs)

    harness.events.overrides["put_events"] = put_events
    assert harness.reconcile(first) == {
        "orderId": "A1080",
        "outcome": "reconciled",
        "businessDay": SEED_DAY,
        "published": True,
    }
    assert during == [
        {
            "orderId": "A1080",
            "outcome": "already_reconciled",
            "businessDay": SEED_DAY,
            "published": False,
        }
    ]
    assert len(harness.aws.reconciled_events()) == 1


def test_threads_racing_the_same_order_count_it_once(harness: Harness) -> None:
    lock = threading.Lock()
    harness.rebuild(
        dynamodb=Serialized(harness.aws.dynamodb, lock),
        events=Serialized(harness.aws.events, lock),
    )
    # Without Powertools' decorators: one Lambda runs one invocation at a time, and the
    # module's Metrics object is not meant to be flushed from several threads.
    flag = inspect.unwrap(handler.flag_late_record)
    reconcile = inspect.unwrap(handler.reconcile)
    racers = 8
    barrier = threading.Barrier(racers)
    flags: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            flagged = flag(late_event(event_id=f"race-{index}"), harness.context)
            flags.append(flagged)
            outcomes.append(reconcile(flagged, harness.context))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    handler.metrics.clear_metrics()

    assert errors == []
    assert sorted(f["status"] for f in flags) == ["duplicate"] * (racers - 1) + ["flagged"]
    assert [o["outcome"] for o in outcomes].count("reconciled") == 1
    assert sum(o["published"] for o in outcomes) == 1
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1
    assert number(aggregate, "amount") == Decimal("420.5")
    assert len(harness.aws.reconciled_events()) == 1


BAD_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("missing_order_id", late_event({"amount": 420.5, "reason": "x"}, event_id="bad-1")),
    ("invalid_amount", late_event({"orderId": "B1", "amount": "lots"}, event_id="bad-2")),
    ("negative_amount", late_event({"orderId": "B1", "amount": -420.5}, event_id="bad-3")),
    ("malformed_detail", late_event("A1080,420.5", event_id="bad-4")),
    (
        "invalid_event_time",
        late_event({"orderId": "B1", "amount": 1, "eventTime": "late"}, event_id="bad-5"),
    ),
]


@pytest.mark.parametrize(("reason", "event"), BAD_EVENTS, ids=[r for r, _ in BAD_EVENTS])
def test_each_bad_event_is_dead_lettered_once_verbatim(
    harness: Harness, reason: str, event: dict[str, Any]
) -> None:
    verbatim = json.loads(json.dumps(event))
    result = harness.flag(event)

    assert result["status"] == "rejected"
    assert result["reason"] == reason
    letters = harness.aws.dead_letters()
    assert len(letters) == 1
    letter = letters[0]
    assert letter["reason"] == reason
    assert letter["record"] == verbatim
    assert letter["pipeline"] == "late-data"
    assert letter["message"]
    assert letter["timestamp"]
    assert letter["source"] == {
        "eventId": event["id"],
        "source": "orders.data",
        "detailType": "late.record",
    }
    assert letter["id"] == result["deadLetterId"]
    assert harness.aws.ledger() == {}
    assert harness.aws.reconciled_events() == []

    # A redelivery is dead-lettered with the same id, so consumers can de-duplicate it.
    assert harness.flag(event)["deadLetterId"] == letter["id"]


def test_a_bad_event_without_an_id_gets_a_content_id(harness: Harness) -> None:
    event = {k: v for k, v in BAD_EVENTS[2][1].items() if k != "id"}
    first = harness.flag(event)["deadLetterId"]
    assert harness.flag(json.loads(json.dumps(event)))["deadLetterId"] == first
    other = {**event, "detail": {"orderId": "B2", "amount": -1}}
    assert harness.flag(other)["deadLetterId"] != first
    assert len(harness.aws.dead_letters()) == 3


def test_a_publish_failure_leaves_the_entry_pending_for_the_sweep(harness: Harness) -> None:
    harness.events.overrides["put_events"] = failed_put_events
    flagged = harness.flag(late_event())
    with pytest.raises(PublishError):
        harness.reconcile(flagged)

    entry = harness.aws.entry("A1080")
    assert entry["status"] == {"S": "reconciled"}
    assert entry["eventPending"] == {"BOOL": True}
    assert entry["pendingState"] == {"S": "PENDING"}
    assert "publishLeaseId" not in entry, "a failed publisher gives its lease back"
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1

    # Step Functions retries while PutEvents is still down: the aggregate is not touched.
    with pytest.raises(PublishError):
        harness.reconcile(flagged)
    assert harness.aws.aggregate(SEED_DAY) == aggregate

    # A sweep before the threshold leaves the entry to the event path.
    assert harness.sweep()["pending"] == 0

    harness.events.heal("put_events")
    harness.clock.advance(THRESHOLD + 1)
    assert harness.sweep() == {
        "pending": 1,
        "reconciled": 0,
        "published": 1,
        "failed": 0,
        "maxLatenessSeconds": 300,
    }
    assert len(harness.aws.reconciled_events()) == 1
    assert not set(OUTBOX_ATTRIBUTES) & set(harness.aws.entry("A1080"))
    assert harness.aws.aggregate(SEED_DAY) == aggregate

    assert harness.sweep()["pending"] == 0
    assert harness.reconcile(flagged)["published"] is False
    assert len(harness.aws.reconciled_events()) == 1


def test_the_step_retry_after_a_publish_failure_only_publishes(harness: Harness) -> None:
    harness.events.overrides["put_events"] = failed_put_events
    flagged = harness.flag(late_event())
    with pytest.raises(PublishError):
        harness.reconcile(flagged)
    harness.events.heal("put_events")

    assert harness.reconcile(flagged) == {
        "orderId": "A1080",
        "outcome": "already_reconciled",
        "businessDay": SEED_DAY,
        "published": True,
    }
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1
    assert len(harness.aws.reconciled_events()) == 1


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_crash_between_transaction_and_publish_is_repaired_by_the_sweep(
    harness: Harness,
) -> None:
    """The entry never leaves the pending index until its event is out."""

    def crash(**_: Any) -> Any:
        raise SystemExit("the Lambda sandbox died")

    harness.events.overrides["put_events"] = crash
    flagged = harness.flag(late_event())
    with pytest.raises(SystemExit):
        harness.reconcile(flagged)
    harness.events.heal("put_events")

    # The dead run's lease still stands, so an early retry does not publish...
    harness.clock.advance(30)
    assert harness.reconcile(flagged)["published"] is False
    # ...and once the threshold has passed the sweep does, exactly once.
    harness.clock.advance(THRESHOLD)
    assert harness.sweep()["published"] == 1
    assert len(harness.aws.reconciled_events()) == 1


@pytest.mark.parametrize(
    "error",
    [
        throttled_transaction(),
        client_error("ThrottlingException", "TransactWriteItems"),
        client_error(
            "TransactionCanceledException",
            "TransactWriteItems",
            CancellationReasons=[{"Code": "TransactionConflict"}, {"Code": "None"}],
        ),
    ],
    ids=["cancelled-throttling", "throttling-exception", "conflict"],
)
def test_a_failing_transaction_raises_and_the_sweep_repairs_it(
    harness: Harness, error: Exception
) -> None:
    harness.dynamodb.fail("transact_write_items", error)
    flagged = harness.flag(late_event())
    with pytest.raises(TransactionRetriesExhausted):
        harness.reconcile(flagged)
    assert harness.dynamodb.calls["transact_write_items"] == handler.TRANSACT_RETRY.max_attempts

    entry = harness.aws.entry("A1080")
    assert entry["status"] == {"S": "flagged"}
    assert entry["pendingState"] == {"S": "PENDING"}
    assert harness.aws.aggregate(SEED_DAY) is None
    assert harness.aws.reconciled_events() == []

    assert harness.sweep()["pending"] == 0, "not yet past the threshold"
    harness.clock.advance(THRESHOLD + 1)
    still_failing = harness.sweep()
    assert (still_failing["pending"], still_failing["failed"]) == (1, 1)

    harness.dynamodb.heal("transact_write_items")
    assert harness.sweep() == {
        "pending": 1,
        "reconciled": 1,
        "published": 1,
        "failed": 0,
        "maxLatenessSeconds": 300,
    }
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1
    assert number(aggregate, "amount") == Decimal("420.5")
    assert len(harness.aws.reconciled_events()) == 1
    assert harness.sweep()["pending"] == 0


def test_a_day_total_dynamodb_refuses_is_dead_lettered_once_never_retried(
    harness: Harness,
) -> None:
    """DynamoDB cancels the transaction with ValidationError on the day item (its ADD left
    the number range or 38 digits): the entry is dead-lettered with a reason and closed,
    so neither the step's retry nor the sweep tries it again."""
    harness.dynamodb.fail(
        "transact_write_items",
        client_error(
            "TransactionCanceledException",
            "TransactWriteItems",
            CancellationReasons=[
                {"Code": "None"},
                {"Code": "ValidationError", "Message": "Number overflow."},
            ],
        ),
    )
    flagged = harness.flag(late_event())
    result = harness.reconcile(flagged)
    assert result["outcome"] == "unreconcilable"
    assert result["published"] is False
    assert harness.dynamodb.calls["transact_write_items"] == 1

    entry = harness.aws.entry("A1080")
    assert entry["status"] == {"S": "unreconcilable"}
    assert "pendingState" not in entry
    (letter,) = harness.aws.dead_letters()
    assert letter["reason"] == handler.DAY_TOTAL_OUT_OF_RANGE
    assert "Number overflow" in letter["message"]
    assert letter["source"]["ledgerKey"] == "LATE#A1080"
    assert harness.aws.aggregate(SEED_DAY) is None

    assert harness.reconcile(flagged)["outcome"] == "unreconcilable"  # a redelivery
    harness.clock.advance(THRESHOLD + 1)
    assert harness.sweep()["pending"] == 0
    assert harness.dynamodb.calls["transact_write_items"] == 1
    assert len(harness.aws.dead_letters()) == 1


def test_a_day_total_leaving_38_digits_is_refused_by_dynamodbs_rules(harness: Harness) -> None:
    """With the emulator's DynamoDB rules over moto: a real refusal, not a simulated one."""
    harness.aws.dynamodb.put_item(
        TableName=LEDGER_TABLE,
        Item={
            "pk": {"S": f"DAY#{SEED_DAY}"},
            "amount": {"N": "12345678901234567890123456789012345678"},
        },
    )
    with contextlib.ExitStack() as stack:
        for patch in DynamoDBLimits(clock=lambda: 0.0).patches():
            stack.enter_context(patch)
        result = harness.reconcile(harness.flag(late_event()))  # 420.5: 39+ digits in total
    assert result["outcome"] == "unreconcilable"
    (letter,) = harness.aws.dead_letters()
    assert letter["reason"] == handler.DAY_TOTAL_OUT_OF_RANGE
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert aggregate["amount"] == {"N": "12345678901234567890123456789012345678"}
    assert harness.aws.entry("A1080")["status"] == {"S": "unreconcilable"}


def test_one_bad_entry_does_not_block_the_sweep(harness: Harness) -> None:
    inner = harness.dynamodb._inner
    harness.dynamodb.overrides["transact_write_items"] = lambda **kwargs: (
        (_ for _ in ()).throw(throttled_transaction())
        if kwargs["TransactItems"][0]["Update"]["Key"]["pk"]["S"] == "LATE#A1"
        else inner.transact_write_items(**kwargs)
    )
    for order_id in ("A1", "A2", "A3"):
        harness.flag(late_event({"orderId": order_id, "amount": 10}, event_id=order_id))
    harness.clock.advance(THRESHOLD + 1)

    assert harness.sweep() == {
        "pending": 3,
        "reconciled": 2,
        "published": 2,
        "failed": 1,
        "maxLatenessSeconds": 300,
    }
    assert harness.aws.entry("A1")["status"] == {"S": "flagged"}


def test_the_sweep_reads_every_page(harness: Harness) -> None:
    inner = harness.dynamodb._inner
    harness.dynamodb.overrides["query"] = lambda **kwargs: inner.query(**kwargs, Limit=4)
    for index in range(11):
        harness.flag(late_event({"orderId": f"P{index}", "amount": index}, event_id=f"p{index}"))
    harness.clock.advance(THRESHOLD + 1)

    result = harness.sweep()
    assert (result["pending"], result["reconciled"], result["published"]) == (11, 11, 11)
    assert harness.dynamodb.calls["query"] >= 3
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 11
    assert number(aggregate, "amount") == sum(range(11))


def test_the_sweep_stops_before_the_function_times_out(harness: Harness) -> None:
    harness.flag(late_event())
    harness.clock.advance(THRESHOLD + 1)
    harness.context.remaining_ms = 1_000
    assert harness.sweep()["pending"] == 0
    assert harness.aws.entry("A1080")["status"] == {"S": "flagged"}


def test_the_business_day_follows_the_business_time_zone(harness: Harness) -> None:
    harness.rebuild(zone="America/Los_Angeles")
    event = late_event({"orderId": "LA1", "amount": "12.30", "eventTime": "2025-01-15T05:30:00Z"})
    flagged, reconciled = harness.event_path(event)

    assert flagged["businessDay"] == "2025-01-14"
    assert reconciled is not None
    assert reconciled["businessDay"] == "2025-01-14"
    assert harness.aws.aggregate("2025-01-15") is None
    aggregate = harness.aws.aggregate("2025-01-14")
    assert aggregate is not None
    assert number(aggregate, "amount") == Decimal("12.3")
    assert harness.aws.reconciled_events()[0]["detail"]["businessDay"] == "2025-01-14"


def test_orders_of_one_day_add_up(harness: Harness) -> None:
    for order_id, amount in (("D1", 420.5), ("D2", "0.1"), ("D3", 7)):
        harness.event_path(late_event({"orderId": order_id, "amount": amount}, event_id=order_id))
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 3
    assert number(aggregate, "lateOrderCount") == 3
    assert number(aggregate, "amount") == Decimal("427.6")
    assert len(harness.aws.reconciled_events()) == 3


def test_the_default_bus(default_bus_harness: Harness) -> None:
    _, reconciled = default_bus_harness.event_path(late_event())
    assert reconciled is not None
    assert reconciled["published"] is True
    assert len(default_bus_harness.aws.reconciled_events()) == 1


def test_reconciling_an_unknown_entry_raises(harness: Harness) -> None:
    with pytest.raises(LedgerEntryMissing):
        harness.reconcile({"status": "flagged", "orderId": "nope", "ledgerKey": "LATE#nope"})


def test_event_path_and_sweep_metrics(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    harness.event_path(late_event())
    harness.event_path(late_event(event_id="dup"))
    harness.flag(BAD_EVENTS[2][1])
    harness.dynamodb.fail("transact_write_items", throttled_transaction())
    stuck = harness.flag(late_event({"orderId": "S1", "amount": 1}, event_id="s1"))
    with pytest.raises(TransactionRetriesExhausted):
        harness.reconcile(stuck)
    harness.dynamodb.heal("transact_write_items")
    capsys.readouterr()
    harness.clock.advance(THRESHOLD + 1)
    harness.sweep()
    sweep_metrics = emf_metrics(capsys.readouterr().out)

    assert sweep_metrics["LateRecordsPending"] == [1]
    assert sweep_metrics["LateRecordsReconciled"] == [1]
    assert sweep_metrics["SweepFailures"] == [0]
    assert sweep_metrics["MaxLatenessSeconds"] == [300]

    harness.event_path(late_event({"orderId": "M1", "amount": 1}, event_id="m1"))
    harness.flag(late_event({"orderId": "M1", "amount": 1}, event_id="m2"))
    harness.flag(BAD_EVENTS[0][1])
    event_metrics = emf_metrics(capsys.readouterr().out)
    assert event_metrics["LateRecordsFlagged"] == [1]
    assert event_metrics["LatenessSeconds"] == [1201]
    assert event_metrics["LateRecordsReconciled"] == [1]
    assert event_metrics["LateRecordDuplicates"] == [1]
    assert event_metrics["LateRecordsRejected"] == [1]


def test_the_seed_sample_runs_through_the_event_path_and_a_tick(harness: Harness) -> None:
    items = json.loads((SAMPLES / "seed-events.json").read_text())
    results: list[str] = []
    for item in items:
        if "event" in item:
            flagged, _ = harness.event_path(item["event"])
            results.append(flagged["status"])
        else:
            assert item == {"tick": "schedule"}
            harness.sweep()
    assert results == ["flagged", "duplicate", "rejected"]
    aggregate = harness.aws.aggregate(SEED_DAY)
    assert aggregate is not None
    assert number(aggregate, "orderCount") == 1
    assert number(aggregate, "amount") == Decimal("420.5")
    assert len(harness.aws.reconciled_events()) == 1
    assert [letter["reason"] for letter in harness.aws.dead_letters()] == ["negative_amount"]


def test_importing_the_handler_creates_no_client_and_loads_no_boto3() -> None:
    code = (
        "import sys, runtime.reconciliation.handler as h; "
        "assert 'boto3' not in sys.modules, 'boto3 imported'; "
        "assert h.runtime.cache_info().currsize == 0"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
