"""The ValidationPipeline's Amazon States Language definition, as plain data.

Why this shape: the seed's inline Map puts every record in the execution payload (256 KiB
limit) and invokes Lambda once per record. Here a Distributed Map reads the file straight
from S3 with an ItemReader and hands the validation Lambda up to `batch_size` records
per invocation, in Express child workflows, so a file of 2 or 2,000,000 records costs a
handful of state transitions plus one Lambda call per batch. The children's results go
to S3 through a ResultWriter (added by the component, `components.map_results`), so the
number of batches has no 256 KiB bound.

The file's shape is decided first by the `InspectFile` Lambda (a ranged read of the
first bytes), because one ItemReader configuration cannot read a bare array, the seed's
`{"orders": [...]}` object and JSON Lines alike. The nested array is not read in place:
`ReaderConfig.ItemsPointer` could not be confirmed in AWS's documentation (a field AWS
refused would fail the stack's deployment), so InspectFile copies the array to the work
bucket and the Map reads that copy as a bare JSON array (`$.file.read*`); item i of the
copy is record i of `orders`, and each batch names the original file as its source.
"""

from __future__ import annotations

from typing import Any

from .asl import LAMBDA_INVOKE, dead_letter_task, lambda_retry

S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
# Step Functions' payload limit per child execution is 262,144 bytes, and ItemBatcher
# measures only the Items: leave room for the BatchInput and the wrapper object.
MAX_BATCH_BYTES = 240_000
# Each batch runs in an Express child (5 minutes, retries included): 40 s x (1 + 2 + 3)
# attempts + 17 s of backoff = 257 s worst case (checked by `components.express_budget`).
DEFAULT_BATCH_TIMEOUT_SECONDS = 40
DEFAULT_BATCH_RETRY_ATTEMPTS = 3
BATCH_TRANSIENT_ATTEMPTS = 2

# The reader configuration per file format that InspectFile can report.
READERS: dict[str, dict[str, str]] = {
    "json_array": {"InputType": "JSON"},
    "orders_object": {"InputType": "JSON"},  # InspectFile's bare-array copy of `orders`
    "jsonl": {"InputType": "JSONL"},
}


def _map_state(
    file_format: str,
    *,
    validate_arn: str,
    batch_size: int,
    max_concurrency: int,
    child_type: str,
    batch_timeout_seconds: int,
    batch_retry_attempts: int,
) -> dict[str, Any]:
    return {
        "Type": "Map",
        "Comment": f"Validate a {file_format} file in batches of up to {batch_size} records",
        "ItemReader": {
            "Resource": S3_GET_OBJECT,
            "ReaderConfig": READERS[file_format],
            "Parameters": {
                "Bucket.$": "$.file.readBucket",
                "Key.$": "$.file.readKey",
                "VersionId.$": "$.file.readVersionId",
            },
        },
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value"},
        "ItemBatcher": {
            "MaxItemsPerBatch": batch_size,
            "MaxInputBytesPerBatch": MAX_BATCH_BYTES,
            "BatchInput": {
                "bucket.$": "$.file.bucket",
                "key.$": "$.file.key",
                "versionId.$": "$.file.versionId",
                "ingestedAt.$": "$.file.ingestedAt",
                "format.$": "$.file.format",
            },
        },
        "MaxConcurrency": max_concurrency,
        "ToleratedFailurePercentage": 0,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": child_type},
            # State names are unique across the whole machine, nested ones included.
            "StartAt": f"ValidateBatch_{file_format}",
            "States": {
                f"ValidateBatch_{file_format}": {
                    "Type": "Task",
                    "Resource": LAMBDA_INVOKE,
                    "Parameters": {"FunctionName": validate_arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    # An Express child: timeout x attempts + backoff must fit 5 minutes.
                    "TimeoutSeconds": batch_timeout_seconds,
                    "Retry": lambda_retry(
                        batch_retry_attempts, transient_attempts=BATCH_TRANSIENT_ATTEMPTS
                    ),
                    "End": True,
                }
            },
        },
        "ResultPath": None,
        "Catch": [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DeadLetterFile"}
        ],
        "Next": "FileValidated",
    }


def validation_definition(
    *,
    inspect_arn: str,
    validate_arn: str,
    dead_letter_queue_url: str,
    batch_size: int,
    max_concurrency: int,
    child_type: str = "EXPRESS",
    max_attempts: int = 3,
    batch_timeout_seconds: int = DEFAULT_BATCH_TIMEOUT_SECONDS,
    batch_retry_attempts: int = DEFAULT_BATCH_RETRY_ATTEMPTS,
) -> dict[str, Any]:
    """Build the workflow definition for resolved ARNs/URLs (call inside `Output.apply`)."""
    map_states = {
        f"Validate_{fmt}": _map_state(
            fmt,
            validate_arn=validate_arn,
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            child_type=child_type,
            batch_timeout_seconds=batch_timeout_seconds,
            batch_retry_attempts=batch_retry_attempts,
        )
        for fmt in READERS
    }
    file_source = {
        "bucket.$": "$.file.bucket",
        "key.$": "$.file.key",
        "versionId.$": "$.file.versionId",
    }
    return {
        "Comment": "orderflow ValidationPipeline: store or dead-letter every record of a file",
        "StartAt": "InspectFile",
        "States": {
            "InspectFile": {
                "Type": "Task",
                "Resource": LAMBDA_INVOKE,
                "Parameters": {"FunctionName": inspect_arn, "Payload.$": "$"},
                "ResultSelector": {"file.$": "$.Payload"},
                "ResultPath": "$",
                "Retry": lambda_retry(max_attempts),
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "ResultPath": "$.error",
                        "Next": "DeadLetterEvent",
                    }
                ],
                "Next": "RouteByFormat",
            },
            "RouteByFormat": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.file.format", "StringEquals": fmt, "Next": f"Validate_{fmt}"}
                    for fmt in READERS
                ],
                "Default": "FileRejected",
            },
            "FileRejected": {
                "Type": "Succeed",
                "Comment": "InspectFile dead-lettered the file with its reason, or ignored a key "
                "outside key_suffixes",
            },
            **map_states,
            "FileValidated": {"Type": "Succeed"},
            "DeadLetterFile": {
                **dead_letter_task(
                    dead_letter_queue_url,
                    pipeline="validation",
                    reason="file_unreadable",
                    id_path="$.file.fileDeadLetterId",
                    source=file_source,
                ),
                "Next": "FileFailed",
            },
            "FileFailed": {
                "Type": "Fail",
                "Error": "FileUnreadable",
                "Cause": "The file could not be read to the end; it was dead-lettered whole",
            },
            "DeadLetterEvent": {
                **dead_letter_task(
                    dead_letter_queue_url,
                    pipeline="validation",
                    reason="inspect_failed",
                    id_path="$$.Execution.Name",
                    source={"event.$": "$$.Execution.Input"},
                ),
                "Next": "InspectFailed",
            },
            "InspectFailed": {
                "Type": "Fail",
                "Error": "InspectFailed",
                "Cause": "The file could not be inspected; the triggering event was dead-lettered",
            },
        },
    }
