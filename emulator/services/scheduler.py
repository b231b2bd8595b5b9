"""EventBridge Scheduler: each schedule's occurrences, fired on the virtual clock.

moto stores schedules (the deployed state, readable with boto3) but never fires them.
Here the scheduler is a source (`engine.Poller`): whenever the work queue is idle it
fires every occurrence the virtual clock has passed since it last looked, one delivery
job each. The clock moves when the queue jumps to a later job (a retry minutes away) or
when asked to: `tick()` advances it to a schedule's next occurrence, which is how a
scenario or a test says "and then the schedule ran".

A delivery calls the target's API as the schedule's role (so IAM applies): Step
Functions `StartExecution` with the target's `Input`, Lambda `Invoke` (asynchronous),
SQS `SendMessage`, SNS `Publish` or EventBridge `PutEvents`. The input's context
attributes (`<aws.scheduler.scheduled-time>`, ...) are filled in. A failure is retried
with exponential backoff within the target's `RetryPolicy`, except errors retrying
cannot fix (no permission, no such resource); then the input goes to the target's SQS
dead-letter queue, sent as the schedule's role, with the message attributes Scheduler
documents (`ERROR_CODE`, `ERROR_MESSAGE`, `SCHEDULE_ARN`, `TARGET_ARN`, `SCHEDULED_TIME`,
`EXECUTION_ID`, `RETRY_ATTEMPTS`, `EXHAUSTED_RETRY_CONDITION`, `IS_PAYLOAD_TRUNCATED`),
or, without one, is reported as lost.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError
from moto.scheduler.models import Schedule, scheduler_backends

from emulator.arns import queue_url
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from emulator.services.eventbridge import delivery_error
from emulator.services.schedule_expressions import ScheduleExpression, parse_expression
from orderflow.aws_facts import SCHEDULER_MAX_EVENT_AGE_SECONDS, SCHEDULER_MAX_RETRY_ATTEMPTS

if TYPE_CHECKING:
    from emulator.engine import Emulator

DEFAULT_RETRY_ATTEMPTS: Final = SCHEDULER_MAX_RETRY_ATTEMPTS.value.high  # the default
DEFAULT_MAX_AGE: Final = SCHEDULER_MAX_EVENT_AGE_SECONDS.value.high  # the default
MAX_BACKOFF: Final = 300.0
MAX_CATCH_UP: Final = 1_000
"""Occurrences fired per schedule per poll; a larger clock jump skips the rest (reported)."""
SUPPORTED_TARGETS: Final = ("states", "lambda", "sqs", "sns", "events")


def iso_seconds(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(value: Any) -> float | None:
    """A StartDate/EndDate as moto keeps it (epoch number or ISO text) in epoch seconds."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class TargetFailure(Exception):
    """The target refused the call; `code` is the service's error code."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass
class Tick:
    """One occurrence of one schedule and what became of it."""

    schedule_arn: str
    scheduled_time: str
    execution_id: str
    status: str = "PENDING"
    """PENDING (retrying), DELIVERED, DEAD_LETTERED or LOST."""
    attempts: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    """The target's answer (e.g. `executionArn`), or the last error."""


@dataclass(frozen=True)
class _Attempt:
    tick: Tick
    target: dict[str, Any]
    first_attempt: float
    number: int = 1


