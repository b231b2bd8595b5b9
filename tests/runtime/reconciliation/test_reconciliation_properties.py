"""Property: whatever arrives, in whatever order and however often, each order counts once."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reconciliation_support import NOW, THRESHOLD, Harness, late_event, number

from runtime.reconciliation.events import PublishError

ORDER_IDS = ["A1", "A2", "A3", "A4"]
# Event times straddling midnight UTC, so the orders spread over two business days.
TIMES = {
    "2025-01-14T23:59:59Z": "2025-01-14",
    "2025-01-15T00:00:00Z": "2025-01-15",
    "2025-01-15T09:30:00Z": "2025-01-15",
}
BAD_DETAILS: list[tuple[str, Any]] = [
    ("negative_amount", {"orderId": "A1", "amount": -1}),
    ("missing_order_id", {"amount": 5}),
    ("invalid_amount", {"orderId": "A2", "amount": "NaN"}),
    ("invalid_amount", {"orderId": "A3", "amount": True}),
    ("malformed_detail", ["A1", 5]),
    ("invalid_event_time", {"orderId": "A4", "amount": 5, "eventTime": "tomorrow"}),
]

amounts = st.one_of(
    st.integers(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    st.integers(min_value=0, max_value=10**8).map(lambda cents: cents / 100),
)


@dataclass(frozen=True)
class Valid:
    order_id: str
    amount: Any
    time: str


@dataclass(frozen=True)
class Bad:
    index: int


@dataclass(frozen=True)
class Redeliver:
    """The same event again (same EventBridge id): a retry or a replay."""

    back: int


@dataclass(frozen=True)
class Reconcile:
    """What happens to one flag result on the event path."""

    fails: bool  # PutEvents down for this run: the sweep must finish the job
    twice: bool  # Step Functions ran the step again (at least once)


arrivals = st.one_of(
    st.builds(Valid, st.sampled_from(ORDER_IDS), amounts, st.sampled_from(sorted(TIMES))),
    st.builds(Bad, st.integers(min_value=0, max_value=len(BAD_DETAILS) - 1)),
    st.builds(Redeliver, st.integers(min_value=1, max_value=5)),
)


def build_events(plan: list[Valid | Bad | Redeliver]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for position, arrival in enumerate(plan):
        if isinstance(arrival, Redeliver):
            if events:
                events.append(json.loads(json.dumps(events[-min(arrival.back, len(events))])))
            continue
        if isinstance(arrival, Valid):
            detail: Any = {"orderId": arrival.order_id, "amount": arrival.amount}
            events.append(late_event(detail, event_id=f"ok-{position}", time=arrival.time))
        else:
            reason, bad = BAD_DETAILS[arrival.index]
            events.append(late_event(bad, event_id=f"bad-{position}-{reason}"))
    return events


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(arrivals, min_size=1, max_size=10), data=st.data())
def test_every_valid_order_counts_once_and_every_bad_event_is_dead_lettered(
    harness: Harness, plan: list[Valid | Bad | Redeliver], data: st.DataObject
) -> None:
    harness.aws.reset()
    harness.clock.now = NOW
    events = build_events(plan)

    # The oracle: an order's first valid arrival decides its amount and business day.
    first: dict[str, tuple[Decimal, str]] = {}
    bad_deliveries: Counter[str] = Counter()
    for event in events:
        detail = event["detail"]
        if event["id"].startswith("bad-"):
            bad_deliveries[event["id"]] += 1
        elif detail["orderId"] not in first:
            first[detail["orderId"]] = (Decimal(str(detail["amount"])), TIMES[event["time"]])

    flagged = [harness.flag(event) for event in events]
    accepted = [result for result in flagged if result["status"] != "rejected"]
    fates = data.draw(
        st.lists(
            st.builds(Reconcile, st.booleans(), st.booleans()),
            min_size=len(accepted),
            max_size=len(accepted),
        )
    )
    order = data.draw(st.permutations(range(len(accepted))))
    inner_put_events = harness.events._inner.put_events
    for index in order:
        fate = fates[index]
        if fate.fails:
            harness.events.overrides["put_events"] = lambda **_: {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure"}],
            }
        try:
            for _ in range(1 + fate.twice):
                harness.reconcile(accepted[index])
        except PublishError:
            assert fate.fails
        finally:
            harness.events.overrides.pop("put_events", None)
    assert harness.events._inner.put_events == inner_put_events

    harness.clock.advance(THRESHOLD + 1)
    swept = harness.sweep()
    assert swept["failed"] == 0
    assert harness.sweep()["pending"] == 0

    # Each distinct valid order counted once, on its first arrival's day and amount.
    ledger = harness.aws.ledger()
    days: dict[str, tuple[int, Decimal]] = {}
    for amount, day in first.values():
        count, total = days.get(day, (0, Decimal(0)))
        days[day] = (count + 1, total + amount)
    aggregates = {pk[len("DAY#") :]: item for pk, item in ledger.items() if pk.startswith("DAY#")}
    assert {
        day: (int(number(item, "orderCount")), number(item, "amount"))
        for day, item in aggregates.items()
    } == days
    for order_id, (amount, day) in first.items():
        entry = ledger[f"LATE#{order_id}"]
        assert entry["status"] == {"S": "reconciled"}
        assert Decimal(entry["amount"]["N"]) == amount
        assert entry["businessDay"] == {"S": day}
        assert "eventPending" not in entry
        assert "pendingState" not in entry

    # Exactly one OrderReconciled per order: nothing failed for good, nothing twice.
    published = Counter(e["detail"]["orderId"] for e in harness.aws.reconciled_events())
    assert published == Counter(first.keys())

    # Every bad delivery dead-lettered once, verbatim, with its reason; redeliveries share ids.
    letters = harness.aws.dead_letters()
    assert Counter(letter["source"]["eventId"] for letter in letters) == bad_deliveries
    by_id = {event["id"]: event for event in events}
    for letter in letters:
        event = by_id[letter["source"]["eventId"]]
        assert letter["record"] == event
        assert event["id"].endswith(f"-{letter['reason']}")
    assert len({letter["id"] for letter in letters}) == len(bad_deliveries)
