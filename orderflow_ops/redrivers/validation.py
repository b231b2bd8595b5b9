"""ValidationPipeline letters: one record back through the validate function, or a whole file
back through the workflow.

- A record letter (`source` names `recordIndex`) becomes a one-item batch for the
  validate function, exactly as the Distributed Map would build it: `BatchInput` from the
  source file (its `ingestedAt` is the object's LastModified, as InspectFile sets it, so
  the stored item is byte-identical to a first-time store) and the record verbatim at its
  index. The function stores it or dead-letters it again under the same id.
- A file letter (`bucket`/`key`/`versionId`, no index: unreadable, or given up on after
  a failure such as a missing permission) restarts the workflow with the replay input
  `{"bucket", "key", "versionId"}`; the table's upsert by orderId and the letters'
  deterministic ids make re-reading a partly processed file safe.
- An `inspect_failed` letter (`source.event`) restarts the workflow with that event.

Refused without `--force`: truncated records (the letter holds a preview; redrive the
file instead) and `duplicate_order_id` (storing it would overwrite the first record with
that orderId, which is the one the pipeline kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from orderflow_ops.messages import Kind, Letter
from orderflow_ops.redrivers.base import (
    Plan,
    Result,
    execution_name,
    invoke,
    skip,
    start_execution,
)
from orderflow_ops.redrivers.workflows import function_for, workflow_functions

UNSAFE_REASONS = frozenset({"duplicate_order_id"})
BATCH_FORMAT = "json_array"  # any readable format: the batch carries parsed values


def _iso_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ValidationRedriver:
    """Redrives validation letters; resolves the validate function from the workflow."""

    name = "validation"

    def __init__(
        self,
        *,
        lambda_client: Any,
        sfn: Any,
        s3: Any,
        state_machine_arn: str | None,
        validate_function: str | None = None,
    ) -> None:
        self.lambda_client = lambda_client
        self.sfn = sfn
        self.s3 = s3
        self.state_machine_arn = state_machine_arn
        self._validate_function = validate_function

    def accepts(self, letter: Letter) -> bool:
        source = letter.source
        return letter.kind is Kind.DEAD_LETTER and (
            {"bucket", "key"} <= source.keys() or isinstance(source.get("event"), Mapping)
        )

    @property
    def validate_function(self) -> str | None:
        if self._validate_function is None and self.state_machine_arn:
            functions = workflow_functions(self.sfn, self.state_machine_arn)
            self._validate_function = function_for(functions, "ValidateBatch")
        return self._validate_function

    def plan(self, letter: Letter, *, force: bool = False) -> Plan:
        source = letter.source
        if "recordIndex" in source:
            return self._record(letter, force=force)
        if isinstance(source.get("event"), Mapping):
            return self._workflow(letter, dict(source["event"]))
        replay = {k: source.get(k) for k in ("bucket", "key", "versionId")}
        return self._workflow(letter, replay)

    def _workflow(self, letter: Letter, payload: dict[str, Any]) -> Plan:
        arn = self.state_machine_arn
        if not arn:
            return skip("no workflow: pass --state-machine or --stack-outputs")
        name = execution_name(letter)
        return Plan(
            "start-execution",
            arn,
            payload,
            note=f"re-run the whole file (execution {name})",
            perform=lambda: start_execution(self.sfn, arn, payload, name),
        )

    def _record(self, letter: Letter, *, force: bool) -> Plan:
        if letter.truncated:
            return skip("the letter holds a truncated record; redrive its file instead")
        if letter.reason in UNSAFE_REASONS and not force:
            return skip(
                f"{letter.reason}: storing it would overwrite the record the pipeline kept "
                "(use --force to redrive anyway)"
            )
        function = self.validate_function
        if not function:
            return skip("no validate function: pass --function, --state-machine or outputs")
        source = letter.source
        index = source.get("recordIndex")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            return skip(f"source.recordIndex {index!r} is not a record index")
        batch: dict[str, Any] = {
            "BatchInput": {
                "bucket": source.get("bucket"),
                "key": source.get("key"),
                "versionId": source.get("versionId"),
                "ingestedAt": None,  # filled in when performed (one HeadObject)
                "format": BATCH_FORMAT,
            },
            "Items": [{"index": index, "value": letter.payload}],
        }
        return Plan(
            "invoke",
            function,
            batch,
            note=f"record {index} of s3://{source.get('bucket')}/{source.get('key')}",
            perform=lambda: self._store(function, batch, letter),
        )

    def _store(self, function: str, batch: dict[str, Any], letter: Letter) -> Result:
        batch["BatchInput"]["ingestedAt"] = self._ingested_at(letter)
        result, answer = invoke(self.lambda_client, function, batch)
        if not result.ok:
            return result
        counts = answer if isinstance(answer, Mapping) else {}
        if counts.get("stored") == 1:
            return Result(True, "stored")
        if counts.get("deadLettered") == 1:
            return Result(True, "dead-lettered again", "the record is still rejected")
        return Result(False, "unexpected answer", str(answer)[:300])

    def _ingested_at(self, letter: Letter) -> str:
        """The object's LastModified, as InspectFile stamps items (fallback: the letter's)."""
        source = letter.source
        params: dict[str, Any] = {"Bucket": source.get("bucket"), "Key": source.get("key")}
        if source.get("versionId"):
            params["VersionId"] = source["versionId"]
        try:
            head = self.s3.head_object(**params)
        except ClientError:
            stamp = letter.timestamp or _iso_seconds(datetime.now(UTC))
            return stamp[:19] + "Z" if len(stamp) >= 19 else stamp
        return _iso_seconds(head["LastModified"])