class Scheduler:
    """The account's EventBridge Scheduler (a poller of the engine)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.ticks: list[Tick] = []
        self._cursor: dict[str, float] = {}
        """Per schedule ARN: occurrences up to this moment have fired."""

    # schedules -----------------------------------------------------------------------
    def created(self, schedule_arn: str) -> None:
        """Start counting a schedule's occurrences now (on the virtual clock)."""
        self._cursor[schedule_arn] = self.emulator.clock.now()

    @staticmethod
    def schedules() -> list[Schedule]:
        backend = scheduler_backends[ACCOUNT][REGION]
        return [s for group in backend.schedule_groups.values() for s in group.schedules.values()]

    def schedule(self, name_or_arn: str | None = None) -> Schedule:
        """A schedule by name or ARN; with none given, the account's only schedule."""
        found = [
            s for s in self.schedules() if name_or_arn is None or name_or_arn in (s.arn, s.name)
        ]
        if len(found) != 1:
            wanted = name_or_arn or "the only schedule"
            raise LookupError(f"{wanted}: {len(found)} schedules match")
        return found[0]

    def _expression(self, schedule: Schedule) -> ScheduleExpression:
        anchor = _moment(schedule.start_date) or self._cursor[schedule.arn]
        return parse_expression(
            schedule.schedule_expression,
            schedule.schedule_expression_timezone,
            start=datetime.fromtimestamp(anchor, UTC),
        )

    # firing --------------------------------------------------------------------------
    def poll(self, emulator: Emulator) -> bool:
        """Fire every occurrence the virtual clock has passed (an `engine.Poller`)."""
        return bool(self._fire_due(self.emulator.clock.now()))

    def tick(self, schedule: str | None = None, *, not_before: float | None = None) -> list[Tick]:
        """Advance the clock to the schedule's next occurrence at or after `not_before`.

        Every occurrence of every schedule the clock passes fires, as it would in AWS;
        returns the ticks fired (their deliveries are queued: `run_until_idle` runs them).
        """
        chosen = self.schedule(schedule)
        if chosen.state != "ENABLED":
            raise ValueError(f"schedule {chosen.name} is {chosen.state}")
        self._cursor.setdefault(chosen.arn, self.emulator.clock.now())
        after = max(self.emulator.clock.now(), not_before or 0.0) - 1e-6
        occurrence = self._expression(chosen).next_after(datetime.fromtimestamp(after, UTC))
        end = _moment(chosen.end_date)
        if occurrence is None or (end is not None and occurrence.timestamp() > end):
            raise ValueError(f"schedule {chosen.name} has no occurrence left")
        self.emulator.clock.advance_to(occurrence.timestamp())
        return self._fire_due(max(self.emulator.clock.now(), occurrence.timestamp()))

    def _fire_due(self, now: float) -> list[Tick]:
        fired: list[Tick] = []
        for schedule in self.schedules():
            cursor = self._cursor.setdefault(schedule.arn, now)
            if schedule.state != "ENABLED":
                self._cursor[schedule.arn] = now  # a disabled schedule does not catch up
                continue
            expression = self._expression(schedule)
            start = _moment(schedule.start_date)
            end = _moment(schedule.end_date)
            after = max(cursor, start - 1e-6) if start is not None else cursor
            occurrence = expression.next_after(datetime.fromtimestamp(after, UTC))
            count = 0
            while occurrence is not None and occurrence.timestamp() <= now:
                if end is not None and occurrence.timestamp() > end:
                    break
                if count == MAX_CATCH_UP:
                    self.emulator.error(
                        "schedule",
                        schedule=schedule.arn,
                        message=f"the virtual clock jumped past more than {MAX_CATCH_UP} "
                        f"occurrences; those after {iso_seconds(cursor)} were skipped",
                    )
                    cursor = now
                    break
                fired.append(self._fire(schedule, occurrence.timestamp()))
                cursor = occurrence.timestamp()
                count += 1
                occurrence = expression.next_after(occurrence)
            self._cursor[schedule.arn] = max(cursor, self._cursor[schedule.arn])
        return fired

    def _fire(self, schedule: Schedule, moment: float) -> Tick:
        tick = Tick(schedule.arn, iso_seconds(moment), str(uuid.uuid4()))
        self.ticks.append(tick)
        attempt = _Attempt(tick, json.loads(json.dumps(schedule.target)), self.emulator.clock.now())
        self._queue(attempt, 0.0)
        return tick

    def _queue(self, attempt: _Attempt, delay: float) -> None:
        self.emulator.submit(
            f"scheduler: {attempt.tick.schedule_arn.rsplit('/', 1)[-1]} at "
            f"{attempt.tick.scheduled_time} (attempt {attempt.number})",
            lambda: self.deliver(attempt),
            delay=delay,
        )

    # delivery ------------------------------------------------------------------------
    def deliver(self, attempt: _Attempt) -> None:
        """One attempt; on failure queue the next or give up to the dead-letter queue."""
        tick = attempt.tick
        tick.attempts = attempt.number
        self.emulator.meter.scheduler_invocations[tick.schedule_arn] += 1
        payload = self.payload(attempt)
        try:
            tick.result = self._send(attempt.target, payload)
        except TargetFailure as failure:
            tick.result = {"errorCode": failure.code, "errorMessage": str(failure)}
            self._failed(attempt, failure, payload)
            return
        tick.status = "DELIVERED"

    @staticmethod
    def payload(attempt: _Attempt) -> str:
        """The target's Input with Scheduler's context attributes filled in."""
        text = str(attempt.target.get("Input") or "{}")
        values = {
            "<aws.scheduler.schedule-arn>": attempt.tick.schedule_arn,
            "<aws.scheduler.scheduled-time>": attempt.tick.scheduled_time,
            "<aws.scheduler.execution-id>": attempt.tick.execution_id,
            "<aws.scheduler.attempt-number>": str(attempt.number),
        }
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def _send(self, target: dict[str, Any], payload: str) -> dict[str, Any]:
        arn: str = target["Arn"]
        service = arn.split(":")[2]
        if service not in SUPPORTED_TARGETS:
            raise TargetFailure(
                "UnsupportedTarget",
                f"the emulator cannot deliver to {service} targets",
                retryable=False,
            )
        try:
            with acting_as(Principal.role(target["RoleArn"])):
                return self._call(service, arn, target, payload)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            retryable = delivery_error(exc).retryable
            raise TargetFailure(
                str(error.get("Code", "Unknown")),
                str(error.get("Message", exc)),
                retryable=retryable,
            ) from exc

    def _call(self, service: str, arn: str, target: dict[str, Any], payload: str) -> dict[str, Any]:
        client = self.emulator.client
        if service == "states":
            started = client("stepfunctions").start_execution(stateMachineArn=arn, input=payload)
            return {"executionArn": started["executionArn"]}
        if service == "lambda":
            client("lambda").invoke(
                FunctionName=arn, InvocationType="Event", Payload=payload.encode()
            )
            return {"invoked": arn}
        if service == "sqs":
            params: dict[str, Any] = {"QueueUrl": queue_url(arn), "MessageBody": payload}
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:
                params["MessageGroupId"] = group
            return {"messageId": client("sqs").send_message(**params)["MessageId"]}
        if service == "sns":
            return {"messageId": client("sns").publish(TopicArn=arn, Message=payload)["MessageId"]}
        parameters = target.get("EventBridgeParameters") or {}
        response = client("events").put_events(
            Entries=[
                {
                    "EventBusName": arn,
                    "Source": parameters.get("Source", ""),
                    "DetailType": parameters.get("DetailType", ""),
                    "Detail": payload,
                }
            ]
        )
        entry = response["Entries"][0]
        if response.get("FailedEntryCount"):
            raise TargetFailure(
                str(entry.get("ErrorCode")), str(entry.get("ErrorMessage")), retryable=False
            )
        return {"eventId": entry["EventId"]}

    def _failed(self, attempt: _Attempt, failure: TargetFailure, payload: str) -> None:
        policy = attempt.target.get("RetryPolicy") or {}
        max_attempts = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)) + 1
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE))
        delay = min(2.0 ** (attempt.number - 1), MAX_BACKOFF)
        age = self.emulator.clock.now() + delay - attempt.first_attempt
        if failure.retryable and attempt.number < max_attempts and age <= max_age:
            self._queue(
                _Attempt(attempt.tick, attempt.target, attempt.first_attempt, attempt.number + 1),
                delay,
            )
            return
        exhausted = ""
        if failure.retryable:
            exhausted = (
                "MaximumRetryAttempts"
                if attempt.number >= max_attempts
                else "MaximumEventAgeInSeconds"
            )
        self._give_up(attempt, failure, payload, exhausted)

    def _give_up(
        self, attempt: _Attempt, failure: TargetFailure, payload: str, exhausted: str
    ) -> None:
        tick, target = attempt.tick, attempt.target
        report = {
            "schedule": tick.schedule_arn,
            "scheduledTime": tick.scheduled_time,
            "target": target["Arn"],
            "code": failure.code,
            "message": str(failure),
            "attempts": attempt.number,
        }
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            tick.status = "LOST"
            self.emulator.error("schedule", **report, outcome="tick lost: the target has no DLQ")
            return
        attributes = {
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": str(failure)[:1000],
            "EXECUTION_ID": tick.execution_id,
            "IS_PAYLOAD_TRUNCATED": "false",
            "RETRY_ATTEMPTS": str(attempt.number - 1),
            "SCHEDULED_TIME": tick.scheduled_time,
            "SCHEDULE_ARN": tick.schedule_arn,
            "TARGET_ARN": target["Arn"],
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            with acting_as(Principal.role(target["RoleArn"])):
                self.emulator.client("sqs").send_message(
                    QueueUrl=queue_url(dlq),
                    MessageBody=payload,
                    MessageAttributes={
                        k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                    },
                )
        except ClientError as exc:
            tick.status = "LOST"
            self.emulator.error(
                "schedule", **report, outcome=f"tick lost: the DLQ refused it ({exc})"
            )
            return
        tick.status = "DEAD_LETTERED"
        self.emulator.error("schedule", **report, outcome="sent to the schedule's DLQ")
