"""The replay's pure parts: message classification, Pipes filters, plans (no emulator)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow_ops.messages import Kind, QueuedMessage, parse
from orderflow_ops.patterns import UnsupportedPatternError, matches
from orderflow_ops.redrivers import LateDataRedriver, plan_for
from orderflow_ops.redrivers.delivery import rule_of, select_path
from orderflow_ops.stack import ResolutionError, resolve


def queued(body: Any, **attributes: str) -> QueuedMessage:
    text = body if isinstance(body, str) else json.dumps(body)
    return QueuedMessage("m-1", "r-1", text, attributes)


EVENT = {"id": "e-1", "source": "orders.data", "detail-type": "late.record", "detail": {}}


def test_messages_are_told_apart_by_who_wrote_them() -> None:
    letter = {
        "id": "x",
        "pipeline": "p",
        "reason": "r",
        "message": "m",
        "source": {"a": 1},
        "record": {"truncated": True, "sha256": "0" * 64, "preview": "{"},
    }
    assert parse(queued(letter)).kind is Kind.DEAD_LETTER
    assert parse(queued(letter)).truncated
    rule = parse(queued(EVENT, RULE_ARN="arn:r", TARGET_ARN="arn:t", ERROR_CODE="THROTTLING"))
    assert (rule.kind, rule.reason, rule.source["eventId"]) == (
        Kind.UNDELIVERED_EVENT,
        "THROTTLING",
        "e-1",
    )
    tick = parse(queued({"mode": "sweep"}, SCHEDULE_ARN="arn:s", TARGET_ARN="arn:t"))
    assert tick.kind is Kind.SCHEDULE_FAILURE
    assert parse(queued(EVENT, RequestID="req")).kind is Kind.ASYNC_INVOKE_FAILURE
    unknown = parse(queued("plain text"))
    assert (unknown.kind, unknown.payload) == (Kind.UNKNOWN, "plain text")
    assert plan_for(unknown, []).skipped
    # Same failure, same id: copies deduplicate.
    assert rule.id == parse(queued(EVENT, RULE_ARN="arn:r", TARGET_ARN="arn:t")).id


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"eventName": ["INSERT", "MODIFY"]}, {"eventName": "MODIFY"}, True),
        ({"eventName": ["INSERT"]}, {"eventName": "REMOVE"}, False),
        ({"a": {"b": [{"prefix": "ab"}]}}, {"a": {"b": "abc"}}, True),
        ({"a": [{"exists": False}]}, {}, True),
        ({"a": [{"anything-but": ["x"]}]}, {"a": "x"}, False),
        ({"n": [{"numeric": [">", 1, "<=", 5]}]}, {"n": 5}, True),
        ({"s": [{"equals-ignore-case": "TEST"}]}, {"s": "test"}, True),
    ],
)
def test_pipes_filters(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_filters_pipes_refuse_are_refused() -> None:
    with pytest.raises(UnsupportedPatternError):
        matches({"a": [{"wildcard": "*x"}]}, {"a": "x"})


class FakeSfn:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def start_execution(self, **params: Any) -> dict[str, str]:
        self.started.append(params)
        return {"executionArn": "arn:aws:states:::execution:wf:" + params["name"]}


def test_late_data_letters_restart_the_workflow_with_the_event() -> None:
    sfn = FakeSfn()
    redriver = LateDataRedriver(sfn=sfn, lambda_client=None, state_machine_arn="arn:wf")
    letter = parse(
        queued(
            {
                "id": "x",
                "pipeline": "late-data",
                "reason": "invalid_amount",
                "message": "m",
                "source": {"eventId": "e-1"},
                "record": EVENT,
            }
        )
    )
    plan = redriver.plan(letter)
    assert (plan.action, plan.payload) == ("start-execution", EVENT)
    assert plan.perform is not None
    assert plan.perform().ok
    assert json.loads(sfn.started[0]["input"]) == EVENT
    assert plan_for(letter, [redriver]).action == "start-execution"


def test_resolution_prefers_flags_then_outputs() -> None:
    outputs = {"lateDataDeadLetterQueueUrl": "https://q", "lateDataStateMachineArn": "arn:wf"}
    targets = resolve(outputs, pipeline="late-data")
    assert (targets.queue_url, targets.state_machine_arn) == ("https://q", "arn:wf")
    assert resolve(outputs, pipeline="late-data", queue_url="https://other").queue_url == (
        "https://other"
    )
    with pytest.raises(ResolutionError, match="DeliveryDeadLetterQueueUrl"):
        resolve(outputs, pipeline="late-data", queue="delivery")
    assert rule_of("arn:aws:events:us-east-1:1:rule/bus/name") == ("bus", "name")
    assert rule_of("arn:aws:events:us-east-1:1:rule/name") == ("default", "name")
    assert select_path({"a": {"b": 1}}, "$.a") == {"b": 1}
