"""The consolidations ledger and the fan-out start: each consolidation recorded and run once.

The idempotency key is (job_name, partition_date, execution_sequence, output_path): the
same Glue run re-published, or a Kafka redelivery, maps to the same key. A conditional
PutItem records the first arrival; a replay finds the record and is not recorded twice.
The fan-out execution is named after the key, so Step Functions (Standard: names are
unique for 90 days) starts it at most once; `ExecutionAlreadyExists` therefore means a
replay, not an error. A replay starts it from the *recorded* event, so a retry after a
failed StartExecution sends the very input the first attempt would have sent.

Permissions used: dynamodb:PutItem (consolidations table), states:StartExecution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from runtime.common import clients
from runtime.consolidation.schema import (
    FIELD_NAMES,
    ConsolidationAttributes,
    ConsolidationEvent,
    parse_event,
)

MAX_EXECUTION_NAME: Final = 80


def idempotency_key(event: ConsolidationEvent) -> str:
    """The consolidation id (schema.consolidation_id): the same one the order key ends with."""
    return event.consolidation_id


def execution_name(event: ConsolidationEvent, key: str) -> str:
    """`<date>-<sequence>-<key prefix>`: readable, ≤ 80 chars of [A-Za-z0-9-_], unique per key."""
    head = f"{event.partition_date}-{event.execution_sequence:09d}-"
    return head + key[: MAX_EXECUTION_NAME - len(head)]


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives execution `name` of a Standard state machine."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def workflow_input(event: ConsolidationEvent) -> str:
    """The fan-out input as canonical JSON (same event → same bytes → idempotent start)."""
    bucket, prefix = event.location
    document = {
        "bucket": bucket,
        "prefix": prefix,
        "format": event.output_format,
        "consolidation": ConsolidationAttributes.from_event(event).to_dict(),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def _attribute(value: str | int) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def _plain(attribute: Mapping[str, Any]) -> Any:
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        return int(attribute["N"])
    return None


def stored_event(item: Mapping[str, Any]) -> ConsolidationEvent | None:
    """The event a ledger item recorded, or None if the item does not hold a valid one."""
    recorded = item.get("event", {}).get("M")
    if not isinstance(recorded, dict):
        return None
    parsed = parse_event({name: _plain(recorded.get(name, {})) for name in FIELD_NAMES})
    return parsed if isinstance(parsed, ConsolidationEvent) else None


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording: the key, the execution, and whether it was a replay.

    `event` is the recorded one (on a replay: the first arrival's); `conflicting` says the
    replay's content differs from it (the first recording stands).
    """

    consolidation_id: str
    execution_name: str
    execution_arn: str
    event: ConsolidationEvent
    replay: bool
    conflicting: bool = False


@dataclass(frozen=True)
class Started:
    """StartExecution's outcome; `already` means the name existed (a replay)."""

    execution_arn: str
    already: bool


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


class Ledger:
    """Records consolidations in the ledger table and starts their fan-out executions."""

    def __init__(
        self,
        table_name: str,
        state_machine_arn: str,
        *,
        dynamodb: Any = None,
        stepfunctions: Any = None,
    ):
        if not table_name or not state_machine_arn:
            raise ValueError("a consolidations table and a state machine ARN are required")
        self.table_name = table_name
        self.state_machine_arn = state_machine_arn
        self._dynamodb = dynamodb
        self._stepfunctions = stepfunctions

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = clients.client("dynamodb")
        return self._dynamodb

    @property
    def stepfunctions(self) -> Any:
        if self._stepfunctions is None:
            self._stepfunctions = clients.client("stepfunctions")
        return self._stepfunctions

    def record(
        self, event: ConsolidationEvent, *, source: Mapping[str, Any], received_at: str
    ) -> Recorded:
        """Put the consolidation record unless it exists; a replay returns the recorded event."""
        key = idempotency_key(event)
        name = execution_name(event, key)
        arn = execution_arn(self.state_machine_arn, name)
        item: dict[str, Any] = {
            "consolidation_id": {"S": key},
            "status": {"S": "started"},
            "received_at": {"S": received_at},
            "execution_name": {"S": name},
            "execution_arn": {"S": arn},
            "consolidation_order": {"S": event.consolidation_order},
            "correlation_id": {"S": event.correlation_id},
            "event": {"M": {k: _attribute(v) for k, v in event.to_dict().items()}},
            "source": {"S": json.dumps(dict(source), separators=(",", ":"), sort_keys=True)},
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(consolidation_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing = getattr(exc, "response", {}).get("Item") or {}
            first = stored_event(existing)
            return Recorded(
                key,
                name,
                arn,
                event=first or event,
                replay=True,
                conflicting=first is not None and first != event,
            )
        return Recorded(key, name, arn, event=event, replay=False)

    def start_fanout(self, recorded: Recorded) -> Started:
        """Start the named execution; one that already exists is this consolidation's."""
        try:
            response = self.stepfunctions.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=recorded.execution_name,
                input=workflow_input(recorded.event),
            )
        except Exception as exc:
            if _error_code(exc) != "ExecutionAlreadyExists":
                raise
            return Started(recorded.execution_arn, already=True)
        return Started(str(response["executionArn"]), already=False)
