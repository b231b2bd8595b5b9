"""Distributed Map results: the in-state array, or a ResultWriter export to S3.

Why model ResultWriter rather than ignore it: without one, the Map's result is the array
of child outputs and AWS fails the state with States.DataLimitExceeded once that array
passes 256 KiB, even with `ResultPath: null`. ResultWriter is the documented way out, so
a workflow that adopts it must not fail here either. The export goes through the
dispatcher (`arn:aws:states:::s3:putObject` with Bucket, Key, Body) so IAM is still
enforced: one JSON (or JSONL) file per status (`SUCCEEDED_0.json`, `FAILED_0.json`) and a
`manifest.json` under `<Prefix>/<map run id>/`, and the Map's result becomes
`{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`. Files are not split at AWS's
5 GB part size. `WriterConfig.Transformation` (NONE, COMPACT, FLATTEN) and `OutputType`
(JSON, JSONL) are honoured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from emulator.states.limits import json_text
from emulator.states.model import ExecutionResult
from emulator.states.timestamps import format_timestamp

S3_PUT_OBJECT: Final = "arn:aws:states:::s3:putObject"
TRANSFORMATIONS: Final = frozenset({"NONE", "COMPACT", "FLATTEN"})
OUTPUT_TYPES: Final = frozenset({"JSON", "JSONL"})
WRITER_FIELDS: Final = frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"})
WRITER_CONFIG_FIELDS: Final = frozenset({"Transformation", "OutputType"})


@dataclass(frozen=True)
class ChildRun:
    """A finished child execution and when it started."""

    result: ExecutionResult
    started: datetime

    @property
    def succeeded(self) -> bool:
        return self.result.status == "SUCCEEDED"


def compact(child: ChildRun) -> Any:
    """The child's output, or for a failed child its error (the default Map result)."""
    if child.succeeded:
        return child.result.output
    return {"Error": child.result.error, "Cause": child.result.cause}


def describe(child: ChildRun, state_machine_arn: str) -> dict[str, Any]:
    """A child as the NONE transformation reports it (execution metadata, JSON as text)."""
    result = child.result
    stopped = child.started.timestamp() + result.virtual_seconds
    record: dict[str, Any] = {
        "ExecutionArn": result.execution_arn,
        "Input": json_text(result.input),
        "InputDetails": {"Included": True},
        "Name": result.name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": format_timestamp(child.started),
        "StateMachineArn": state_machine_arn,
        "Status": result.status,
        "StopDate": format_timestamp(datetime.fromtimestamp(stopped, child.started.tzinfo)),
    }
    if child.succeeded:
        record["Output"] = json_text(result.output)
        record["OutputDetails"] = {"Included": True}
    else:
        record["Error"] = result.error
        record["Cause"] = result.cause
    return record


def transform(
    children: Sequence[ChildRun], transformation: str, state_machine_arn: str
) -> list[Any]:
    """Child results per `WriterConfig.Transformation` (failed children stay described)."""
    if transformation == "NONE":
        return [describe(child, state_machine_arn) for child in children]
    results: list[Any] = []
    for child in children:
        if not child.succeeded:
            results.append(describe(child, state_machine_arn))
        elif transformation == "FLATTEN" and isinstance(child.result.output, list):
            results.extend(child.result.output)
        else:
            results.append(child.result.output)
    return results


@dataclass(frozen=True)
class Export:
    """What a ResultWriter writes: (key, body) files, then the manifest, and the result."""

    files: list[tuple[str, str]]
    result: dict[str, Any]


def plan_export(
    children: Sequence[ChildRun],
    *,
    parameters: Mapping[str, Any],
    config: Mapping[str, Any],
    map_run_arn: str,
    state_machine_arn: str,
) -> Export:
    bucket = str(parameters.get("Bucket", ""))
    prefix = str(parameters.get("Prefix", "")).strip("/")
    run_id = map_run_arn.rsplit(":", 1)[-1]
    base = f"{prefix}/{run_id}" if prefix else run_id
    transformation = config.get("Transformation", "NONE")
    extension = "jsonl" if config.get("OutputType") == "JSONL" else "json"
    files: list[tuple[str, str]] = []
    manifest: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED"):
        group = [child for child in children if child.succeeded == (status == "SUCCEEDED")]
        if not group:
            continue
        records = transform(group, transformation, state_machine_arn)
        if extension == "jsonl":
            body = "".join(json_text(record) + "\n" for record in records)
        else:
            body = json_text(records)
        key = f"{base}/{status}_0.{extension}"
        files.append((key, body))
        manifest[status].append({"Key": key, "Size": len(body.encode("utf-8"))})
    manifest_key = f"{base}/manifest.json"
    files.append(
        (
            manifest_key,
            json_text(
                {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": manifest}
            ),
        )
    )
    result = {
        "MapRunArn": map_run_arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
    }
    return Export(files, result)
