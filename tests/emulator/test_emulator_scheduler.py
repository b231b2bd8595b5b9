"""EventBridge Scheduler: expressions, ticks on the virtual clock, retries and the DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from botocore.exceptions import ClientError
from emulator_support import allow, policy

from emulator.engine import Emulator
from emulator.program import Stack
from emulator.report import queue_bodies
from emulator.services.schedule_expressions import (
    InvalidScheduleExpressionError,
    parse_expression,
)

START = datetime(2025, 1, 15, 10, 7, 30, tzinfo=UTC)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("expression", "timezone", "after", "expected"),
    [
        ("rate(15 minutes)", "UTC", START, "2025-01-15T10:22:30+00:00"),
        (
            "rate(1 day)",
            "UTC",
            datetime(2025, 1, 16, 10, 7, 30, tzinfo=UTC),
            "2025-01-17T10:07:30+00:00",
        ),
        ("cron(0/15 * * * ? *)", "UTC", START, "2025-01-15T10:15:00+00:00"),
        ("cron(0 8 ? * MON-FRI *)", "Europe/Paris", START, "2025-01-16T07:00:00+00:00"),
        ("cron(0 12 L * ? *)", "UTC", START, "2025-01-31T12:00:00+00:00"),
        ("cron(0 12 ? * 6L *)", "UTC", START, "2025-01-31T12:00:00+00:00"),
        ("cron(0 12 ? * 2#1 *)", "UTC", START, "2025-02-03T12:00:00+00:00"),
        (
            "cron(0 12 15W * ? *)",
            "UTC",
            datetime(2025, 2, 1, tzinfo=UTC),
            "2025-02-14T12:00:00+00:00",
        ),
        ("at(2025-01-16T00:00:00)", "America/New_York", START, "2025-01-16T05:00:00+00:00"),
    ],
)
def test_expressions_give_the_next_occurrence(
    expression: str, timezone: str, after: datetime, expected: str
) -> None:
    occurrence = parse_expression(expression, timezone, start=START).next_after(after)
    assert occurrence is not None
    assert occurrence.isoformat() == expected


@pytest.mark.parametrize(
    "expression",
    ["rate(0 minutes)", "rate(5 weeks)", "cron(* * * * * *)", "cron(61 * * * ? *)", "every 5"],
)
def test_expressions_aws_refuses_are_refused(expression: str) -> None:
    with pytest.raises(InvalidScheduleExpressionError):
        parse_expression(expression, "UTC", start=START)


def test_a_one_time_schedule_fires_once() -> None:
    at = parse_expression("at(2025-01-16T00:00:00)", "UTC", start=START)
    first = at.next_after(START)
    assert first is not None
    assert at.next_after(first) is None


def program() -> None:
    """An hourly schedule sending to a queue, with a DLQ; a disabled one beside it."""
    queue = aws.sqs.Queue("ticks")
    dlq = aws.sqs.Queue("tick-dlq")
    role = aws.iam.Role("scheduler-role", assume_role_policy=TRUST)
    grant = aws.iam.RolePolicy(
        "scheduler-policy",
        role=role.id,
        policy=pulumi.Output.all(queue.arn, dlq.arn).apply(
            lambda arns: policy(allow("sqs:SendMessage", list(arns)))
        ),
    )
    for name, state in (("hourly", "ENABLED"), ("paused", "DISABLED")):
        aws.scheduler.Schedule(
            name,
            schedule_expression="rate(1 hour)",
            state=state,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": queue.arn,
                "role_arn": role.arn,
                "input": '{"at": "<aws.scheduler.scheduled-time>", '
                '"attempt": "<aws.scheduler.attempt-number>"}',
                "retry_policy": {"maximum_event_age_in_seconds": 600, "maximum_retry_attempts": 2},
                "dead_letter_config": {"arn": dlq.arn},
            },
            opts=pulumi.ResourceOptions(depends_on=[grant]),
        )


@pytest.fixture(scope="module")
def stack(bare: Emulator) -> Stack:
    return bare.deploy_program(program)


def _schedule(stack: Stack, name: str) -> str:
    return str(stack.output_of("aws:scheduler/schedule:Schedule", name, "arn"))


def _queue(stack: Stack, name: str) -> list[Any]:
    return queue_bodies(stack.output_of("aws:sqs/queue:Queue", name, "name"))


def test_a_tick_delivers_the_input_with_its_context_attributes(
    bare: Emulator, stack: Stack
) -> None:
    before = len(_queue(stack, "ticks"))
    (tick,) = bare.scheduler.tick(_schedule(stack, "hourly"))
    bare.run_until_idle()
    assert tick.status == "DELIVERED"
    (body,) = _queue(stack, "ticks")[before:]
    assert body == {"at": tick.scheduled_time, "attempt": "1"}
    assert bare.meter.scheduler_invocations[tick.schedule_arn] >= 1


def test_occurrences_the_clock_jumps_over_fire_when_the_queue_is_idle(
    bare: Emulator, stack: Stack
) -> None:
    before = len(_queue(stack, "ticks"))
    bare.clock.advance_to(bare.clock.now() + 2 * 3600 + 1)
    bare.run_until_idle()
    times = [b["at"] for b in _queue(stack, "ticks")[before:]]
    assert len(times) == 2
    assert times == sorted(times)


def test_a_disabled_schedule_does_not_fire(bare: Emulator, stack: Stack) -> None:
    paused = _schedule(stack, "paused")
    assert all(t.schedule_arn != paused for t in bare.scheduler.ticks)
    with pytest.raises(ValueError, match="DISABLED"):
        bare.scheduler.tick(paused)


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation
    )


def test_a_throttled_delivery_is_retried_with_backoff(
    bare: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bare.scheduler._call
    failures = iter([True, True])

    def flaky(service: str, arn: str, target: dict[str, Any], payload: str) -> dict[str, Any]:
        if next(failures, False):
            raise _throttled("SendMessage")
        return real(service, arn, target, payload)

    monkeypatch.setattr(bare.scheduler, "_call", flaky)
    before = len(_queue(stack, "ticks"))
    (tick,) = bare.scheduler.tick(_schedule(stack, "hourly"))
    started = bare.clock.now()
    bare.run_until_idle()
    assert (tick.status, tick.attempts) == ("DELIVERED", 3)
    assert bare.clock.now() - started >= 3  # 1 s, then 2 s, on the virtual clock
    assert _queue(stack, "ticks")[before:] == [{"at": tick.scheduled_time, "attempt": "3"}]


def test_retries_exhausted_go_to_the_dlq_with_schedulers_attributes(
    bare: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(service: str, arn: str, target: dict[str, Any], payload: str) -> Any:
        raise _throttled("SendMessage")

    monkeypatch.setattr(bare.scheduler, "_call", throttled)
    (tick,) = bare.scheduler.tick(_schedule(stack, "hourly"))
    bare.run_until_idle()
    assert (tick.status, tick.attempts) == ("DEAD_LETTERED", 3)
    url = stack.output_of("aws:sqs/queue:Queue", "tick-dlq", "url")
    (message,) = bare.client("sqs").receive_message(QueueUrl=url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert json.loads(message["Body"]) == {"at": tick.scheduled_time, "attempt": "3"}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "ERROR_CODE": "ThrottlingException",
        "ERROR_MESSAGE": "Rate exceeded",
        "EXECUTION_ID": tick.execution_id,
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "IS_PAYLOAD_TRUNCATED": "false",
        "RETRY_ATTEMPTS": "2",
        "SCHEDULED_TIME": tick.scheduled_time,
        "SCHEDULE_ARN": tick.schedule_arn,
        "TARGET_ARN": stack.output_of("aws:sqs/queue:Queue", "ticks", "arn"),
    }
    assert bare.errors[-1]["outcome"] == "sent to the schedule's DLQ"
