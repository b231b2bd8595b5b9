"""Property: every record of any batch ends in exactly one place, and effects happen once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from orders_support import (
    FakeLambdaContext,
    FlakyEvents,
    create_resources,
    failures,
    shared_client,
    stream_record,
)

from runtime.orders import domain, handler
from runtime.orders.config import Flow
from runtime.orders.handler import Outcome

ORDERS = 4


@dataclass(frozen=True)
class Case:
    flow: Flow
    records: list[Any]
    failing_orders: frozenset[str]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    records: list[Any] = []
    for position in range(draw(st.integers(0, 12))):
        event_name = draw(st.sampled_from(["INSERT", "MODIFY", "MODIFY", "REMOVE"]))
        record: Any = stream_record(
            f"ORD-{draw(st.integers(0, ORDERS - 1))}",
            event_name=event_name,
            new_status=draw(st.sampled_from(["pending", "shipped", "delivered", "lost", None])),
            old_status=(
                None
                if event_name == "INSERT"
                else draw(st.sampled_from(["pending", "pending", "processing", None]))
            ),
            amount=draw(
                st.sampled_from(
                    ["0", "100", "100.01", "1000", "1000.01", "2500", "-1", "NaN", "x", None]
                )
            ),
            email=draw(
                st.sampled_from(
                    ["vip@example.com", "X@TEST.COM", "a@sub.test.com", "a@nottest.com", None]
                )
            ),
            event_id=f"e{position}",
            sequence=position,
        )
        mutation = draw(st.sampled_from([None] * 8 + ["not_a_dict", "no_event_id", "no_body"]))
        if mutation == "not_a_dict":
            record = [record]
        elif mutation == "no_event_id":
            del record["eventID"]
        elif mutation == "no_body":
            del record["dynamodb"]
        records.append(record)
    failing = draw(st.frozensets(st.sampled_from([f"ORD-{n}" for n in range(ORDERS)]), max_size=2))
    flow: Flow = draw(st.sampled_from(["standard", "premium"]))
    return Case(flow, records, failing)


def publishable_keys(case: Case) -> set[str]:
    """The oracle: distinct transitions the domain rules say must be published."""
    settings_ = handler.runtime(case.flow).settings
    keys: set[str] = set()
    for record in case.records:
        change = domain.parse_record(record, settings_.known_statuses)
        if isinstance(change, domain.Rejection):
            continue
        decision = (
            domain.decide_standard(change, settings_.standard)
            if case.flow == "standard"
            else domain.decide_premium(change, settings_.premium)
        )
        if isinstance(decision, domain.Publish):
            keys.add(decision.idempotency_key)
    return keys


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Handler env and shared clients; every example creates its own moto state."""
    from runtime.common import clients

    monkeypatch.setattr(clients, "client", shared_client)
    return monkeypatch


# The function-scoped fixture only sets constant environment values and patches the client
# factory; each example starts its own mock_aws, so nothing leaks between examples.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_every_record_has_exactly_one_outcome(aws_env: pytest.MonkeyPatch, case: Case) -> None:
    with mock_aws():
        aws = create_resources(shared_client, aws_env)
        handler.reset()
        rt = handler.runtime(case.flow)
        rt.idempotency.register_context(FakeLambdaContext())
        flaky = FlakyEvents(rt.publisher.events, failing=set(case.failing_orders))
        rt.publisher._events = flaky

        report = handler.process_batch(case.records, rt)

        counts = {outcome: report.count(outcome) for outcome in Outcome}
        assert len(report.outcomes) == len(case.records)
        assert counts[Outcome.PUBLISHED] + counts[Outcome.DUPLICATE] + counts[
            Outcome.SKIPPED
        ] + counts[Outcome.DEAD_LETTERED] + counts[Outcome.FAILED] == len(case.records)
        published = aws.published()
        assert counts[Outcome.PUBLISHED] == len(published)
        assert counts[Outcome.DEAD_LETTERED] == len(aws.dead_letters())
        assert counts[Outcome.FAILED] == len(failures(report.response()))
        assert counts[Outcome.SKIPPED] == sum(report.skip_reasons.values())
        assert set(report.skip_reasons) <= domain.SKIP_REASONS
        assert set(report.dead_letter_reasons) <= domain.DEAD_LETTER_REASONS
        notified = len(aws.notifications())
        assert notified == (counts[Outcome.PUBLISHED] if case.flow == "premium" else 0)
        failed_orders = {event["detail"]["orderId"] for event in published} & case.failing_orders
        assert not failed_orders

        # The Pipe redelivers the batch once the bus recovers: nothing twice, nothing lost.
        flaky.failing.clear()
        retry = handler.process_batch(case.records, rt)
        assert retry.count(Outcome.FAILED) == 0
        republished = aws.published()
        assert retry.count(Outcome.PUBLISHED) == len(republished)
        keys = [event["detail"]["idempotencyKey"] for event in published + republished]
        assert len(keys) == len(set(keys))
        assert set(keys) == publishable_keys(case)
