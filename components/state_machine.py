"""A Step Functions state machine with logs, tracing and failure alarms.

The role is built in two parts: what the workflow may call (created before the state
machine, because AWS checks log delivery at creation) and what refers to the state
machine itself (Distributed Map child executions), attached right after it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from orderflow.aws_facts import (
    CLOUDWATCH_LOGS_VENDED_PREFIX,
    STEP_FUNCTIONS_LOG_DELIVERY_ACTIONS,
    STEP_FUNCTIONS_XRAY_ACTIONS,
)

from .alarms import metric_alarm
from .iam import Statement, policy_document, service_trust_policy
from .settings import Common

WorkflowType = Literal["STANDARD", "EXPRESS"]


@dataclass(frozen=True)
class StateMachineBundle:
    state_machine: aws.sfn.StateMachine
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy
    alarms: list[aws.cloudwatch.MetricAlarm]

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.state_machine.arn


def map_run_child_arns(state_machine_arn: pulumi.Input[str]) -> list[pulumi.Output[str]]:
    """ARNs of the child executions a Distributed Map of this machine starts.

    Children are named `<machine>/<map run label>:…`, as Standard executions or as Express
    ones, so both forms are listed; nothing outside this machine's map runs matches.
    """
    arn = pulumi.Output.from_input(state_machine_arn)
    return [
        arn.apply(lambda a: a.replace(":stateMachine:", ":execution:") + "/*"),
        arn.apply(lambda a: a.replace(":stateMachine:", ":express:") + "/*"),
    ]


def build_state_machine(
    name: str,
    *,
    definition: pulumi.Input[str],
    workflow_type: WorkflowType,
    statements: Sequence[Statement],
    common: Common,
    parent: pulumi.Resource,
    self_statements: Callable[[pulumi.Output[str]], Sequence[Statement]] | None = None,
) -> StateMachineBundle:
    """Create role, log group, state machine and the failed/timed-out/throttled alarms.

    `self_statements` receives the machine's ARN and returns statements that must name
    it (e.g. a Distributed Map starting child executions of its own machine).
    """
    child = pulumi.ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        # Under /aws/vendedlogs/: the service need not add the group to the account's
        # 5,120-character CloudWatch Logs resource policy (AWS's recommendation).
        name_prefix=f"{CLOUDWATCH_LOGS_VENDED_PREFIX.value}states/orderflow-{name}-",
        retention_in_days=common.log_retention_days,
        kms_key_id=common.kms_key_arn,
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-role",
        description=f"orderflow workflow {name}",
        assume_role_policy=service_trust_policy("states.amazonaws.com", common.account_id),
        opts=child,
    )
    base = [
        *statements,
        Statement(
            # CloudWatch Logs vended delivery takes no resource ARN: AWS requires "*".
            sid="DeliverLogs",
            actions=list(STEP_FUNCTIONS_LOG_DELIVERY_ACTIONS.value),
            resources=["*"],
        ),
        Statement(
            # X-Ray takes no resource ARN: AWS requires "*".
            sid="WriteTraces",
            actions=list(STEP_FUNCTIONS_XRAY_ACTIONS.value),
            resources=["*"],
        ),
    ]
    policy = aws.iam.RolePolicy(
        f"{name}-policy", role=role.id, policy=policy_document(base), opts=child
    )
    state_machine = aws.sfn.StateMachine(
        name,
        type=workflow_type,
        role_arn=role.arn,
        definition=definition,
        logging_configuration={
            "log_destination": pulumi.Output.concat(log_group.arn, ":*"),
            "level": "ERROR",
            # Records carry personal data (emails): keep payloads out of the logs.
            "include_execution_data": False,
        },
        tracing_configuration={"enabled": True},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )
    if self_statements is not None:
        aws.iam.RolePolicy(
            f"{name}-self-policy",
            role=role.id,
            policy=policy_document(self_statements(state_machine.arn)),
            opts=child,
        )
    alarms = [
        metric_alarm(
            f"{name}-{metric.lower()}-alarm",
            parent=parent,
            namespace="AWS/States",
            metric_name=metric,
            dimensions={"StateMachineArn": state_machine.arn},
            description=f"orderflow {name}: {metric} > 0",
            alarm_actions=common.alarm_actions,
        )
        for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled")
    ]
    return StateMachineBundle(state_machine, role, log_group, policy, alarms)
