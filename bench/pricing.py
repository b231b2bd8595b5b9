"""List prices and the arithmetic that turns counted usage into dollars per million records.

Every price comes from the facts table `orderflow.aws_facts` (us-east-1, list, no free
tier), each next to its pricing page: that table is the single source, so a figure here can
be checked by hand against it.
Usage no table prices (S3 requests, AWS service events) is carried along in
`Usage.unpriced` and reported, never silently priced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Final

from orderflow.aws_facts import (
    PRICE_CLOUDWATCH_LOGS_INGESTED_GB,
    PRICE_DYNAMODB_READ_UNIT,
    PRICE_DYNAMODB_WRITE_UNIT,
    PRICE_EVENTBRIDGE_CUSTOM_EVENT,
    PRICE_EXPRESS_GB_SECOND,
    PRICE_EXPRESS_REQUEST,
    PRICE_LAMBDA_GB_SECOND_ARM64,
    PRICE_LAMBDA_GB_SECOND_X86_64,
    PRICE_LAMBDA_REQUEST,
    PRICE_PIPES_REQUEST,
    PRICE_SNS_PUBLISH_REQUEST,
    PRICE_SQS_REQUEST,
    PRICE_STANDARD_TRANSITION,
)

MILLION: Final = 1_000_000
_BILLING_GB: Final = 2**30  # bytes in the gigabyte AWS bills log ingestion by


@dataclass(frozen=True)
class Prices:
    """USD per billing unit, from the facts table's prices (`orderflow.aws_facts`)."""

    standard_transition: float = PRICE_STANDARD_TRANSITION.value
    express_request: float = PRICE_EXPRESS_REQUEST.value
    express_gb_second: float = PRICE_EXPRESS_GB_SECOND.value
    lambda_request: float = PRICE_LAMBDA_REQUEST.value
    lambda_gb_second_arm64: float = PRICE_LAMBDA_GB_SECOND_ARM64.value
    lambda_gb_second_x86_64: float = PRICE_LAMBDA_GB_SECOND_X86_64.value
    dynamodb_write_unit: float = PRICE_DYNAMODB_WRITE_UNIT.value
    dynamodb_read_unit: float = PRICE_DYNAMODB_READ_UNIT.value
    sqs_request: float = PRICE_SQS_REQUEST.value
    eventbridge_custom_event: float = PRICE_EVENTBRIDGE_CUSTOM_EVENT.value
    pipes_request: float = PRICE_PIPES_REQUEST.value
    sns_request: float = PRICE_SNS_PUBLISH_REQUEST.value
    cloudwatch_log_byte: float = PRICE_CLOUDWATCH_LOGS_INGESTED_GB.value / _BILLING_GB


PRICES: Final = Prices()

# The breakdown's keys, in the order tables print them.
SERVICES: Final = (
    "stepfunctions_standard",
    "stepfunctions_express",
    "lambda_requests",
    "lambda_gb_seconds",
    "dynamodb_writes",
    "dynamodb_reads",
    "sqs",
    "eventbridge",
    "pipes",
    "sns",
    "cloudwatch_logs",
)


@dataclass
class Usage:
    """Billable operations one run performed, in AWS billing units.

    Lambda GB-seconds are kept per architecture because they are priced differently;
    `unpriced` holds counts that matter but have no price in the facts table (reported as is).
    """

    standard_transitions: float = 0.0
    express_requests: float = 0.0
    express_gb_seconds: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds_arm64: float = 0.0
    lambda_gb_seconds_x86_64: float = 0.0
    dynamodb_write_units: float = 0.0
    dynamodb_read_units: float = 0.0
    sqs_requests: float = 0.0
    eventbridge_custom_events: float = 0.0
    pipes_requests: float = 0.0
    sns_requests: float = 0.0
    cloudwatch_log_bytes: float = 0.0
    unpriced: dict[str, float] = field(default_factory=dict)

    def scaled(self, factor: float) -> Usage:
        """Every count multiplied by `factor` (linear scaling to another record count)."""
        values = {
            f.name: getattr(self, f.name) * factor for f in fields(self) if f.name != "unpriced"
        }
        return Usage(**values, unpriced={k: v * factor for k, v in self.unpriced.items()})

    def __add__(self, other: Usage) -> Usage:
        values = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "unpriced"
        }
        unpriced = dict(self.unpriced)
        for key, value in other.unpriced.items():
            unpriced[key] = unpriced.get(key, 0.0) + value
        return Usage(**values, unpriced=unpriced)

    def as_dict(self) -> dict[str, float | dict[str, float]]:
        data: dict[str, float | dict[str, float]] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "unpriced"
        }
        data["unpriced"] = dict(sorted(self.unpriced.items()))
        return data


def breakdown(usage: Usage, prices: Prices = PRICES) -> dict[str, float]:
    """Dollars per service for `usage` (keys: `SERVICES`)."""
    return {
        "stepfunctions_standard": usage.standard_transitions * prices.standard_transition,
        "stepfunctions_express": usage.express_requests * prices.express_request
        + usage.express_gb_seconds * prices.express_gb_second,
        "lambda_requests": usage.lambda_requests * prices.lambda_request,
        "lambda_gb_seconds": usage.lambda_gb_seconds_arm64 * prices.lambda_gb_second_arm64
        + usage.lambda_gb_seconds_x86_64 * prices.lambda_gb_second_x86_64,
        "dynamodb_writes": usage.dynamodb_write_units * prices.dynamodb_write_unit,
        "dynamodb_reads": usage.dynamodb_read_units * prices.dynamodb_read_unit,
        "sqs": usage.sqs_requests * prices.sqs_request,
        "eventbridge": usage.eventbridge_custom_events * prices.eventbridge_custom_event,
        "pipes": usage.pipes_requests * prices.pipes_request,
        "sns": usage.sns_requests * prices.sns_request,
        "cloudwatch_logs": usage.cloudwatch_log_bytes * prices.cloudwatch_log_byte,
    }


def total(costs: Mapping[str, float]) -> float:
    return sum(costs.values())


def cost(usage: Usage, prices: Prices = PRICES) -> float:
    """Dollars for `usage`."""
    return total(breakdown(usage, prices))


def per_million(usage: Usage, records: int) -> Usage:
    """`usage` of a run over `records` records, scaled linearly to 1,000,000 records.

    Linear because every billable operation here is per record or per batch of a fixed
    size; per-file or per-event constants (one execution start, one inspection) are
    scaled too, which slightly overstates them for larger inputs (stated in the README).
    """
    if records <= 0:
        raise ValueError(f"cannot scale a run over {records} records")
    return usage.scaled(MILLION / records)


def rounded(costs: Mapping[str, float], digits: int = 6) -> dict[str, float]:
    """Dollar figures rounded for JSON (sub-micro-dollar noise dropped)."""
    return {key: round(value, digits) for key, value in costs.items()}
