"""`orderflow_ops replay` against the emulator: list, inspect, dry run, fix-then-redrive.

The operator's clients are the emulator's own (moto-backed, acting as the account), the
way the CLI uses the user's credentials against AWS.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import conservation
import pytest
from fault_support import (
    QUEUE,
    STATE_MACHINE,
    TABLE,
    clients,
    deployed,
    output,
    run_input,
    sales_record,
    snapshot,
    write,
)

from emulator.engine import Emulator
from emulator.faults import Faults
from orderflow_ops.cli import main
from orderflow_ops.clients import build_redrivers
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.redrivers import Redriver
from orderflow_ops.replay import list_letters, redrive
from runtime.common.dead_letter import build_dead_letter
from runtime.validation.batch import record_source

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed("validation", batchSize=4) as emulator:
        yield emulator


def dlq(emulator: Emulator, role: str = "validation-dlq") -> DeadLetterQueue:
    return DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, role, "url"), wait_seconds=0
    )


def redrivers(emulator: Emulator) -> list[Redriver]:
    workflow = output(emulator, STATE_MACHINE, "validation-workflow", "arn")
    return build_redrivers(clients(emulator), pipeline="validation", state_machine_arn=workflow)


def drain(emulator: Emulator) -> None:
    """Redrive everything left so each test starts from an empty DLQ."""
    queue = dlq(emulator)
    queue.delete(list_letters(queue))


def stack_outputs(emulator: Emulator, tmp_path: Path) -> Path:
    """What `pulumi stack output --json` prints for the validation exports."""
    outputs = {
        "validationDeadLetterQueueUrl": output(emulator, QUEUE, "validation-dlq", "url"),
        "validationStateMachineArn": output(emulator, STATE_MACHINE, "validation-workflow", "arn"),
        "validationTableName": output(emulator, TABLE, "validation-orders", "name"),
    }
    return write(tmp_path, "outputs.json", outputs)


def cli(emulator: Emulator, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        ["replay", *argv, "--wait-seconds", "0"], clients=lambda _: clients(emulator), out=out
    )
    return code, out.getvalue()


def conserved(emulator: Emulator, key: str, content: Any) -> conservation.Conservation:
    report = snapshot(emulator, "validation")
    data = json.dumps(content).encode()
    return conservation.validation(report, key, data).check()


def test_list_and_inspect_show_letters_without_consuming_them(
    emulator: Emulator, tmp_path: Path
) -> None:
    drain(emulator)
    records = [sales_record("li-1"), sales_record("li-2", contact=False), 7]
    run_input(emulator, "validation", write(tmp_path, "listed.json", records))
    outputs = stack_outputs(emulator, tmp_path)
    code, text = cli(
        emulator, "list", "--pipeline", "validation", "--stack-outputs", str(outputs), "--json"
    )
    assert code == 0
    listed = json.loads(text)
    assert sorted(x["reason"] for x in listed) == ["missing_contact_info", "not_an_object"]
    assert all(
        x["kind"] == "dead_letter" and x["source"]["key"] == "incoming/listed.json" for x in listed
    )
    # Nothing consumed: a second listing sees the same messages.
    assert len(list_letters(dlq(emulator))) == 2
    letter_id = next(x["id"] for x in listed if x["reason"] == "not_an_object")
    code, text = cli(
        emulator,
        "inspect",
        letter_id[:12],
        "--pipeline",
        "validation",
        "--stack-outputs",
        str(outputs),
    )
    assert code == 0
    detail = json.loads(text)
    assert detail["payload"] == 7
    assert detail["source"]["recordIndex"] == 2
    assert detail["message"]
    code, _ = cli(emulator, "inspect", "0" * 64, "--queue-url", dlq(emulator).queue_url)
    assert code == 2
    code, text = cli(emulator, "list", "--queue-url", dlq(emulator).queue_url)
    assert "2 message(s), 2 distinct dead letter(s)" in text


def test_a_dry_run_changes_nothing(emulator: Emulator, tmp_path: Path) -> None:
    drain(emulator)
    content = [sales_record(f"dry-{i}") for i in range(3)]
    with Faults(emulator) as faults:
        faults.throttle_dynamodb(times=None, table="validation-orders")
        run_input(emulator, "validation", write(tmp_path, "dry.json", content))
    before = snapshot(emulator, "validation")
    invocations = len(emulator.lambdas.invocations)
    executions = len(emulator.states.executions)
    code, text = cli(
        emulator,
        "redrive",
        "--dry-run",
        "--json",
        "--pipeline",
        "validation",
        "--stack-outputs",
        str(stack_outputs(emulator, tmp_path)),
    )
    emulator.run_until_idle()
    assert code == 0
    (planned,) = json.loads(text)
    assert (planned["status"], planned["action"]) == ("dry-run", "start-execution")
    assert snapshot(emulator, "validation")["queues"] == before["queues"]
    assert snapshot(emulator, "validation")["tables"] == before["tables"]
    assert len(emulator.lambdas.invocations) == invocations
    assert len(emulator.states.executions) == executions


def test_after_a_transient_fault_the_redriven_file_is_stored_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    drain(emulator)
    content = [sales_record(f"tr-{i}", contact=i != 1) for i in range(6)]
    with Faults(emulator) as faults:
        faults.throttle_dynamodb(times=None, table="validation-orders")
        run_input(emulator, "validation", write(tmp_path, "transient.json", content))
    (letter,) = list_letters(dlq(emulator))
    assert letter.reason == "file_unreadable"
    # The fault is over (the Faults block ended): redrive, then redrive again.
    (report,) = redrive(dlq(emulator), redrivers(emulator))
    assert (report.status, report.outcome, report.deleted) == ("redriven", "started", 1)
    emulator.run_until_idle()
    result = conserved(emulator, "incoming/transient.json", content)
    assert (result.stored, result.dead_lettered) == (5, 1)
    items = snapshot(emulator, "validation")["tables"]["validation-orders"]
    reports = redrive(dlq(emulator), redrivers(emulator))  # the record letter, still bad
    assert [(r.reason, r.outcome) for r in reports] == [
        ("missing_contact_info", "dead-lettered again")
    ]
    emulator.run_until_idle()
    assert snapshot(emulator, "validation")["tables"]["validation-orders"] == items
    again = conserved(emulator, "incoming/transient.json", content)
    assert (again.stored, again.dead_lettered) == (5, 1)
    assert len(list_letters(dlq(emulator))) == 1


def test_a_record_letter_is_stored_exactly_as_the_pipeline_stores_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A record wrongly rejected (say, by a validator since fixed) is redriven alone:
    the item is byte-identical to a first-time store, and a second redrive adds nothing."""
    drain(emulator)
    content = [sales_record("rec-1"), sales_record("rec-2")]
    run_input(emulator, "validation", write(tmp_path, "record.json", content))
    table = output(emulator, TABLE, "validation-orders", "name")
    stored = {
        i["orderId"]: i for i in snapshot(emulator, "validation")["tables"]["validation-orders"]
    }
    original = stored["rec-2"]
    emulator.client("dynamodb").delete_item(TableName=table, Key={"orderId": {"S": "rec-2"}})
    source = record_source(
        original["sourceBucket"], original["sourceKey"], original.get("sourceVersionId"), 1
    )
    letter = build_dead_letter(
        pipeline="validation",
        reason="invalid_field",
        message="rejected by an old validator",
        source=source,
        record=content[1],
    )
    queue = dlq(emulator)
    for _ in range(2):  # delivered twice: one id, redriven once
        emulator.client("sqs").send_message(QueueUrl=queue.queue_url, MessageBody=letter.body)
    (report,) = redrive(queue, redrivers(emulator))
    assert (report.copies, report.deleted, report.outcome) == (2, 2, "stored")
    items = {
        i["orderId"]: i for i in snapshot(emulator, "validation")["tables"]["validation-orders"]
    }
    assert items["rec-2"] == original
    assert redrive(queue, redrivers(emulator)) == []
    assert conserved(emulator, "incoming/record.json", content).stored == 2


