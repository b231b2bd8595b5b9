"""The LateDataReconciler scenario on the emulator: the shared runner's, with the
emulator's Scheduler firing the ticks.

Feeding and accounting are `orderflow_ops.scenarios.late_data`'s, through the emulator's
boto3 clients and the component's outputs (what `smoke` runs on AWS), with two things
only the emulator can do:
- a tick advances the virtual clock past the sweep threshold to the schedule's next
  occurrence, so everything flagged before it is "pending long enough" for the sweep;
  every occurrence the clock passes fires through the emulated Scheduler (the schedule's
  role, retries and DLQ), as it would in AWS;
- after each item the emulator runs until idle, so items take effect in order.

Report: the generic one, except `events`: the `OrderReconciled` events a consumer of the
bus receives. The scenario subscribes its own rule and SQS queue to the bus (not the
component's, so not in `queues`) and reports what reached that queue during the run;
the accounting counts publications from it (and so catches one published twice). The
executions each event started (Express included, which AWS cannot list) are attached
to the fed events for tests; the accounting never reads them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from emulator.report import queue_bodies
from emulator.scenarios.base import Outcome, Scenario
from emulator.services.stepfunctions import ExecutionRecord
from orderflow_ops.scenarios.base import PipelineOutputs, ScenarioClients
from orderflow_ops.scenarios.late_data import Fed as RunnerFed
from orderflow_ops.scenarios.late_data import LateDataScenario as Runner
from orderflow_ops.scenarios.late_data import (
    PutEvent,
    SweepRun,
    TickFed,
    check_aggregates,
    put_entry,
    read_input,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator

__all__ = ["FedEvent", "LateDataScenario", "check_aggregates", "put_entry", "read_input"]

FUNCTION: Final = "aws:lambda/function:Function"
CAPTURE_NAME: Final = "emulator-late-data-reconciled"
"""The scenario's own rule and queue receiving `OrderReconciled` from the bus."""
RECONCILED_DETAIL_TYPE: Final = "OrderReconciled"
TICK_MARGIN_SECONDS: Final = 1.0
"""Beyond the threshold: pending times have millisecond precision and compare strictly."""


@dataclass
class FedEvent(PutEvent):
    """One input event, with the execution it started (the emulator can see it)."""

    execution: ExecutionRecord | None = None


@dataclass
class Fed:
    emulator: Emulator
    runner: RunnerFed
    events: list[FedEvent]
    capture_queue: str
    capture_start: int
    reconciled_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ticks(self) -> list[TickFed]:
        return self.runner.ticks


class LateDataScenario(Scenario):
    name = "late-data"
    component_type = "orderflow:index:LateDataReconciler"
    component_name = "late-data"
    samples = "samples/late-data"

    def runner(self, emulator: Emulator) -> Runner:
        """The shared runner, ticking with the emulator's Scheduler, idle between items."""

        def tick(clients: ScenarioClients, outputs: PipelineOutputs) -> list[SweepRun]:
            return self._tick(emulator, outputs)

        return Runner(tick=tick, between=emulator.run_until_idle)

    def _environment(self, emulator: Emulator, role: str) -> dict[str, str]:
        state = self.resource(emulator, FUNCTION, role).state
        return dict((state.get("environment") or {}).get("variables") or {})

    def capture(self, emulator: Emulator) -> str:
        """The scenario's rule → queue receiving `OrderReconciled` (created once); its name."""
        variables = self._environment(emulator, "reconcile")
        bus = variables.get("EVENT_BUS_NAME") or "default"
        events, sqs = emulator.client("events"), emulator.client("sqs")
        try:
            events.describe_rule(Name=CAPTURE_NAME, EventBusName=bus)
            return CAPTURE_NAME
        except ClientError:
            pass
        pattern = {
            "source": [variables.get("EVENT_SOURCE") or "orderflow.reconciliation"],
            "detail-type": [RECONCILED_DETAIL_TYPE],
        }
        rule_arn = events.put_rule(
            Name=CAPTURE_NAME, EventBusName=bus, EventPattern=json.dumps(pattern)
        )["RuleArn"]
        url = sqs.create_queue(QueueName=CAPTURE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(
            Rule=CAPTURE_NAME, EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}]
        )
        return CAPTURE_NAME

    # feeding --------------------------------------------------------------------------
    def feed(self, emulator: Emulator, path: Path) -> Fed:
        read_input(path)  # a bad input is refused before anything is created
        capture = self.capture(emulator)
        start = len(queue_bodies(capture))
        known = len(emulator.states.executions)
        fed = self.runner(emulator).feed(self.clients(emulator), self.outputs(emulator), path)
        machine = self.outputs(emulator)["state_machine_arn"]
        started = [
            record
            for record in emulator.states.executions[known:]
            if record.state_machine_arn == machine
            and record.result is not None
            and isinstance(record.result.input, dict)
        ]
        events = [
            FedEvent(
                item.index,
                item.given,
                item.event_id,
                item.refused,
                execution=next(
                    (r for r in started if r.result and r.result.input.get("id") == item.event_id),
                    None,
                ),
            )
            for item in fed.events
        ]
        return Fed(emulator, fed, events, capture, start)

    def _tick(self, emulator: Emulator, outputs: PipelineOutputs) -> list[SweepRun]:
        """Fire the schedule's next occurrence past the sweep threshold, and run it."""
        threshold = float(
            self._environment(emulator, "sweep").get("SWEEP_THRESHOLD_SECONDS") or 900
        )
        schedule = outputs["schedule_arn"]
        not_before = emulator.clock.now() + threshold + TICK_MARGIN_SECONDS
        ticks = emulator.scheduler.tick(schedule, not_before=not_before)
        emulator.run_until_idle()
        by_arn = {record.arn: record for record in emulator.states.executions}
        runs = []
        for tick in (t for t in ticks if t.schedule_arn == schedule):
            if tick.status != "DELIVERED":
                error = f"{tick.status.lower()}: {tick.result.get('errorCode')}"
                runs.append(SweepRun(tick.scheduled_time, delivered=False, error=error))
                continue
            record = by_arn.get(str(tick.result.get("executionArn")))
            output = (record.result.output if record and record.result else None) or {}
            swept = (output.get("swept") or {}).get("result") if isinstance(output, dict) else None
            runs.append(
                SweepRun(
                    tick.scheduled_time,
                    delivered=True,
                    status=record.status if record else "not run",
                    swept=swept if isinstance(swept, dict) else None,
                )
            )
        return runs

    # reporting and accounting ---------------------------------------------------------
    def adjust_report(self, emulator: Emulator, report: dict[str, Any], fed: Fed) -> dict[str, Any]:
        """`events`: the `OrderReconciled` events the scenario's subscriber received."""
        fed.reconciled_events = queue_bodies(fed.capture_queue)[fed.capture_start :]
        return {**report, "events": fed.reconciled_events}

    def outcome(self, report: dict[str, Any], fed: Fed) -> Outcome:
        emulator = fed.emulator
        fed.runner.published = Counter(
            str((e.get("detail") or {}).get("orderId"))
            for e in report["events"]
            if isinstance(e, dict)
        )
        return self.runner(emulator).outcome(
            self.clients(emulator), self.outputs(emulator), fed.runner
        )
