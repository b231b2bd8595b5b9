"""LateDataReconciler: one event, one dead letter id, however often it fails or is redriven.

A letter's id comes from the event (its EventBridge id, or, for an event put on the bus
again by `replay redrive --via bus`, the first event's id it carries in
`detail.originalEvent`), never from the execution that happened to handle it. So:

- a flag step that keeps failing, plus a redelivery of the same event, is one letter id;
- a rejected event redriven through the bus and rejected again is the same letter again,
  and so is an event whose flag step still fails after a bus redrive;
- redriving by bus twice (an operator re-running the command) changes nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fault_support import FUNCTION, QUEUE, STATE_MACHINE, clients, deployed, output
from test_faults_late_data import PIPELINE, late, send

from emulator.engine import Emulator
from emulator.faults import Faults
from orderflow_ops.clients import build_redrivers
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.redrivers import Redriver
from orderflow_ops.replay import list_letters, redrive
from runtime.common.dead_letter import dead_letter_id

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed(PIPELINE) as emulator:
        yield emulator


def dlq(emulator: Emulator) -> DeadLetterQueue:
    return DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, "late-data-dlq", "url"), wait_seconds=0
    )


def bus_redrivers(emulator: Emulator) -> list[Redriver]:
    workflow = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    return build_redrivers(
        clients(emulator), pipeline=PIPELINE, state_machine_arn=workflow, via="bus"
    )


def flag_function(emulator: Emulator) -> str:
    return output(emulator, FUNCTION, "late-data-flag", "name")


def letters_about(emulator: Emulator, order: str) -> list[dict[str, Any]]:
    """Every queued copy of every letter whose event names `order`."""
    found = []
    for letter in list_letters(dlq(emulator)):
        record = letter.payload if isinstance(letter.payload, dict) else {}
        detail = record.get("detail")
        if not isinstance(detail, dict):
            continue
        if detail.get("orderId") == order:
            found.append({"id": letter.id, "reason": letter.reason, "source": letter.source})
    return found


def start(emulator: Emulator, event: dict[str, Any]) -> None:
    """Start the workflow with `event` as the rule does (a redelivery keeps the id)."""
    machine = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    emulator.client("stepfunctions").start_execution(
        stateMachineArn=machine, input=json.dumps(event)
    )
    emulator.run_until_idle()


def test_a_failing_flag_step_and_a_redelivery_are_one_letter(emulator: Emulator) -> None:
    event = {
        **late({"orderId": "ID-A1", "amount": "10.00"}),
        "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [],
        "version": "0",
    }
    with Faults(emulator) as faults:
        faults.lambda_errors(flag_function(emulator), times=None)
        start(emulator, event)
        start(emulator, event)  # EventBridge delivers at least once
        assert faults.hits
    letters = letters_about(emulator, "ID-A1")
    assert len(letters) == 2  # two copies ...
    assert {letter["id"] for letter in letters} == {
        dead_letter_id(PIPELINE, {"eventId": event["id"]})
    }  # ... of one letter, named after the event
    assert {letter["reason"] for letter in letters} == {"flag_failed"}
    assert all(letter["source"] == {"eventId": event["id"]} for letter in letters)


def test_a_rejected_event_redriven_by_bus_twice_stays_one_letter(emulator: Emulator) -> None:
    _, received = send(emulator, [late({"orderId": "ID-B1", "amount": -4})])
    (first,) = letters_about(emulator, "ID-B1")
    assert first["reason"] == "negative_amount"
    (event_id,) = received
    assert first["source"]["eventId"] == event_id
    for _ in range(2):  # the operator runs the command again
        (report,) = redrive(dlq(emulator), bus_redrivers(emulator), ids=[first["id"]])
        assert (report.status, report.plan.action) == ("redriven", "put-events")
        emulator.run_until_idle()
        # The event got a new EventBridge id, was rejected again: the same letter.
        (again,) = letters_about(emulator, "ID-B1")
        assert again == first


def test_an_event_still_unflaggable_after_a_bus_redrive_is_the_same_letter(
    emulator: Emulator,
) -> None:
    with Faults(emulator) as faults:
        faults.lambda_errors(flag_function(emulator), times=None)
        _, received = send(emulator, [late({"orderId": "ID-C1", "amount": "3.50"})])
        (first,) = letters_about(emulator, "ID-C1")
        (event_id,) = received
        assert first["reason"] == "flag_failed"
        assert first["id"] == dead_letter_id(PIPELINE, {"eventId": event_id})
        (report,) = redrive(dlq(emulator), bus_redrivers(emulator), ids=[first["id"]])
        assert report.status == "redriven"
        emulator.run_until_idle()
        (again,) = letters_about(emulator, "ID-C1")
        assert again == first
    # Fixed: the redrive now records the order once, with the first event's id.
    (report,) = redrive(dlq(emulator), bus_redrivers(emulator), ids=[first["id"]])
    assert report.status == "redriven"
    emulator.run_until_idle()
    assert letters_about(emulator, "ID-C1") == []
    table = output(emulator, "aws:dynamodb/table:Table", "late-data-ledger", "name")
    item = emulator.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "LATE#ID-C1"}})[
        "Item"
    ]
    assert item["firstSeenEventId"] == {"S": event_id}
