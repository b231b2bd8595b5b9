"""Lambda event source mappings whose source is an Amazon MSK cluster.

moto refuses Kafka sources, so the mapping lives in the emulator
(`emulator.services.msk_mapping`), reading the in-emulator topic log of its cluster ARN.
The cluster itself is not a stack resource (the component attaches to an existing one):
any `arn:aws:kafka:…:cluster/<name>/<uuid>` is accepted, and its topics exist once a
scenario or test creates them (`emulator.kafka.create_topic`).

Settings are checked as CreateEventSourceMapping checks them for MSK. Other sources
(SQS, DynamoDB and Kinesis streams, self-managed Kafka) and on-failure destinations other
than S3 are refused with a message saying so, rather than created and never run.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from emulator.program import ACCOUNT, REGION
from emulator.provision.registry import Provisioned, Request, provisioner
from emulator.services.msk_mapping import MappingConfig, MskMapping
from orderflow.aws_facts import (
    LAMBDA_ESM_BATCH_SIZE,
    LAMBDA_ESM_MAX_RECORD_AGE_SECONDS,
    LAMBDA_ESM_MAX_RETRY_ATTEMPTS,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")


class UnsupportedMappingError(ValueError):
    """A mapping AWS may accept but the emulator does not run."""


def _check(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise UnsupportedMappingError(f"event source mapping '{name}': {message}")


def _int(request: Request, key: str, default: int) -> int:
    value = request.int(key)
    return default if value is None else value


@provisioner("aws:lambda/eventSourceMapping:EventSourceMapping")
def event_source_mapping(emulator: Emulator, request: Request) -> Provisioned:
    name = request.name
    source = str(request.get("eventSourceArn") or "")
    _check(
        source.startswith("arn:aws:kafka:") and ":cluster/" in source,
        name,
        f"only Amazon MSK sources are emulated, not {source or 'a self-managed source'}",
    )
    function = emulator.runtime.get(str(request.get("functionName"))).config
    topics = list(request.get("topics") or [])
    _check(len(topics) == 1, name, f"an MSK mapping reads exactly one topic, not {topics}")
    position = request.get("startingPosition")
    _check(
        position in STARTING_POSITIONS,
        name,
        f"startingPosition must be one of {STARTING_POSITIONS}, not {position!r}",
    )
    batch_size = _int(request, "batchSize", 100)
    sizes = LAMBDA_ESM_BATCH_SIZE.value
    _check(batch_size in sizes, name, f"batchSize must be {sizes}, not {batch_size}")
    retries = _int(request, "maximumRetryAttempts", -1)
    attempts = LAMBDA_ESM_MAX_RETRY_ATTEMPTS.value
    _check(retries in attempts, name, f"maximumRetryAttempts must be {attempts}: {retries}")
    record_age = _int(request, "maximumRecordAgeInSeconds", -1)
    ages = LAMBDA_ESM_MAX_RECORD_AGE_SECONDS.value
    _check(
        record_age == -1 or record_age in ages,
        name,
        f"maximumRecordAgeInSeconds must be -1 or {ages}, not {record_age}",
    )
    response_types = list(request.get("functionResponseTypes") or [])
    _check(
        set(response_types) <= {"ReportBatchItemFailures"},
        name,
        f"functionResponseTypes may only hold ReportBatchItemFailures: {response_types}",
    )
    on_failure = _destination(request)
    _check(
        on_failure is None or on_failure.startswith("arn:aws:s3:::"),
        name,
        f"only S3 on-failure destinations are emulated for MSK, not {on_failure}",
    )
    kafka_config: dict[str, Any] = request.get("amazonManagedKafkaEventSourceConfig") or {}
    mapping_uuid = str(
        uuid.UUID(bytes=hashlib.sha256(f"esm/{name}".encode()).digest()[:16], version=4)
    )
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{mapping_uuid}"
    config = MappingConfig(
        uuid=mapping_uuid,
        arn=arn,
        function_arn=function.arn,
        function_name=function.name,
        role_arn=function.role_arn,
        cluster_arn=source,
        topic=str(topics[0]),
        # Without a consumer group id Lambda uses the mapping's UUID.
        group=str(kafka_config.get("consumerGroupId") or mapping_uuid),
        batch_size=batch_size,
        starting_position=str(position),
        maximum_retry_attempts=retries,
        maximum_record_age_seconds=record_age,
        bisect_on_error=bool(request.get("bisectBatchOnFunctionError", False)),
        report_batch_item_failures="ReportBatchItemFailures" in response_types,
        on_failure=on_failure,
        enabled=bool(request.get("enabled", True)),
    )
    emulator.kafka.add_mapping(MskMapping(emulator, emulator.kafka, config))
    return mapping_uuid, {
        "uuid": mapping_uuid,
        "arn": arn,
        "functionArn": function.arn,
        "state": "Enabled" if config.enabled else "Disabled",
        "stateTransitionReason": "USER_INITIATED",
        "lastProcessingResult": "No records processed",
        "amazonManagedKafkaEventSourceConfig": {"consumerGroupId": config.group},
    }


def _destination(request: Request) -> str | None:
    on_failure = (request.get("destinationConfig") or {}).get("onFailure") or {}
    destination = on_failure.get("destinationArn")
    return str(destination) if destination else None
