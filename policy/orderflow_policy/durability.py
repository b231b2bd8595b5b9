"""Recoverability: a table can be restored to any second of the last 35 days."""

from __future__ import annotations

from . import tokens
from .model import Props, ResourceRule, dig, is_true


def check_table(resource_type: str, props: Props) -> list[str]:
    if is_true(dig(props, "pointInTimeRecovery", "enabled")):
        return []
    return [
        "table has no point-in-time recovery: set point_in_time_recovery.enabled=True "
        "(a bad deploy or a runaway replay can then be undone)"
    ]


POINT_IN_TIME_RECOVERY = ResourceRule(
    name="dynamodb-point-in-time-recovery",
    description="DynamoDB tables have point-in-time recovery enabled.",
    resource_types=frozenset({tokens.TABLE}),
    check=check_table,
)
