"""LateDataReconciler end to end: events on the bus, Express workflows, the schedule's sweep.

One dev stack per module. The tests share it and run in file order: the seed first,
then replays and failures with their own order ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_support import ROOT

from components.reconciliation_workflow import reconciliation_definition
from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.report import table_items
from emulator.scenarios import SCENARIOS, Outcome
from emulator.states import StateMachineInterpreter, TaskContext

pytestmark = pytest.mark.e2e

SCENARIO = SCENARIOS["late-data"]
SEED = ROOT / "samples" / "late-data" / "seed-events.json"
MACHINE = "aws:sfn/stateMachine:StateMachine"
Run = tuple[dict[str, Any], Outcome]


@pytest.fixture(scope="module")
def late() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.deploy(ROOT, "dev")
        yield emulator


@pytest.fixture(scope="module")
def seed_run(late: Emulator) -> Run:
    return run_scenario(late, SCENARIO, SEED)


def _run(emulator: Emulator, tmp_path: Path, items: list[dict[str, Any]]) -> Run:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(items))
    return run_scenario(emulator, SCENARIO, path)


def _event(order_id: str, amount: float, time: str) -> dict[str, Any]:
    return {
        "event": {
            "source": "orders.data",
            "detail-type": "late.record",
            "time": time,
            "detail": {"orderId": order_id, "amount": amount, "reason": "arrived_after_cutoff"},
        }
    }


def _item(report: dict[str, Any], pk: str) -> dict[str, Any] | None:
    return next((i for i in report["tables"]["late-data-ledger"] if i["pk"] == pk), None)


def _reconciled(report: dict[str, Any], order_id: str) -> list[dict[str, Any]]:
    return [e for e in report["events"] if e["detail"]["orderId"] == order_id]


@contextmanager
def without_action(emulator: Emulator, policy: str, action: str) -> Iterator[None]:
    """Remove `action` from a deployed role policy (the guard reads policies per call)."""
    state = emulator.stack.one("aws:iam/rolePolicy:RolePolicy", policy).state
    iam = emulator.client("iam")
    original = iam.get_role_policy(RoleName=state["role"], PolicyName=state["name"])
    document = original["PolicyDocument"]
    stripped = json.loads(json.dumps(document))
    for statement in stripped["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        statement["Action"] = [a for a in actions if a != action] or ["none:NoAction"]
    iam.put_role_policy(
        RoleName=state["role"], PolicyName=state["name"], PolicyDocument=json.dumps(stripped)
    )
    try:
        yield
    finally:
        iam.put_role_policy(
            RoleName=state["role"], PolicyName=state["name"], PolicyDocument=json.dumps(document)
        )


# the component's definition as written ---------------------------------------------------
class _Recorder:
    """A dispatcher that answers every task with a flag result and records the calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def invoke(self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext) -> Any:
        self.calls.append(context.state_name)
        return {"Payload": {"status": "flagged", "orderId": "A1", "ledgerKey": "LATE#A1"}}


def test_an_event_without_mode_takes_the_event_path() -> None:
    """An EventBridge event has no `mode`; a Choice reading it unguarded fails in AWS."""
    definition = reconciliation_definition(
        flag_arn="arn:aws:lambda:us-east-1:123456789012:function:flag",
        reconcile_arn="arn:aws:lambda:us-east-1:123456789012:function:reconcile",
        sweep_arn="arn:aws:lambda:us-east-1:123456789012:function:sweep",
        dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    )
    recorder = _Recorder()
    machine = StateMachineInterpreter(
        definition,
        dispatcher=recorder,
        role_arn="arn:aws:iam::123456789012:role/workflow",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:late",
        workflow_type="EXPRESS",
    )
    result = machine.execute({"id": "e-1", "detail": {"orderId": "A1", "amount": 1}}, "e-1")
    assert (result.status, result.error) == ("SUCCEEDED", None), result.cause
    assert recorder.calls == ["FlagLateOrder", "Reconcile"]


# the seed ------------------------------------------------------------------------------
def test_the_seed_reconciles_a1080_once(seed_run: Run) -> None:
    report, outcome = seed_run
    entry = _item(report, "LATE#A1080")
    assert entry is not None
    assert entry["status"] == "reconciled"
    assert "pendingState" not in entry  # published: out of the sweep's index
    day = _item(report, "DAY#2025-01-15")
    assert day is not None
    assert (day["orderCount"], day["amount"]) == (1, 420.5)
    (published,) = _reconciled(report, "A1080")
    assert published["detail-type"] == "OrderReconciled"
    assert published["detail"]["amount"] == "420.5"
    assert outcome.problems == []


