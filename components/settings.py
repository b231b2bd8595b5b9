"""Settings every component shares, and their well-architected defaults.

Each component's args TypedDict extends `CommonArgs`, so a stack sets these once and
passes them to all four components.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import pulumi

from orderflow.aws_facts import CLOUDWATCH_LOGS_RETENTION_DAYS, SQS_MAX_RETENTION_SECONDS

DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_ARCHITECTURE = "arm64"
LAMBDA_RUNTIME = "python3.13"
DEAD_LETTER_RETENTION_SECONDS = SQS_MAX_RETENTION_SECONDS.value  # the longest SQS keeps one
POWERTOOLS_SSM_PARAMETER = "/aws/service/powertools/python/{arch}/{runtime}/latest"

# CloudWatch Logs accepts only these retention values.
VALID_RETENTION_DAYS = CLOUDWATCH_LOGS_RETENTION_DAYS.value


class CommonArgs(TypedDict, total=False):
    """Settings shared by every orderflow component."""

    alarm_topic_arn: pulumi.Input[str]
    """SNS topic that receives every alarm of the component (none: alarms still exist)."""
    log_retention_days: int
    """Retention of every log group the component creates (default 30)."""
    powertools_layer_arn: pulumi.Input[str]
    """Powertools for AWS Lambda layer; default: the public layer named by AWS's SSM parameter."""
    architecture: str
    """Lambda architecture, `arm64` (default, cheaper per GB-second) or `x86_64`."""
    kms_key_arn: pulumi.Input[str]
    """Customer managed KMS key ARN for logs, queues, topics, tables, buckets, the bus,
    pipes and the schedule (default: AWS managed). Its key policy must hold
    `components.key_policy.orderflow_key_policy_statements` (CloudWatch Logs, EventBridge,
    and IAM delegation for the roles, which get the key's data-key actions)."""
    log_level: str
    """Application log level of the component's functions (default INFO)."""


@dataclass(frozen=True)
class Common:
    """`CommonArgs` resolved to concrete defaults, validated once per component."""

    alarm_topic_arn: pulumi.Input[str] | None
    log_retention_days: int
    powertools_layer_arn: pulumi.Input[str]
    architecture: str
    kms_key_arn: pulumi.Input[str] | None
    log_level: str
    account_id: pulumi.Output[str]
    """The deploying account: trust policies of service roles are limited to it."""
    region: pulumi.Output[str]
    """The deploying region (dashboards name it)."""

    @property
    def alarm_actions(self) -> list[pulumi.Input[str]]:
        return [self.alarm_topic_arn] if self.alarm_topic_arn is not None else []


def resolve_common(args: CommonArgs) -> Common:
    """Apply defaults and reject settings AWS would refuse, with a clear message."""
    retention = args.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS)
    if retention not in VALID_RETENTION_DAYS:
        raise ValueError(
            f"log_retention_days={retention} is not a CloudWatch Logs retention value; "
            f"use one of {sorted(VALID_RETENTION_DAYS)} (logs are never kept forever)"
        )
    architecture = args.get("architecture", DEFAULT_ARCHITECTURE)
    if architecture not in ("arm64", "x86_64"):
        raise ValueError(f"architecture must be 'arm64' or 'x86_64', not {architecture!r}")
    check_key_arn(args.get("kms_key_arn"))
    log_level = args.get("log_level", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR"):
        raise ValueError(f"log_level must be DEBUG, INFO, WARN or ERROR, not {log_level!r}")
    import pulumi_aws as aws  # noqa: PLC0415  (keeps `settings` importable without the provider)

    layer = args.get("powertools_layer_arn")
    if layer is None:
        layer = powertools_layer_from_ssm(architecture)
    return Common(
        alarm_topic_arn=args.get("alarm_topic_arn"),
        log_retention_days=retention,
        powertools_layer_arn=layer,
        architecture=architecture,
        kms_key_arn=args.get("kms_key_arn"),
        log_level=log_level,
        account_id=aws.get_caller_identity_output().account_id,
        region=aws.get_region_output().region,
    )


KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")


def check_key_arn(kms_key_arn: pulumi.Input[str] | None) -> None:
    """A known key reference must be a key ARN: role grants and key policies cannot name an
    alias or a bare key id (a grant on `alias/...` authorizes nothing)."""
    if isinstance(kms_key_arn, str) and not KEY_ARN.match(kms_key_arn):
        raise ValueError(
            f"kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), "
            f"not {kms_key_arn!r}: role grants are written for the key ARN, and an alias or "
            "a key id in them authorizes nothing"
        )


def powertools_layer_from_ssm(architecture: str) -> pulumi.Output[str]:
    """The latest Powertools layer ARN for this architecture, as AWS publishes it in SSM."""
    import pulumi_aws as aws  # noqa: PLC0415  (keeps `settings` importable without the provider)

    arch = "arm64" if architecture == "arm64" else "x86_64"
    name = POWERTOOLS_SSM_PARAMETER.format(arch=arch, runtime=LAMBDA_RUNTIME)
    return aws.ssm.get_parameter_output(name=name).value


def reject_conflicts(args: Mapping[str, object], pairs: Sequence[tuple[str, str]]) -> None:
    """Settings for a created resource make no sense next to a brought one: say so."""
    for brought, setting in pairs:
        if brought in args and setting in args:
            raise ValueError(
                f"{setting} applies only to a resource the component creates; "
                f"it conflicts with {brought} (a brought resource keeps its own settings)"
            )
