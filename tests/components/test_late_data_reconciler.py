"""LateDataReconciler under Pulumi mocks: rule, schedule, workflow, roles, DLQs, alarms."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from policy_checks import assert_least_privilege, role_statements
from pulumi_harness import PulumiHarness, Stack

from components.late_data_reconciler import LateDataReconciler, LateDataReconcilerArgs
from components.reconciliation_workflow import reconciliation_definition
from emulator.states import StateMachineInterpreter, TaskContext

LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
SM = "aws:sfn/stateMachine:StateMachine"
SEED_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "source": "orders.data",
    "detail-type": "late.record",
    "account": "123456789012",
    "time": "2026-11-22T08:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"orderId": "A1080", "amount": 420.5, "reason": "arrived_after_cutoff"},
}


def build(harness: PulumiHarness, args: LateDataReconcilerArgs | None = None) -> Stack:
    return harness.run(
        lambda: LateDataReconciler(
            "ld", {"powertools_layer_arn": LAYER, "alarm_topic_arn": TOPIC, **(args or {})}
        )
    )


@pytest.fixture(scope="module")
def stack(pulumi_harness: PulumiHarness) -> Stack:
    return build(pulumi_harness)


def definition(stack: Stack) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(stack.one(SM, "ld-workflow").inputs["definition"]))


def test_rule_listens_on_the_default_bus_for_the_seed_pattern(stack: Stack) -> None:
    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "ld-rule")
    assert rule.inputs.get("eventBusName") is None
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["orders.data"],
        "detail-type": ["late.record"],
    }


def test_rule_starts_only_the_workflow_with_retries_and_a_dead_letter_queue(stack: Stack) -> None:
    target = stack.one("aws:cloudwatch/eventTarget:EventTarget", "ld-target")
    sm_arn = stack.output_of(SM, "ld-workflow", "arn")
    assert target.inputs["arn"] == sm_arn
    assert target.inputs["retryPolicy"] == {
        "maximumEventAgeInSeconds": 86_400,
        "maximumRetryAttempts": 185,
    }
    assert target.inputs["deadLetterConfig"] == {
        "arn": stack.output_of(QUEUE, "ld-delivery-dlq", "arn")
    }
    grants = role_statements(stack, "ld-events-role")
    assert grants["StartWorkflow"]["Resource"] == [sm_arn]
    assert set(grants) == {"StartWorkflow"}


def test_schedule_starts_a_sweep_with_window_retries_and_dead_letter_queue(stack: Stack) -> None:
    schedule = stack.one("aws:scheduler/schedule:Schedule", "ld-sweep-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(15 minutes)"
    assert schedule.inputs["scheduleExpressionTimezone"] == "UTC"
    assert schedule.inputs["flexibleTimeWindow"] == {
        "mode": "FLEXIBLE",
        "maximumWindowInMinutes": 5,
    }
    target = schedule.inputs["target"]
    assert target["arn"] == stack.output_of(SM, "ld-workflow", "arn")
    assert json.loads(target["input"]) == {"mode": "sweep"}
    assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 3600, "maximumRetryAttempts": 10}
    dlq_arn = stack.output_of(QUEUE, "ld-sweep-schedule-dlq", "arn")
    assert target["deadLetterConfig"] == {"arn": dlq_arn}
    grants = role_statements(stack, "ld-sweep-schedule-scheduler-role")
    assert grants["StartWorkflow"]["Resource"] == [stack.output_of(SM, "ld-workflow", "arn")]
    assert grants["SendDeadLetters"]["Resource"] == [dlq_arn]
    trust = stack.one("aws:iam/role:Role", "ld-sweep-schedule-scheduler-role").policy(
        "assumeRolePolicy"
    )
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}


def test_workflow_is_express_and_reconciles_with_jittered_retries_and_a_catch(stack: Stack) -> None:
    machine = stack.one(SM, "ld-workflow")
    assert machine.inputs["type"] == "EXPRESS"
    states = definition(stack)["States"]
    assert states["RouteByMode"]["Choices"][0] == {
        "And": [
            {"Variable": "$.mode", "IsPresent": True},
            {"Variable": "$.mode", "StringEquals": "sweep"},
        ],
        "Next": "Sweep",
    }
    reconcile = states["Reconcile"]
    assert reconcile["Parameters"]["FunctionName"] == stack.output_of(FN, "ld-reconcile", "arn")
    assert all(r["JitterStrategy"] == "FULL" and r["MaxAttempts"] <= 6 for r in reconcile["Retry"])
    assert reconcile["Catch"][0]["Next"] == "DeadLetterReconcile"
    assert states["DeadLetterReconcile"]["Parameters"]["QueueUrl"] == stack.output_of(
        QUEUE, "ld-dlq", "url"
    )
    assert states["FlagLateOrder"]["Parameters"]["FunctionName"] == stack.output_of(
        FN, "ld-flag", "arn"
    )
    assert states["Sweep"]["Parameters"]["FunctionName"] == stack.output_of(FN, "ld-sweep", "arn")
    for metric in ("executionsfailed", "executionstimedout", "executionthrottled"):
        stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"ld-workflow-{metric}-alarm")


def test_ledger_table_is_on_demand_encrypted_recoverable_with_a_pending_index(stack: Stack) -> None:
    table = stack.one("aws:dynamodb/table:Table", "ld-ledger")
    assert table.inputs["hashKey"] == "pk"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is True
    (index,) = table.inputs["globalSecondaryIndexes"]
    assert index["name"] == "pending"
    assert index["keySchemas"] == [
        {"attributeName": "pendingState", "keyType": "HASH"},
        {"attributeName": "pendingSince", "keyType": "RANGE"},
    ]


def test_functions_are_scoped_to_the_ledger_bus_and_queue(stack: Stack) -> None:
    ledger_arn = stack.output_of("aws:dynamodb/table:Table", "ld-ledger", "arn")
    bus_arn = "arn:aws:events:us-east-1:123456789012:event-bus/default"
    flag = role_statements(stack, "ld-flag-role")
    assert flag["FlagInLedger"]["Resource"] == [ledger_arn]
    assert flag["SendDeadLetters"]["Resource"] == [stack.output_of(QUEUE, "ld-dlq", "arn")]
    reconcile = role_statements(stack, "ld-reconcile-role")
    assert reconcile["ReconcileLedger"]["Resource"] == [ledger_arn]
    assert reconcile["PublishReconciled"]["Resource"] == [bus_arn]
    sweep = role_statements(stack, "ld-sweep-role")
    assert sweep["FindPending"]["Resource"] == [f"{ledger_arn}/index/pending"]
    assert sweep["FindPending"]["Action"] == ["dynamodb:Query"]
    workflow = role_statements(stack, "ld-workflow-role")
    assert len(workflow["InvokeReconciliationFunctions"]["Resource"]) == 6
    assert (
        sum(assert_least_privilege(p) for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")) >= 15
    )


def test_every_queue_is_alarmed(stack: Stack) -> None:
    queues = {q.name for q in stack.of_type(QUEUE)}
    assert queues == {"ld-dlq", "ld-delivery-dlq", "ld-sweep-schedule-dlq"}
    for queue in queues:
        alarm = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{queue}-depth-alarm")
        assert alarm.inputs["alarmActions"] == [TOPIC]


def test_custom_bus_schedule_and_standard_workflow(pulumi_harness: PulumiHarness) -> None:
    stack = build(
        pulumi_harness,
        {
            "event_bus_name": "orders",
            "schedule_expression": "cron(0 2 * * ? *)",
            "schedule_timezone": "Europe/Lisbon",
            "flexible_window_minutes": 0,
            "workflow_type": "STANDARD",
        },
    )
    assert (
        stack.one("aws:cloudwatch/eventRule:EventRule", "ld-rule").inputs["eventBusName"]
        == "orders"
    )
    assert (
        stack.one("aws:cloudwatch/eventTarget:EventTarget", "ld-target").inputs["eventBusName"]
        == "orders"
    )
    schedule = stack.one("aws:scheduler/schedule:Schedule", "ld-sweep-schedule")
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule.inputs["scheduleExpressionTimezone"] == "Europe/Lisbon"
    assert stack.one(SM, "ld-workflow").inputs["type"] == "STANDARD"
    grants = role_statements(stack, "ld-reconcile-role")
    assert grants["PublishReconciled"]["Resource"] == [
        "arn:aws:events:us-east-1:123456789012:event-bus/orders"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"schedule_expression": "every 5 minutes"}, "schedule_expression"),
        ({"flexible_window_minutes": -1}, "flexible_window_minutes"),
        ({"sweep_threshold_seconds": 5}, "sweep_threshold_seconds"),
        ({"workflow_type": "FAST"}, "workflow_type"),
    ],
)
def test_invalid_arguments_are_rejected(
    pulumi_harness: PulumiHarness, args: dict[str, Any], message: str
) -> None:
    raised: list[ValueError] = []

    def program() -> None:
        with pytest.raises(ValueError, match=message) as info:
            LateDataReconciler("bad", {"powertools_layer_arn": LAYER, **args})  # type: ignore[arg-type]
        raised.append(info.value)

    assert list(pulumi_harness.run(program)) == []
    assert raised


def test_workflow_routes_events_and_sweeps_on_the_interpreter() -> None:
    """An event (no `mode`) must reach FlagLateOrder; `{"mode": "sweep"}` the sweep."""
    calls: list[str] = []

    class Dispatcher:
        def invoke(
            self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext
        ) -> Any:
            calls.append(parameters["FunctionName"])
            if parameters["FunctionName"] == "flag":
                return {"Payload": {"status": "flagged", "ledgerKey": "LATE#A1080"}}
            return {"Payload": {"outcome": "reconciled"}}

    definition = reconciliation_definition(
        flag_arn="flag", reconcile_arn="reconcile", sweep_arn="sweep", dead_letter_queue_url="q"
    )
    machine = StateMachineInterpreter(
        definition,
        dispatcher=Dispatcher(),
        role_arn="arn:aws:iam::123456789012:role/r",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:ld",
        workflow_type="EXPRESS",
    )
    assert machine.execute(SEED_EVENT, "event").status == "SUCCEEDED"
    assert machine.execute({"mode": "sweep"}, "tick").status == "SUCCEEDED"
    assert calls == ["flag", "reconcile", "sweep"]