def test_the_seed_duplicate_and_bad_event_are_accounted_for(seed_run: Run) -> None:
    report, outcome = seed_run
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (3, 2, 1)
    assert outcome.reasons == {"negative_amount": 1}
    assert any("duplicate" in line and "nothing changed" in line for line in outcome.details)
    (letter,) = report["queues"]["late-data-dlq"]
    assert letter["reason"] == "negative_amount"
    assert letter["record"]["detail"]["orderId"] == "A1081"
    assert letter["source"]["eventId"] == letter["record"]["id"]
    assert _item(report, "LATE#A1081") is None


def test_the_seed_tick_sweeps_nothing_and_nothing_fails(seed_run: Run) -> None:
    report, outcome = seed_run
    (tick,) = [line for line in outcome.details if line.startswith("tick")]
    assert tick.endswith("swept pending 0, reconciled 0, published 0, failed 0")
    assert report["invocations"]["late-data-sweep"] >= 1
    assert {e["status"] for e in report["executions"]} == {"SUCCEEDED"}
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert report["queues"]["late-data-delivery-dlq"] == []
    assert report["queues"]["late-data-sweep-schedule-dlq"] == []


def test_a_replay_with_new_event_ids_changes_nothing(
    late: Emulator, seed_run: Run, tmp_path: Path
) -> None:
    before = table_items(_ledger_name(late))
    report, outcome = _run(late, tmp_path, [_event("A1080", 420.5, "2025-01-15T10:00:00Z")])
    assert report["tables"]["late-data-ledger"] == before
    assert report["events"] == []
    assert (outcome.stored, outcome.dead_lettered, outcome.problems) == (1, 0, [])
    assert report["errors"] == []


def test_a_malformed_event_is_dead_lettered_with_its_reason(
    late: Emulator, seed_run: Run, tmp_path: Path
) -> None:
    bad = {"event": {"source": "orders.data", "detail-type": "late.record", "detail": {}}}
    report, outcome = _run(late, tmp_path, [bad])
    assert outcome.reasons == {"missing_order_id": 1}
    assert outcome.problems == []
    assert [b["reason"] for b in report["queues"]["late-data-dlq"]][-1] == "missing_order_id"


# Express -------------------------------------------------------------------------------
def test_rule_and_schedule_start_express_executions(late: Emulator, seed_run: Run) -> None:
    machine = late.stack.output_of(MACHINE, "late-data-workflow", "arn")
    runs = [r for r in late.states.executions if r.state_machine_arn == machine]
    assert runs
    assert all(":express:" in r.arn for r in runs)
    sfn = late.client("stepfunctions")
    # As in AWS, Express executions are not listed nor described.
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    with pytest.raises(ClientError, match="Execution Does Not Exist"):
        sfn.describe_execution(executionArn=runs[0].arn)


def test_express_start_execution_has_no_name_idempotency(late: Emulator) -> None:
    machine = late.stack.output_of(MACHINE, "late-data-workflow", "arn")
    sfn = late.client("stepfunctions")
    first, second = (
        sfn.start_execution(stateMachineArn=machine, name="sweep-now", input='{"mode": "sweep"}')
        for _ in range(2)
    )
    assert first["executionArn"] != second["executionArn"]
    assert ":express:" in first["executionArn"]
    known = len(late.states.executions)
    late.run_until_idle()
    assert [r.status for r in late.states.executions[known:]] == ["SUCCEEDED", "SUCCEEDED"]


