"""A permission missing from a role fails the run as in AWS, and loses nothing silently."""

from __future__ import annotations

import pytest
from emulator_support import ROOT, SEED_FILE, strip_action

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e

SCENARIO = SCENARIOS["validation"]


def test_without_batch_write_the_file_is_dead_lettered_and_the_denial_reported() -> None:
    with Emulator() as emulator:
        emulator.deploy(
            ROOT,
            transformations=[strip_action("validation-validate-policy", "dynamodb:BatchWriteItem")],
        )
        role = emulator.stack.output_of("aws:iam/role:Role", "validation-validate-role", "arn")
        table = emulator.stack.output_of("aws:dynamodb/table:Table", "validation-orders", "arn")
        report, outcome = run_scenario(emulator, SCENARIO, SEED_FILE)
    assert {"principal": role, "action": "dynamodb:BatchWriteItem", "resource": table} in report[
        "iam_denied"
    ]
    assert report["tables"]["validation-orders"] == []
    # The workflow gave up on the file and dead-lettered it whole: nothing is lost.
    assert outcome.problems == []
    assert outcome.reasons == {"file_unreadable": 1}
    assert [e["status"] for e in report["executions"]] == ["FAILED"]
    failures = [e for e in report["errors"] if e["kind"] == "lambda"]
    assert failures
    assert all("AccessDeniedException" in e["errorMessage"] for e in failures)


def test_without_start_execution_the_event_waits_in_the_delivery_dlq() -> None:
    with Emulator() as emulator:
        emulator.deploy(
            ROOT,
            transformations=[strip_action("validation-events-policy", "states:StartExecution")],
        )
        report, outcome = run_scenario(emulator, SCENARIO, SEED_FILE)
    assert [d["action"] for d in report["iam_denied"]] == ["states:StartExecution"]
    assert report["executions"] == []
    (parked,) = report["queues"]["validation-delivery-dlq"]
    assert parked["detail"]["object"]["key"] == "incoming/mock-data.json"
    assert outcome.problems == []
    assert outcome.reasons == {"undelivered_event": 1}
    (delivery,) = [e for e in report["errors"] if e["kind"] == "delivery"]
    assert delivery["code"] == "NO_PERMISSIONS"
    assert delivery["outcome"] == "sent to the target's DLQ"
