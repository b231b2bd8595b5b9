"""The ConsolidationConsumer's fan-out workflow definition, as plain data.

A consolidation event names a prefix of consolidated files listing up to millions of
chargebacks (the seed's partition: 1,250,000). One Lambda invocation cannot update
them all within its 15 minutes, so the consumer starts this workflow once per
consolidation (its execution name is the idempotency key), and a Distributed Map over
the prefix's files runs, per file, a Distributed Map over its rows: batches of rows go
to the updater Lambda in Express children, with bounded concurrency (DynamoDB write
bursts stay predictable) and retries with jittered backoff on throttling.
"""

from __future__ import annotations

from typing import Any

from .asl import LAMBDA_INVOKE, lambda_retry

# Step Functions' payload limit per child execution is 262,144 bytes, and ItemBatcher
# measures only the Items: leave room for the BatchInput and the wrapper object.
MAX_BATCH_BYTES = 240_000
# Each batch of rows runs in an Express child (5 minutes, retries included): 40 s x
# (1 + 3 + 2) attempts + 13 s of backoff = 253 s worst case (`components.express_budget`).
DEFAULT_UPDATE_TIMEOUT_SECONDS = 40
DEFAULT_UPDATE_RETRY_ATTEMPTS = 2
UPDATE_TRANSIENT_ATTEMPTS = 3

# output_format of the event → ItemReader configuration and the file suffix it reads.
READERS: dict[str, tuple[dict[str, str], str]] = {
    "csv": ({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "*.csv"),
    "json": ({"InputType": "JSONL"}, "*.json"),
    "parquet": ({"InputType": "PARQUET"}, "*.parquet"),
}


def _rows_map(
    fmt: str,
    updater_arn: str,
    batch_size: int,
    concurrency: int,
    max_attempts: int,
    *,
    timeout_seconds: int,
) -> dict[str, Any]:
    reader, _ = READERS[fmt]
    task = f"ApplyUpdates_{fmt}"
    return {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": reader,
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        },
        "ItemBatcher": {
            "MaxItemsPerBatch": batch_size,
            "MaxInputBytesPerBatch": MAX_BATCH_BYTES,
            "BatchInput": {"consolidation.$": "$.consolidation", "file.$": "$.key"},
        },
        "MaxConcurrency": concurrency,
        "ToleratedFailurePercentage": 0,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": task,
            "States": {
                task: {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Parameters": {"FunctionName": updater_arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "TimeoutSeconds": timeout_seconds,
                    "Retry": lambda_retry(
                        max_attempts, transient_attempts=UPDATE_TRANSIENT_ATTEMPTS
                    ),
                    "End": True,
                }
            },
        },
        "ResultPath": None,
        "End": True,
    }


def consolidation_definition(
    *,
    updater_arn: str,
    batch_size: int,
    row_concurrency: int,
    file_concurrency: int,
    max_attempts: int = DEFAULT_UPDATE_RETRY_ATTEMPTS,
    timeout_seconds: int = DEFAULT_UPDATE_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Input: `{"bucket", "prefix", "format", "consolidation": {...}}` from the consumer."""
    fmt_choices = [
        {
            "And": [
                {"Variable": "$.format", "StringEquals": fmt},
                {"Variable": "$.key", "StringMatches": suffix},
            ],
            "Next": f"UpdateRows_{fmt}",
        }
        for fmt, (_, suffix) in READERS.items()
    ]
    file_states: dict[str, Any] = {
        "RouteByFormat": {
            "Type": "Choice",
            "Choices": fmt_choices,
            "Default": "SkipFile",
        },
        "SkipFile": {
            "Type": "Succeed",
            "Comment": "Not a data file of this format (e.g. _SUCCESS markers)",
        },
    }
    for fmt in READERS:
        file_states[f"UpdateRows_{fmt}"] = _rows_map(
            fmt,
            updater_arn,
            batch_size,
            row_concurrency,
            max_attempts,
            timeout_seconds=timeout_seconds,
        )
    return {
        "Comment": "orderflow ConsolidationConsumer: update every chargeback of one consolidation",
        "StartAt": "ForEachFile",
        "States": {
            "ForEachFile": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.prefix"},
                },
                "ItemSelector": {
                    "bucket.$": "$.bucket",
                    "key.$": "$$.Map.Item.Value.Key",
                    "format.$": "$.format",
                    "consolidation.$": "$.consolidation",
                },
                "MaxConcurrency": file_concurrency,
                "ToleratedFailurePercentage": 0,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "RouteByFormat",
                    "States": file_states,
                },
                "ResultPath": None,
                "Next": "Consolidated",
            },
            "Consolidated": {"Type": "Succeed"},
        },
    }