# a failed first attempt, repaired by the schedule -----------------------------------------
def test_a_deferred_reconciliation_is_swept_exactly_once(late: Emulator, tmp_path: Path) -> None:
    role = late.stack.output_of("aws:iam/role:Role", "late-data-reconcile-role", "arn")
    with without_action(late, "late-data-reconcile-policy", "dynamodb:UpdateItem"):
        report, outcome = _run(late, tmp_path, [_event("A2000", 10.25, "2025-02-01T08:00:00Z")])
    entry = _item(report, "LATE#A2000")
    assert entry is not None
    assert (entry["status"], entry["pendingState"]) == ("flagged", "PENDING")
    assert _item(report, "DAY#2025-02-01") is None
    (letter,) = [b for b in report["queues"]["late-data-dlq"] if b["id"] == "LATE#A2000"]
    assert letter["reason"] == "reconcile_deferred"
    assert "UpdateItem" in letter["message"]
    assert report["events"] == []
    # The failed Express execution is visible: in `executions` and, with its error, `errors`.
    assert [e["status"] for e in report["executions"]] == ["FAILED"]
    assert any(e.get("error") == "ReconcileDeferred" for e in report["errors"])
    assert {"principal": role, "action": "dynamodb:UpdateItem"} in [
        {k: d[k] for k in ("principal", "action")} for d in report["iam_denied"]
    ]
    assert outcome.problems == []

    report, outcome = _run(late, tmp_path, [{"tick": "schedule"}])
    entry = _item(report, "LATE#A2000")
    assert entry is not None
    assert entry["status"] == "reconciled"
    day = _item(report, "DAY#2025-02-01")
    assert day is not None
    assert (day["orderCount"], day["amount"]) == (1, 10.25)
    assert len(_reconciled(report, "A2000")) == 1
    assert (outcome.problems, report["errors"], report["iam_denied"]) == ([], [], [])

    report, outcome = _run(late, tmp_path, [{"tick": "schedule"}])
    assert report["events"] == []
    assert _item(report, "DAY#2025-02-01") == day


def test_a_tick_the_role_may_not_deliver_goes_to_the_schedule_dlq(
    late: Emulator, tmp_path: Path
) -> None:
    role = late.stack.output_of(
        "aws:iam/role:Role", "late-data-sweep-schedule-scheduler-role", "arn"
    )
    schedule = late.stack.output_of(
        "aws:scheduler/schedule:Schedule", "late-data-sweep-schedule", "arn"
    )
    with without_action(late, "late-data-sweep-schedule-scheduler-policy", "states:StartExecution"):
        report, _ = _run(late, tmp_path, [{"tick": "schedule"}])
    assert report["executions"] == []
    assert {d["action"] for d in report["iam_denied"]} == {"states:StartExecution"}
    assert {d["principal"] for d in report["iam_denied"]} == {role}
    parked = report["queues"]["late-data-sweep-schedule-dlq"]
    assert parked
    assert all(body == {"mode": "sweep"} for body in parked)
    url = late.stack.output_of("aws:sqs/queue:Queue", "late-data-sweep-schedule-dlq", "url")
    message = late.client("sqs").receive_message(QueueUrl=url, MessageAttributeNames=["All"])[
        "Messages"
    ][0]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "AccessDeniedException"
    assert attributes["SCHEDULE_ARN"] == schedule
    assert attributes["TARGET_ARN"] == late.stack.output_of(MACHINE, "late-data-workflow", "arn")
    assert attributes["RETRY_ATTEMPTS"] == "0"
    assert {"SCHEDULED_TIME", "EXECUTION_ID", "ERROR_MESSAGE"} <= set(attributes)
    assert any(e["kind"] == "schedule" for e in report["errors"])


# what was deployed ----------------------------------------------------------------------
def test_the_schedule_is_deployed_as_declared(late: Emulator) -> None:
    name = late.stack.output_of(
        "aws:scheduler/schedule:Schedule", "late-data-sweep-schedule", "name"
    )
    schedule = late.client("scheduler").get_schedule(Name=name)
    assert schedule["ScheduleExpression"] == "rate(15 minutes)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
    target = schedule["Target"]
    assert json.loads(target["Input"]) == {"mode": "sweep"}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10}
    assert target["DeadLetterConfig"]["Arn"] == late.stack.output_of(
        "aws:sqs/queue:Queue", "late-data-sweep-schedule-dlq", "arn"
    )
    index = late.client("dynamodb").describe_table(TableName=_ledger_name(late))["Table"][
        "GlobalSecondaryIndexes"
    ][0]
    assert index["IndexName"] == "pending"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["pendingState", "pendingSince"]


def test_no_dev_stack_definition_uses_jsonata(late: Emulator) -> None:
    def languages(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("QueryLanguage"), str):
                yield node["QueryLanguage"]
            for value in node.values():
                yield from languages(value)
        elif isinstance(node, list):
            for value in node:
                yield from languages(value)

    machines = late.stack.of_type(MACHINE)
    assert len(machines) >= 3
    for machine in machines:
        found = set(languages(json.loads(machine.state["definition"])))
        assert found <= {"JSONPath"}, f"{machine.name} uses {found}"


def _ledger_name(emulator: Emulator) -> str:
    return str(emulator.stack.output_of("aws:dynamodb/table:Table", "late-data-ledger", "name"))
