"""Fix-then-redrive with a missing permission: each test deploys its own stripped pipeline."""

from __future__ import annotations

import io
import json

import conservation
import pytest
from fault_support import (
    QUEUE,
    STATE_MACHINE,
    TABLE,
    clients,
    deployed,
    grant,
    output,
    run_input,
    sales_record,
    snapshot,
    strip_action,
    write,
)

from emulator.engine import Emulator
from orderflow_ops.cli import main
from orderflow_ops.clients import build_redrivers
from orderflow_ops.messages import Kind
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.redrivers import Redriver
from orderflow_ops.replay import list_letters, redrive

pytestmark = pytest.mark.e2e


def dlq(emulator: Emulator, role: str = "validation-dlq") -> DeadLetterQueue:
    return DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, role, "url"), wait_seconds=0
    )


def redrivers(emulator: Emulator) -> list[Redriver]:
    workflow = output(emulator, STATE_MACHINE, "validation-workflow", "arn")
    return build_redrivers(clients(emulator), pipeline="validation", state_machine_arn=workflow)


def cli(emulator: Emulator, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        ["replay", *argv, "--wait-seconds", "0"], clients=lambda _: clients(emulator), out=out
    )
    return code, out.getvalue()


def conserved(emulator: Emulator, key: str, content: object) -> conservation.Conservation:
    report = snapshot(emulator, "validation")
    return conservation.validation(report, key, json.dumps(content).encode()).check()


def test_after_a_missing_permission_is_granted_the_redriven_file_is_stored() -> None:
    stripped = strip_action("validation-validate-policy", "dynamodb:BatchWriteItem")
    with deployed("validation", transformations=[stripped]) as emulator:
        tmp = emulator.workdir
        content = [sales_record(f"perm-{i}", contact=i != 0) for i in range(4)]
        run_input(emulator, "validation", write(tmp, "perm.json", content))
        assert emulator.guard.denials
        (letter,) = list_letters(dlq(emulator))
        assert letter.reason == "file_unreadable"
        # Redriving before the fix: the workflow takes it and gives it up again.
        (early,) = redrive(dlq(emulator), redrivers(emulator))
        assert early.status == "redriven"
        emulator.run_until_idle()
        (still,) = list_letters(dlq(emulator))
        assert still.id == letter.id
        # The fix, then the redrive.
        table = output(emulator, TABLE, "validation-orders", "arn")
        grant(emulator, "validation-validate-policy", "dynamodb:BatchWriteItem", table)
        (report,) = redrive(dlq(emulator), redrivers(emulator))
        assert report.status == "redriven"
        emulator.run_until_idle()
        result = conserved(emulator, "incoming/perm.json", content)
        assert (result.stored, result.dead_lettered) == (3, 1)


def test_an_event_the_rule_could_not_deliver_is_redriven_to_the_workflow() -> None:
    stripped = strip_action("validation-events-policy", "states:StartExecution")
    with deployed("validation", transformations=[stripped]) as emulator:
        content = [sales_record(f"ev-{i}") for i in range(2)]
        run_input(emulator, "validation", write(emulator.workdir, "event.json", content))
        parked = dlq(emulator, "validation-delivery-dlq")
        (letter,) = list_letters(parked)
        assert letter.kind is Kind.UNDELIVERED_EVENT
        assert letter.reason == "NO_PERMISSIONS"
        code, text = cli(
            emulator,
            "redrive",
            "--queue-url",
            parked.queue_url,
            "--json",
            "--pipeline",
            "validation",
            "--queue",
            "delivery",
        )
        assert code == 0
        (report,) = json.loads(text)
        assert (report["status"], report["action"]) == ("redriven", "start-execution")
        emulator.run_until_idle()
        assert list_letters(parked) == []
        assert conserved(emulator, "incoming/event.json", content).stored == 2
