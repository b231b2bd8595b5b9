"""Logs: kept for a finite time, and free of the records (customer emails) they describe."""

from __future__ import annotations

from orderflow.aws_facts import CLOUDWATCH_LOGS_RETENTION_DAYS

from . import tokens
from .model import Props, ResourceRule, as_list, as_number, dig, is_true, show_number

# The retention values CloudWatch Logs accepts (0 / absent means "never expire").
VALID_RETENTION_DAYS = CLOUDWATCH_LOGS_RETENTION_DAYS.value


def check_retention(resource_type: str, props: Props) -> list[str]:
    days = as_number(props.get("retentionInDays"))
    if days is None or days == 0:
        return [
            "log group keeps its logs forever: set retention_in_days (e.g. 14 or 30); logs hold "
            "request metadata and cost money every month"
        ]
    if days not in VALID_RETENTION_DAYS:
        return [
            f"retention_in_days={show_number(days)} is not a CloudWatch Logs retention value: "
            f"use one of {sorted(VALID_RETENTION_DAYS)}"
        ]
    return []


def check_payloads(resource_type: str, props: Props) -> list[str]:
    if resource_type == tokens.STATE_MACHINE:
        if is_true(dig(props, "loggingConfiguration", "includeExecutionData")):
            return [
                "state machine logs execution data (inputs and outputs hold customer records): "
                "set logging_configuration.include_execution_data=False"
            ]
        return []
    if as_list(dig(props, "logConfiguration", "includeExecutionDatas")):
        return [
            "pipe logs execution data (payloads hold customer records): remove "
            "log_configuration.include_execution_datas"
        ]
    return []


FINITE_LOG_RETENTION = ResourceRule(
    name="log-group-finite-retention",
    description="Log groups expire their logs after a valid CloudWatch Logs retention period.",
    resource_types=frozenset({tokens.LOG_GROUP}),
    check=check_retention,
)

NO_PAYLOADS_IN_LOGS = ResourceRule(
    name="no-payloads-in-logs",
    description=(
        "Step Functions and Pipes never log execution data: payloads carry customer emails "
        "and order details."
    ),
    resource_types=frozenset({tokens.STATE_MACHINE, tokens.PIPE}),
    check=check_payloads,
)
