"""`orderflow_ops replay` for the LateDataReconciler against the emulator.

One emulator for the module (the LateDataReconciler alone, dev settings). The operator's
clients are the emulator's own (moto-backed, acting as the account); the accounting is
the fault suite's late-data adapter of the conservation invariant (`account`): each
input event in its ledger entry or in one dead letter, each valid order counted once in
its `DAY#` aggregate, `OrderReconciled` never published twice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fault_support import FUNCTION, QUEUE, STATE_MACHINE, clients, deployed, output, snapshot, write
from test_faults_late_data import DEFERRED, LEDGER, PIPELINE, account, late, published, send, tick

from emulator.engine import Emulator
from orderflow_ops.cli import main
from orderflow_ops.clients import build_redrivers
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.redrivers import Redriver
from orderflow_ops.replay import list_letters, redrive

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed(PIPELINE) as emulator:
        yield emulator


def dlq(emulator: Emulator) -> DeadLetterQueue:
    return DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, "late-data-dlq", "url"), wait_seconds=0
    )


def redrivers(emulator: Emulator) -> list[Redriver]:
    workflow = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    return build_redrivers(clients(emulator), pipeline=PIPELINE, state_machine_arn=workflow)


def stack_outputs(emulator: Emulator, tmp_path: Path) -> Path:
    """What `pulumi stack output --json` prints for the late-data exports."""
    outputs = {
        "lateDataDeadLetterQueueUrl": output(emulator, QUEUE, "late-data-dlq", "url"),
        "lateDataStateMachineArn": output(emulator, STATE_MACHINE, "late-data-workflow", "arn"),
    }
    return write(tmp_path, "outputs.json", outputs)


def cli(emulator: Emulator, outputs: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        [
            "replay",
            *argv,
            "--pipeline",
            PIPELINE,
            "--stack-outputs",
            str(outputs),
            "--wait-seconds",
            "0",
        ],
        clients=lambda _: clients(emulator),
        out=out,
    )
    return code, out.getvalue()


@contextmanager
def without_action(emulator: Emulator, policy: str, action: str) -> Iterator[None]:
    """Remove `action` from a deployed role policy (the IAM guard reads policies per call)."""
    state = emulator.stack.one("aws:iam/rolePolicy:RolePolicy", policy).state
    iam = emulator.client("iam")
    document = iam.get_role_policy(RoleName=state["role"], PolicyName=state["name"])[
        "PolicyDocument"
    ]
    stripped = json.loads(json.dumps(document))
    for statement in stripped["Statement"]:
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        statement["Action"] = [a for a in actions if a != action] or ["none:NoAction"]
    iam.put_role_policy(
        RoleName=state["role"], PolicyName=state["name"], PolicyDocument=json.dumps(stripped)
    )
    try:
        yield
    finally:  # the operator's fix
        iam.put_role_policy(
            RoleName=state["role"], PolicyName=state["name"], PolicyDocument=json.dumps(document)
        )


def ledger_item(emulator: Emulator, pk: str) -> dict[str, Any] | None:
    items = snapshot(emulator, PIPELINE)["tables"][LEDGER]
    return next((i for i in items if i["pk"] == pk), None)


def test_a_deferred_reconciliation_is_listed_inspected_and_redriven_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    p, day = "R-", "2033-01-10"
    orders = {f"{p}1": ("42.5", day)}
    outputs = stack_outputs(emulator, tmp_path)
    reconcile = output(emulator, FUNCTION, "late-data-reconcile", "arn")
    with without_action(emulator, "late-data-reconcile-policy", "dynamodb:UpdateItem"):
        run, received = send(
            emulator, [late({"orderId": f"{p}1", "amount": "42.5"}, time=f"{day}T10:00:00Z")]
        )
        assert {d["action"] for d in run.report["iam_denied"]} == {"dynamodb:UpdateItem"}
        account(emulator, received, p, orders, settled=False)

        # list: the letter, nothing consumed.
        code, text = cli(emulator, outputs, "list", "--json")
        assert code == 0
        (listed,) = [x for x in json.loads(text) if x["id"] == f"LATE#{p}1"]
        assert (listed["kind"], listed["reason"]) == ("dead_letter", DEFERRED)
        assert listed["source"] == {"ledgerKey": f"LATE#{p}1"}
        code, text = cli(emulator, outputs, "inspect", f"LATE#{p}1")
        assert code == 0
        detail = json.loads(text)
        assert detail["payload"]["ledgerKey"] == f"LATE#{p}1"
        assert detail["payload"]["orderId"] == f"{p}1"
        assert "UpdateItem" in detail["message"]
        (letter,) = [x for x in list_letters(dlq(emulator)) if x.id == f"LATE#{p}1"]
        assert letter.queued is not None
        body = letter.queued.body

        # dry run: the plan (the workflow's Reconcile function), nothing changed.
        before = snapshot(emulator, PIPELINE)
        invocations = len(emulator.lambdas.invocations)
        code, text = cli(emulator, outputs, "redrive", "--dry-run", "--json", "--id", letter.id)
        assert code == 0
        (planned,) = json.loads(text)
        assert (planned["status"], planned["action"]) == ("dry-run", "invoke")
        assert planned["target"] == reconcile
        emulator.run_until_idle()
        assert snapshot(emulator, PIPELINE) == before
        assert len(emulator.lambdas.invocations) == invocations

        # before the fix: the redrive fails and the letter stays, one copy.
        code, text = cli(emulator, outputs, "redrive", "--json", "--id", letter.id)
        assert code == 1
        (failed,) = json.loads(text)
        assert (failed["status"], failed["outcome"], failed["deleted"]) == (
            "failed",
            "function error",
            0,
        )
        assert [x.id for x in list_letters(dlq(emulator))].count(letter.id) == 1
        entry = ledger_item(emulator, f"LATE#{p}1")
        assert entry is not None
        assert entry["status"] == "flagged"

    # The permission is back: redrive reconciles and publishes once, and deletes the letter.
    code, text = cli(emulator, outputs, "redrive", "--json", "--reason", DEFERRED)
    assert code == 0
    (done,) = [r for r in json.loads(text) if r["id"] == letter.id]
    assert (done["status"], done["outcome"], done["deleted"]) == ("redriven", "invoked", 1)
    emulator.run_until_idle()
    assert [x for x in list_letters(dlq(emulator)) if x.id == letter.id] == []
    books, _ = account(emulator, received, p, orders)
    assert books.deferred == []
    day_item = ledger_item(emulator, "DAY#" + day)

    # The same letter again, delivered twice: one redrive, both copies gone, nothing new.
    for _ in range(2):
        emulator.client("sqs").send_message(QueueUrl=dlq(emulator).queue_url, MessageBody=body)
    (again,) = redrive(dlq(emulator), redrivers(emulator), ids=[letter.id])
    assert (again.status, again.copies, again.deleted) == ("redriven", 2, 2)
    emulator.run_until_idle()
    assert ledger_item(emulator, "DAY#" + day) == day_item
    assert published(emulator)[f"{p}1"] == 1
    # Nor does the sweep find anything left to do.
    swept = tick(emulator)
    assert "pending 0, reconciled 0, published 0, failed 0" in swept.outcome.details[0]
    account(emulator, received, p, orders)


def test_a_rejected_event_redriven_unchanged_comes_back_as_the_same_letter(
    emulator: Emulator,
) -> None:
    p = "B-"
    _, received = send(emulator, [late({"orderId": f"{p}1", "amount": -4})])
    books, _ = account(emulator, received, p, {})
    (letter,) = books.letters
    assert letter["reason"] == "negative_amount"
    for _ in range(2):
        (report,) = redrive(dlq(emulator), redrivers(emulator), ids=[letter["id"]])
        assert (report.status, report.outcome, report.deleted) == ("redriven", "started", 1)
        emulator.run_until_idle()
        # The workflow got the event verbatim (its id too): the same letter, one copy.
        copies = [x for x in list_letters(dlq(emulator)) if x.id == letter["id"]]
        assert len(copies) == 1
        assert copies[0].payload == letter["record"]
        books, _ = account(emulator, received, p, {})
        assert [b["id"] for b in books.letters] == [letter["id"]]
    assert ledger_item(emulator, f"LATE#{p}1") is None
