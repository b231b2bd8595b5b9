"""What starts a workflow: an EventBridge rule target or an EventBridge Scheduler schedule.

Both deliver through a role that may start exactly one state machine, retry a bounded
number of times, and put what they could not deliver in their own dead-letter queue
(whose policy admits only that rule or schedule).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from orderflow.aws_facts import (
    EVENTBRIDGE_SERVICE_PRINCIPAL,
    EVENTBRIDGE_STEP_FUNCTIONS_TARGET_ACTIONS,
    EVENTBRIDGE_TARGET_MAX_EVENT_AGE_SECONDS,
    EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS,
    SCHEDULER_DEAD_LETTER_ACTIONS,
    SCHEDULER_STEP_FUNCTIONS_TARGET_ACTIONS,
)

from .dead_letter_queue import DeadLetterQueue, ServiceSender, build_dead_letter_queue
from .iam import Statement, kms_statements, policy_document, service_trust_policy
from .settings import Common

MAX_EVENT_AGE_SECONDS = EVENTBRIDGE_TARGET_MAX_EVENT_AGE_SECONDS.value.high
MAX_DELIVERY_ATTEMPTS = EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS.value.high


@dataclass(frozen=True)
class RuleTrigger:
    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget
    role: aws.iam.Role
    dead_letter_queue: DeadLetterQueue


@dataclass(frozen=True)
class ScheduleTrigger:
    schedule: aws.scheduler.Schedule
    role: aws.iam.Role
    dead_letter_queue: DeadLetterQueue


def _start_only(
    name: str,
    service: str,
    state_machine_arn: pulumi.Input[str],
    common: Common,
    parent: pulumi.Resource,
    *,
    actions: tuple[str, ...],
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        description=f"{service} may start one orderflow workflow, nothing else",
        assume_role_policy=service_trust_policy(service, common.account_id),
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=policy_document(
            [
                Statement(
                    sid="StartWorkflow",
                    actions=list(actions),
                    resources=[state_machine_arn],
                )
            ]
        ),
        opts=child,
    )
    return role, policy


def build_rule_trigger(
    name: str,
    *,
    event_pattern: pulumi.Input[str],
    description: str,
    state_machine_arn: pulumi.Input[str],
    common: Common,
    parent: pulumi.Resource,
    event_bus_name: pulumi.Input[str] | None = None,
    input_path: str | None = None,
) -> RuleTrigger:
    """A rule on `event_bus_name` (default bus) starting the workflow for each match."""
    rule = aws.cloudwatch.EventRule(
        f"{name}-rule",
        description=description,
        event_bus_name=event_bus_name,
        event_pattern=event_pattern,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    dlq = build_dead_letter_queue(
        f"{name}-delivery-dlq",
        purpose="events the rule could not deliver",
        common=common,
        parent=parent,
        senders=[ServiceSender(EVENTBRIDGE_SERVICE_PRINCIPAL.value, rule.arn)],
    )
    role, policy = _start_only(
        f"{name}-events",
        EVENTBRIDGE_SERVICE_PRINCIPAL.value,
        state_machine_arn,
        common,
        parent,
        actions=EVENTBRIDGE_STEP_FUNCTIONS_TARGET_ACTIONS.value,
    )
    target = aws.cloudwatch.EventTarget(
        f"{name}-target",
        rule=rule.name,
        event_bus_name=event_bus_name,
        arn=state_machine_arn,
        role_arn=role.arn,
        input_path=input_path,
        retry_policy={
            "maximum_event_age_in_seconds": MAX_EVENT_AGE_SECONDS,
            "maximum_retry_attempts": MAX_DELIVERY_ATTEMPTS,
        },
        dead_letter_config={"arn": dlq.arn},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, dlq.policy]),
    )
    return RuleTrigger(rule, target, role, dlq)


def build_schedule_trigger(
    name: str,
    *,
    schedule_expression: str,
    timezone: str,
    flexible_window_minutes: int,
    input_json: str,
    state_machine_arn: pulumi.Input[str],
    common: Common,
    parent: pulumi.Resource,
) -> ScheduleTrigger:
    """An EventBridge Scheduler schedule starting the workflow with `input_json`."""
    child = pulumi.ResourceOptions(parent=parent)
    dlq = build_dead_letter_queue(
        f"{name}-dlq",
        purpose="schedule ticks that could not start the workflow",
        common=common,
        parent=parent,
    )
    role, policy = _start_only(
        f"{name}-scheduler",
        "scheduler.amazonaws.com",
        state_machine_arn,
        common,
        parent,
        actions=SCHEDULER_STEP_FUNCTIONS_TARGET_ACTIONS.value,
    )
    # Scheduler writes to the DLQ with the schedule's role, not as a service principal: on
    # a queue encrypted with the stack's key that role needs the key too (and Scheduler
    # decrypts the schedule's target, encrypted with the same key, for each invocation).
    dlq_policy = aws.iam.RolePolicy(
        f"{name}-scheduler-dlq-policy",
        role=role.id,
        policy=policy_document(
            [
                Statement(
                    sid="SendDeadLetters",
                    actions=list(SCHEDULER_DEAD_LETTER_ACTIONS.value),
                    resources=[dlq.arn],
                ),
                *kms_statements(common.kms_key_arn),
            ]
        ),
        opts=child,
    )
    window = aws.scheduler.ScheduleFlexibleTimeWindowArgs(
        mode="FLEXIBLE" if flexible_window_minutes > 0 else "OFF",
        maximum_window_in_minutes=flexible_window_minutes or None,
    )
    schedule = aws.scheduler.Schedule(
        name,
        schedule_expression=schedule_expression,
        schedule_expression_timezone=timezone,
        flexible_time_window=window,
        kms_key_arn=common.kms_key_arn,
        target={
            "arn": state_machine_arn,
            "role_arn": role.arn,
            "input": input_json,
            "retry_policy": {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 10},
            "dead_letter_config": {"arn": dlq.arn},
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, dlq_policy]),
    )
    return ScheduleTrigger(schedule, role, dlq)
