"""LateDataReconciler: late orders are recorded and the day's totals corrected, once.

An EventBridge rule (`orders.data` / `late.record`, on a configurable bus) and an
EventBridge Scheduler schedule both start one Express workflow: the event path flags
the late order in a ledger and reconciles it (ledger + the business day's aggregate in
one transaction, then `OrderReconciled`); the schedule's sweep path re-drives ledger
entries still unreconciled after a threshold, so a failed first attempt is repaired by
the next tick. See `components/reconciliation_workflow.py` for why Express.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from .dashboard import (
    Panel,
    build_dashboard,
    custom_panel,
    function_panels,
    queue_panel,
    workflow_panel,
)
from .dead_letter_queue import build_dead_letter_queue
from .express_budget import (
    PLACEHOLDER_QUEUE_URL,
    check_express_budget,
    check_task_settings,
    placeholder_arn,
)
from .iam import Statement, kms_statements
from .lambda_function import (
    FunctionSpec,
    PythonFunction,
    build_python_function,
    invoke_statement,
)
from .reconciliation_workflow import (
    DEFAULT_RETRY_ATTEMPTS,
    FLAG_TIMEOUT_SECONDS,
    RECONCILE_TIMEOUT_SECONDS,
    SWEEP_TIMEOUT_SECONDS,
    reconciliation_definition,
)
from .settings import CommonArgs, resolve_common
from .state_machine import WorkflowType, build_state_machine
from .table import IndexSpec, TableSpec, build_table
from .workflow_trigger import build_rule_trigger, build_schedule_trigger

PENDING_INDEX = "pending"
DEFAULT_SCHEDULE = "rate(15 minutes)"


class LateDataReconcilerArgs(CommonArgs, total=False):
    """Arguments of a LateDataReconciler; every field is optional."""

    event_bus_name: pulumi.Input[str]
    """Bus carrying late records and receiving `OrderReconciled` (default: the default bus)."""
    event_source: str
    """`source` of late-record events (default `orders.data`)."""
    detail_type: str
    """`detail-type` of late-record events (default `late.record`)."""
    schedule_expression: str
    """When the sweep runs: `rate(...)` or `cron(...)` (default every 15 minutes)."""
    schedule_timezone: str
    """IANA time zone of a cron schedule (default UTC)."""
    flexible_window_minutes: int
    """Scheduler may delay a tick by up to this many minutes (default 5; 0 = exact)."""
    sweep_threshold_seconds: int
    """Ledger entries unreconciled for longer than this are re-driven (default 900)."""
    business_timezone: str
    """Time zone whose calendar days the aggregates count (default UTC)."""
    workflow_type: WorkflowType
    """EXPRESS (default, cheapest; every step is idempotent) or STANDARD."""
    sweep_timeout_seconds: int
    """Timeout of the sweep function (default 60; it stops early and the next tick goes
    on). In an EXPRESS workflow every path must end within 5 minutes, retries included:
    a timeout and retry count whose worst case cannot fit is refused."""
    retry_attempts: int
    """Retries of a failed flag or reconcile step (default 2) before it is dead-lettered."""
    deletion_protection: bool
    """Deletion protection of the ledger table (default true)."""


class LateDataReconciler(pulumi.ComponentResource):
    """Records each late order once and corrects its business day's totals once."""

    ledger_table_name: pulumi.Output[str]
    """Ledger of late records (`LATE#<orderId>`) and day aggregates (`DAY#<date>`)."""
    state_machine_arn: pulumi.Output[str]
    """The reconciliation workflow (event and sweep modes)."""
    rule_arn: pulumi.Output[str]
    """Rule matching late-record events."""
    schedule_arn: pulumi.Output[str]
    """Schedule starting the sweep."""
    event_bus_name: pulumi.Output[str]
    """The bus the rule listens on: where producers (and smoke runs) put late-record events."""
    dead_letter_queue_url: pulumi.Output[str]
    """Bad events and deferred reconciliations, with a reason."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the application DLQ."""
    delivery_dead_letter_queue_arn: pulumi.Output[str]
    """Events the rule could not deliver to the workflow."""
    schedule_dead_letter_queue_arn: pulumi.Output[str]
    """Schedule ticks that could not start the workflow."""
    delivery_dead_letter_queue_url: pulumi.Output[str]
    """URL of the rule's delivery dead-letter queue (for replays and smoke runs)."""
    schedule_dead_letter_queue_url: pulumi.Output[str]
    """URL of the schedule's dead-letter queue (for replays and smoke runs)."""

    def __init__(
        self,
        name: str,
        args: LateDataReconcilerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Arguments are checked before anything is registered: a rejected call leaves no trace.
        args = args or LateDataReconcilerArgs()
        common = resolve_common(args)
        schedule_expression = args.get("schedule_expression", DEFAULT_SCHEDULE)
        if not schedule_expression.startswith(("rate(", "cron(", "at(")):
            raise ValueError(
                f"schedule_expression must be rate(...), cron(...) or at(...), "
                f"not {schedule_expression!r}"
            )
        window = args.get("flexible_window_minutes", 5)
        if not 0 <= window <= 1440:
            raise ValueError(f"flexible_window_minutes must be 0..1440, not {window}")
        threshold = args.get("sweep_threshold_seconds", 900)
        if threshold < 60:
            raise ValueError(f"sweep_threshold_seconds must be at least 60, not {threshold}")
        workflow_type = args.get("workflow_type", "EXPRESS")
        if workflow_type not in ("EXPRESS", "STANDARD"):
            raise ValueError(f"workflow_type must be EXPRESS or STANDARD, not {workflow_type!r}")
        workflow_settings = _workflow_settings(name, args, workflow_type)
        timeouts = dict(
            zip(("flag", "reconcile", "sweep"), workflow_settings["timeouts"], strict=True)
        )
        super().__init__("orderflow:index:LateDataReconciler", name, None, opts)

        bus_name = args.get("event_bus_name", "default")
        identity = aws.get_caller_identity_output()
        region = aws.get_region_output()
        bus_arn = pulumi.Output.concat(
            "arn:aws:events:", region.region, ":", identity.account_id, ":event-bus/", bus_name
        )
        ledger = build_table(
            f"{name}-ledger",
            TableSpec(
                hash_key="pk",
                deletion_protection=args.get("deletion_protection", True),
                indexes=(IndexSpec(PENDING_INDEX, "pendingState", "pendingSince"),),
            ),
            common,
            self,
        )
        dlq = build_dead_letter_queue(
            f"{name}-dlq",
            purpose="bad late-record events and deferred reconciliations",
            common=common,
            parent=self,
        )
        kms = kms_statements(common.kms_key_arn)
        send_dead_letters = Statement(
            sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[dlq.arn]
        )
        reconcile_ledger = Statement(
            sid="ReconcileLedger",
            actions=[
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            resources=[ledger.arn],
        )
        publish = Statement(
            sid="PublishReconciled", actions=["events:PutEvents"], resources=[bus_arn]
        )
        environment: dict[str, pulumi.Input[str]] = {
            "LEDGER_TABLE_NAME": ledger.name,
            "PENDING_INDEX_NAME": PENDING_INDEX,
            "EVENT_BUS_NAME": bus_name,
            "EVENT_SOURCE": "orderflow.reconciliation",
            "DEAD_LETTER_QUEUE_URL": dlq.url,
            "SWEEP_THRESHOLD_SECONDS": str(threshold),
            "BUSINESS_TIMEZONE": args.get("business_timezone", "UTC"),
            "PIPELINE_NAME": name,
        }

        def function(
            role: str, handler: str, description: str, grants: list[Statement]
        ) -> PythonFunction:
            return build_python_function(
                f"{name}-{role}",
                FunctionSpec(
                    family="reconciliation",
                    handler=f"runtime.reconciliation.handler.{handler}",
                    description=description,
                    statements=[*grants, *kms],
                    environment=environment,
                    memory_mb=256,
                    timeout_seconds=timeouts[role],
                ),
                common,
                self,
            )

        flag = function(
            "flag",
            "flag_late_record",
            "validate a late record and flag it in the ledger",
            [
                Statement(
                    sid="FlagInLedger",
                    actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                    resources=[ledger.arn],
                ),
                send_dead_letters,
            ],
        )
        reconcile = function(
            "reconcile",
            "reconcile",
            "apply a late record to its day's aggregate, once",
            [reconcile_ledger, publish],
        )
        sweep = function(
            "sweep",
            "sweep",
            "re-drive unreconciled ledger entries and report freshness",
            [
                reconcile_ledger,
                Statement(
                    sid="FindPending",
                    actions=["dynamodb:Query"],
                    resources=[pulumi.Output.concat(ledger.arn, "/index/", PENDING_INDEX)],
                ),
                publish,
            ],
        )
        definition = pulumi.Output.all(flag.arn, reconcile.arn, sweep.arn, dlq.url).apply(
            lambda v: json.dumps(
                reconciliation_definition(
                    flag_arn=v[0],
                    reconcile_arn=v[1],
                    sweep_arn=v[2],
                    dead_letter_queue_url=v[3],
                    **workflow_settings,
                ),
                indent=2,
            )
        )
        workflow = build_state_machine(
            f"{name}-workflow",
            definition=definition,
            workflow_type=workflow_type,
            statements=[
                invoke_statement("InvokeReconciliationFunctions", [flag, reconcile, sweep]),
                send_dead_letters,
                *kms,
            ],
            common=common,
            parent=self,
        )
        rule = build_rule_trigger(
            name,
            event_pattern=json.dumps(
                late_record_pattern(
                    args.get("event_source", "orders.data"), args.get("detail_type", "late.record")
                )
            ),
            description="Late-arriving order records",
            event_bus_name=None if bus_name == "default" else bus_name,
            state_machine_arn=workflow.arn,
            common=common,
            parent=self,
        )
        schedule = build_schedule_trigger(
            f"{name}-sweep-schedule",
            schedule_expression=schedule_expression,
            timezone=args.get("schedule_timezone", "UTC"),
            flexible_window_minutes=window,
            input_json=json.dumps({"mode": "sweep"}),
            state_machine_arn=workflow.arn,
            common=common,
            parent=self,
        )

        build_dashboard(
            name,
            [
                *function_panels([flag, reconcile, sweep]),
                workflow_panel(workflow),
                queue_panel([dlq, rule.dead_letter_queue, schedule.dead_letter_queue]),
                custom_panel(
                    "Late records flagged, reconciled, rejected",
                    "orderflow",
                    f"{name}-flag",
                    ["LateRecordsFlagged", "LateRecordDuplicates", "LateRecordsRejected"],
                ),
                Panel(
                    "Freshness: pending late records and maximum lateness",
                    [
                        ["orderflow", metric, "service", f"{name}-sweep"]
                        for metric in ("LateRecordsPending", "MaxLatenessSeconds")
                    ],
                    stat="Maximum",
                ),
            ],
            common,
            self,
        )

        self.ledger_table_name = ledger.name
        self.state_machine_arn = workflow.arn
        self.rule_arn = rule.rule.arn
        self.schedule_arn = schedule.schedule.arn
        self.event_bus_name = pulumi.Output.from_input(bus_name)
        self.dead_letter_queue_url = dlq.url
        self.dead_letter_queue_arn = dlq.arn
        self.delivery_dead_letter_queue_arn = rule.dead_letter_queue.arn
        self.schedule_dead_letter_queue_arn = schedule.dead_letter_queue.arn
        self.delivery_dead_letter_queue_url = rule.dead_letter_queue.url
        self.schedule_dead_letter_queue_url = schedule.dead_letter_queue.url
        self.register_outputs(
            {
                "ledger_table_name": self.ledger_table_name,
                "state_machine_arn": self.state_machine_arn,
                "rule_arn": self.rule_arn,
                "schedule_arn": self.schedule_arn,
                "event_bus_name": self.event_bus_name,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "delivery_dead_letter_queue_arn": self.delivery_dead_letter_queue_arn,
                "schedule_dead_letter_queue_arn": self.schedule_dead_letter_queue_arn,
                "delivery_dead_letter_queue_url": self.delivery_dead_letter_queue_url,
                "schedule_dead_letter_queue_url": self.schedule_dead_letter_queue_url,
            }
        )


def _workflow_settings(
    name: str, args: LateDataReconcilerArgs, workflow_type: str
) -> dict[str, Any]:
    """The workflow's settings, refused when an Express path's worst case cannot fit."""
    sweep_timeout = args.get("sweep_timeout_seconds", SWEEP_TIMEOUT_SECONDS)
    attempts = args.get("retry_attempts", DEFAULT_RETRY_ATTEMPTS)
    check_task_settings("sweep_timeout_seconds", sweep_timeout, "retry_attempts", attempts)
    settings: dict[str, Any] = {
        "max_attempts": attempts,
        "timeouts": (FLAG_TIMEOUT_SECONDS, RECONCILE_TIMEOUT_SECONDS, sweep_timeout),
    }
    arns = [placeholder_arn(role) for role in ("flag", "reconcile", "sweep")]
    check_express_budget(
        f"LateDataReconciler {name!r}",
        reconciliation_definition(
            flag_arn=arns[0],
            reconcile_arn=arns[1],
            sweep_arn=arns[2],
            dead_letter_queue_url=PLACEHOLDER_QUEUE_URL,
            **settings,
        ),
        workflow_type,
        dict(zip(arns, settings["timeouts"], strict=True)),
    )
    return settings


def late_record_pattern(source: str, detail_type: str) -> dict[str, list[str]]:
    """The seed's pattern: `source` and `detail-type` of late-record events."""
    return {"source": [source], "detail-type": [detail_type]}
