"""Every AWS fact orderflow relies on, each with the AWS documentation page it comes from.

Components, the Lambda runtime, the emulator, the policy pack and the bench read their
limits, quotas, required permissions, filter operators, retention values and prices here and
nowhere else: a belief about AWS is written once, next to the page that backs it, so a wrong
belief is fixed in one place and cannot hide behind a second copy that agrees with it.

A fact that could not be confirmed in AWS's documentation says so (`verified=False`, with a
`note`); code relying on it must work whichever way the truth turns out.

This module imports nothing outside the standard library: it is packaged into every Lambda
archive (as `orderflow/aws_facts/`) and imported by code that must not load Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Fact(Generic[T]):
    """One AWS fact: its value, the documentation page it comes from, whether it was confirmed."""

    value: T
    source: str
    verified: bool = True
    note: str = ""


KIB: Final = 1024
MIB: Final = 1024 * KIB


def _docs(path: str) -> str:
    """A page of AWS's documentation site."""
    return f"https://docs.aws.amazon.com/{path}"


# --- DynamoDB ---------------------------------------------------------------------------
_DDB_QUOTAS = _docs("amazondynamodb/latest/developerguide/ServiceQuotas.html")
_DDB_TYPES = _docs("amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html")

DYNAMODB_MAX_ITEM_BYTES: Final = Fact(400 * KIB, _DDB_QUOTAS)
DYNAMODB_MAX_NESTING_DEPTH: Final = Fact(32, _DDB_QUOTAS)
DYNAMODB_NUMBER_MAX_DIGITS: Final = Fact(38, _DDB_TYPES)
DYNAMODB_NUMBER_MAX_MAGNITUDE: Final = Fact(
    "9.9999999999999999999999999999999999999E+125", _DDB_TYPES
)
DYNAMODB_NUMBER_MIN_MAGNITUDE: Final = Fact("1E-130", _DDB_TYPES)
DYNAMODB_MAX_PARTITION_KEY_BYTES: Final = Fact(2048, _DDB_QUOTAS)
DYNAMODB_MAX_SORT_KEY_BYTES: Final = Fact(1024, _DDB_QUOTAS)
DYNAMODB_BATCH_WRITE_MAX_ITEMS: Final = Fact(
    25, _docs("amazondynamodb/latest/APIReference/API_BatchWriteItem.html")
)
DYNAMODB_TRANSACT_MAX_ITEMS: Final = Fact(
    100, _docs("amazondynamodb/latest/APIReference/API_TransactWriteItems.html")
)
DYNAMODB_TRANSACT_MAX_BYTES: Final = Fact(
    4 * MIB, _docs("amazondynamodb/latest/APIReference/API_TransactWriteItems.html")
)
DYNAMODB_PARTITION_MAX_WCU_PER_SECOND: Final = Fact(
    1000, _docs("amazondynamodb/latest/developerguide/bp-partition-key-design.html")
)
DYNAMODB_ON_DEMAND_INITIAL_WRU_PER_SECOND: Final = Fact(
    4000, _docs("amazondynamodb/latest/developerguide/on-demand-capacity-mode.html")
)

# --- SQS --------------------------------------------------------------------------------
SQS_MAX_MESSAGE_BYTES: Final = Fact(
    256 * KIB, _docs("AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html")
)

# --- Step Functions -----------------------------------------------------------------------
_SFN_QUOTAS = _docs("step-functions/latest/dg/service-quotas.html")

STEP_FUNCTIONS_MAX_PAYLOAD_BYTES: Final = Fact(256 * KIB, _SFN_QUOTAS)
STEP_FUNCTIONS_STANDARD_MAX_HISTORY_EVENTS: Final = Fact(25_000, _SFN_QUOTAS)
STEP_FUNCTIONS_EXPRESS_MAX_SECONDS: Final = Fact(
    300,
    _docs("step-functions/latest/dg/choosing-workflow-type.html"),
    note="Counts every Retry attempt and backoff of every state in the execution.",
)