def test_a_redrive_whose_delete_failed_is_safe_to_run_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    drain(emulator)
    content = [sales_record(f"del-{i}") for i in range(3)]
    with Faults(emulator) as faults:
        faults.lambda_errors("validation-validate", times=None)
        run_input(emulator, "validation", write(tmp_path, "delete.json", content))
    executions = len(emulator.states.executions)
    with Faults(emulator) as faults:
        faults.fail_calls("sqs", ["DeleteMessageBatch"], times=1, workload_only=False)
        (first,) = redrive(dlq(emulator), redrivers(emulator))
    assert (first.status, first.outcome, first.deleted) == ("failed", "started", 0)
    (second,) = redrive(dlq(emulator), redrivers(emulator))
    # Same message, same execution name: AWS (and moto) answer a Standard workflow's
    # StartExecution of a running execution with that execution, of a closed one with
    # ExecutionAlreadyExists; either way no second execution starts.
    assert (second.status, second.deleted) == ("redriven", 1)
    assert second.outcome in {"started", "already started"}
    assert "did not delete" in first.detail
    emulator.run_until_idle()
    assert len(emulator.states.executions) == executions + 1  # one redriven execution
    assert conserved(emulator, "incoming/delete.json", content).stored == 3


def test_unsafe_and_truncated_letters_are_skipped_unless_forced(
    emulator: Emulator, tmp_path: Path
) -> None:
    drain(emulator)
    content = [sales_record("dup-1"), sales_record("dup-1", qty="5")]
    run_input(emulator, "validation", write(tmp_path, "dup.json", content))
    (skipped,) = redrive(dlq(emulator), redrivers(emulator))
    assert (skipped.status, skipped.reason) == ("skipped", "duplicate_order_id")
    (letter,) = list_letters(dlq(emulator))
    assert letter.reason == "duplicate_order_id"
    (forced,) = redrive(dlq(emulator), redrivers(emulator), force=True, dry_run=True)
    assert forced.status == "dry-run"
