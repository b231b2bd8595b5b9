"""Apply one consolidation to a batch of chargeback rows: idempotent, ordered, bounded.

Each chargeback gets one conditional UpdateItem:
  attribute_exists(chargeback_id)                       never create a chargeback
  AND (attribute_not_exists(consolidation_order)
       OR consolidation_order < :order)                 only move forward
With ReturnValuesOnConditionCheckFailure=ALL_OLD a failed condition tells the two cases
apart without a read (the updater may only UpdateItem): an old image means the item is
already at this consolidation or a newer one (a replay, or an older sequence arriving
late: nothing changes, `updated_at` included); no image means the chargeback is missing.

The order key ends with the consolidation's id (schema.order_key), so two consolidations
with the same partition date and sequence (two jobs, or one re-published elsewhere) are
not mistaken for replays of each other: the one whose id sorts last wins on every
chargeback both list, in whichever order they arrive. That tie is reported, not hidden:
`tiesWon` (this update replaced the other consolidation; seen in ReturnValues=UPDATED_OLD)
and `tiesLost` (the other one holds the chargeback), with a warning naming the other job.

Updates run on a bounded thread pool sharing one client (boto3 clients are thread-safe).
Throttling and 5xx answers are retried with full-jitter backoff on top of botocore's own
retries; whatever still fails makes the invocation raise so Step Functions retries the
batch, which is safe because every update is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from orderflow import aws_facts
from runtime.common import clients
from runtime.common.dead_letter import DeadLetter, build_dead_letter
from runtime.common.retry import RetryPolicy
from runtime.consolidation.schema import ConsolidationAttributes, same_position

MAX_BATCH_ROWS: Final = 500  # the workflow's ItemBatcher.MaxItemsPerBatch default
MAX_CHARGEBACK_ID_BYTES: Final = aws_facts.DYNAMODB_MAX_PARTITION_KEY_BYTES.value
CHARGEBACKS_MISSING: Final = "chargebacks_missing"
ROW_WITHOUT_CHARGEBACK_ID: Final = "row_without_chargeback_id"
THROTTLING_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TransactionConflictException",
    }
)
_ATTRIBUTE_NAMES: Final = (
    "consolidation_status",
    "consolidation_s3_path",
    "consolidation_date",
    "consolidation_execution",
    "consolidation_job_name",
    "output_format",
    "records_in_consolidation",
    "consolidation_order",
    "updated_at",
)
UPDATE_EXPRESSION: Final = "SET " + ", ".join(
    f"#a{index} = :a{index}" for index in range(len(_ATTRIBUTE_NAMES))
)
CONDITION_EXPRESSION: Final = (
    "attribute_exists(chargeback_id) AND "
    f"(attribute_not_exists(#a{_ATTRIBUTE_NAMES.index('consolidation_order')}) OR "
    f"#a{_ATTRIBUTE_NAMES.index('consolidation_order')} < "
    f":a{_ATTRIBUTE_NAMES.index('consolidation_order')})"
)


class BatchInputError(ValueError):
    """The updater's input breaks the workflow contract (a bug, not bad data)."""


class UpdatesFailedError(RuntimeError):
    """Some updates kept failing; raising makes Step Functions retry the batch."""


class Outcome(StrEnum):
    """What one chargeback's update did."""

    UPDATED = "updated"
    CURRENT = "alreadyCurrent"
    MISSING = "missing"
    TIE_WON = "tiesWon"
    """Updated over another consolidation with the same date and sequence."""
    TIE_LOST = "tiesLost"
    """Left alone: another consolidation with the same date and sequence sorts after this one."""


@dataclass(frozen=True)
class UpdateBatch:
    """One Distributed Map batch: the consolidation, the file it came from, its rows."""

    consolidation: ConsolidationAttributes
    file: str
    rows: Sequence[Any]


def parse_batch(event: Mapping[str, Any]) -> UpdateBatch:
    """`{"Items": [...], "BatchInput": {"consolidation": {...}, "file": key}}` → UpdateBatch."""
    items = event.get("Items")
    batch_input = event.get("BatchInput")
    if not isinstance(items, list) or not isinstance(batch_input, dict):
        raise BatchInputError("expected {'Items': [rows], 'BatchInput': {...}}")
    if len(items) > MAX_BATCH_ROWS:
        raise BatchInputError(f"{len(items)} rows exceed the batch limit of {MAX_BATCH_ROWS}")
    file = batch_input.get("file")
    if not isinstance(file, str) or not file:
        raise BatchInputError("BatchInput.file must name the object the rows came from")
    try:
        consolidation = ConsolidationAttributes.parse(batch_input.get("consolidation"))
    except ValueError as exc:
        raise BatchInputError(f"BatchInput.{exc}") from exc
    return UpdateBatch(consolidation, file, items)


# What spreadsheet exports add around a header or a value: a UTF-8 byte-order mark before
# the first header, a carriage return after the last field of a CRLF line (when a reader
# splits on LF only). Neither is ever part of a column name or a chargeback id.
_EXPORT_NOISE: Final = "\ufeff\r\n"
ID_COLUMN: Final = "chargeback_id"


def _id_value(row: dict[Any, Any]) -> object:
    """The row's `chargeback_id` value, also under a header carrying a BOM or a CR."""
    if ID_COLUMN in row:
        return row[ID_COLUMN]
    for name, value in row.items():
        if isinstance(name, str) and name.strip(_EXPORT_NOISE + " \t") == ID_COLUMN:
            return value
    return None


def chargeback_id(row: object) -> str | None:
    """The row's chargeback id (CSV and JSON give strings; an integer id is taken as text).

    Files exported with a byte-order mark and CRLF line endings are read like any other:
    the header `\ufeffchargeback_id` names the same column, and a trailing CR is dropped.
    """
    if not isinstance(row, dict):
        return None
    value = _id_value(row)
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip(_EXPORT_NOISE)
    if not value.strip():
        return None
    if len(value.encode("utf-8", "surrogatepass")) > MAX_CHARGEBACK_ID_BYTES:
        return None
    return value


@dataclass(frozen=True)
class RowPlan:
    """Distinct ids in row order, repeated ids, and rows that name no chargeback."""

    ids: list[str]
    repeats: int
    invalid_rows: list[tuple[int, Any]]


def plan_rows(rows: Sequence[Any]) -> RowPlan:
    ids: dict[str, None] = {}
    repeats = 0
    invalid: list[tuple[int, Any]] = []
    for index, row in enumerate(rows):
        identifier = chargeback_id(row)
        if identifier is None:
            invalid.append((index, row))
        elif identifier in ids:
            repeats += 1
        else:
            ids[identifier] = None
    return RowPlan(list(ids), repeats, invalid)


def update_request(
    table_name: str, identifier: str, consolidation: ConsolidationAttributes, updated_at: str
) -> dict[str, Any]:
    """The UpdateItem parameters for one chargeback."""
    values: dict[str, str | int] = {**consolidation.to_dict(), "updated_at": updated_at}
    return {
        "TableName": table_name,
        "Key": {"chargeback_id": {"S": identifier}},
        "UpdateExpression": UPDATE_EXPRESSION,
        "ConditionExpression": CONDITION_EXPRESSION,
        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(_ATTRIBUTE_NAMES)},
        "ExpressionAttributeValues": {
            f":a{i}": ({"N": str(v)} if isinstance(v := values[name], int) else {"S": v})
            for i, name in enumerate(_ATTRIBUTE_NAMES)
        },
        "ReturnValues": "UPDATED_OLD",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _text(image: Any, name: str) -> str | None:
    value = image.get(name) if isinstance(image, dict) else None
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def classify(image: Any, order: str, *, updated: bool) -> Outcome:
    """What an update did, from the old image: a plain update or replay, or a tie."""
    before = _text(image, "consolidation_order")
    tie = before is not None and before != order and same_position(before, order)
    if updated:
        return Outcome.TIE_WON if tie else Outcome.UPDATED
    return Outcome.TIE_LOST if tie else Outcome.CURRENT


def _error(exc: Exception) -> tuple[str, int]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", 0
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code, int(status) if isinstance(status, int) else 0


def is_transient(exc: Exception) -> bool:
    """Throttling, a 5xx answer, or a connection problem: worth another try."""
    code, status = _error(exc)
    if code in THROTTLING_CODES or status >= 500:
        return True
    # botocore's connection and timeout errors carry no response; match them by name
    # so this module needs no botocore import.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ConnectionError", "HTTPClientError", "ReadTimeoutError"})


@dataclass
class UpdateResults:
    """Per-chargeback outcomes of one batch; `failed` maps ids to their last error."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    rivals: dict[str, str] = field(default_factory=dict)
    """For ties: the chargeback id → the other consolidation's job name (or order key)."""

    def ids(self, outcome: Outcome) -> list[str]:
        return [identifier for identifier, got in self.outcomes.items() if got is outcome]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for got in self.outcomes.values() if got is outcome)


class ChargebackUpdater:
    """Runs the conditional updates of one batch on a bounded pool, retrying throttling."""

    def __init__(
        self,
        table_name: str,
        *,
        dynamodb: Any = None,
        policy: RetryPolicy | None = None,
        concurrency: int = 16,
    ):
        if not table_name:
            raise ValueError("a chargebacks table name is required")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.table_name = table_name
        self._dynamodb = dynamodb
        self.policy = policy if policy is not None else RetryPolicy()
        self.concurrency = concurrency

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = clients.client("dynamodb")
        return self._dynamodb

    def apply(
        self, ids: Sequence[str], consolidation: ConsolidationAttributes, updated_at: str
    ) -> UpdateResults:
        """Update every id (each at most once); never raises for a single id's failure."""
        client = self.dynamodb  # built here, once, not racing in the worker threads
        results = UpdateResults()
        if not ids:
            return results

        order = consolidation.consolidation_order

        def one(identifier: str) -> tuple[str, tuple[Outcome, Any] | Exception]:
            request = update_request(self.table_name, identifier, consolidation, updated_at)
            try:
                return identifier, self._update(client.update_item, request, order)
            except Exception as exc:  # reported per id; the caller decides to raise
                return identifier, exc

        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(ids))) as pool:
            for identifier, outcome in pool.map(one, ids):
                if isinstance(outcome, Exception):
                    code, _ = _error(outcome)
                    results.failed[identifier] = code or type(outcome).__name__
                    continue
                got, image = outcome
                results.outcomes[identifier] = got
                if got in (Outcome.TIE_WON, Outcome.TIE_LOST):
                    results.rivals[identifier] = _text(image, "consolidation_job_name") or str(
                        _text(image, "consolidation_order")
                    )
        return results

    def _update(
        self, update_item: Callable[..., Any], request: dict[str, Any], order: str
    ) -> tuple[Outcome, Any]:
        for attempt in range(self.policy.max_attempts):
            if attempt:
                self.policy.sleep(self.policy.delay(attempt - 1))
            try:
                response = update_item(**request)
            except Exception as exc:
                code, _ = _error(exc)
                if code == "ConditionalCheckFailedException":
                    old = getattr(exc, "response", {}).get("Item")
                    if not old:
                        return Outcome.MISSING, None
                    return classify(old, order, updated=False), old
                if not is_transient(exc) or attempt == self.policy.max_attempts - 1:
                    raise
                continue
            old = response.get("Attributes") if isinstance(response, dict) else None
            return classify(old, order, updated=True), old
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def rows_digest(rows: Sequence[Any]) -> str:
    """SHA-256 of the rows' canonical JSON: the same batch retried gets the same letter id."""
    canonical = json.dumps(list(rows), separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def batch_dead_letters(
    batch: UpdateBatch, plan: RowPlan, results: UpdateResults, *, pipeline: str
) -> list[DeadLetter]:
    """At most one letter per reason per batch, listing the rows concerned verbatim."""
    missing = set(results.ids(Outcome.MISSING))
    groups: list[tuple[str, list[Any], str]] = []
    if plan.invalid_rows:
        groups.append(
            (
                ROW_WITHOUT_CHARGEBACK_ID,
                [{"index": index, "row": row} for index, row in plan.invalid_rows],
                f"{len(plan.invalid_rows)} row(s) of {batch.file} have no usable chargeback_id",
            )
        )
    if missing:
        rows = [
            {"index": index, "row": row}
            for index, row in enumerate(batch.rows)
            if chargeback_id(row) in missing
        ]
        groups.append(
            (
                CHARGEBACKS_MISSING,
                rows,
                f"{len(missing)} chargeback(s) listed in {batch.file} are not in the table; "
                "nothing was created for them",
            )
        )
    letters: list[DeadLetter] = []
    order = batch.consolidation.consolidation_order
    for reason, rows, message in groups:
        letters.append(
            build_dead_letter(
                pipeline=pipeline,
                reason=reason,
                message=message,
                source={
                    "file": batch.file,
                    "consolidation_order": order,
                    "reason": reason,
                    "rowsSha256": rows_digest(rows),
                },
                record={"consolidation": batch.consolidation.to_dict(), "rows": rows},
                full_record_at=f"the consolidated file {batch.file} holds every row",
            )
        )
    return letters


def summarize(plan: RowPlan, results: UpdateResults) -> dict[str, int]:
    """The updater's return value; a repeated id counts as already current (a no-op).

    A tie won is an update too (`updated` counts it), and also counted in `tiesWon`.
    """
    won = results.count(Outcome.TIE_WON)
    return {
        "updated": results.count(Outcome.UPDATED) + won,
        "alreadyCurrent": results.count(Outcome.CURRENT) + plan.repeats,
        "missing": results.count(Outcome.MISSING),
        "invalidRows": len(plan.invalid_rows),
        "tiesWon": won,
        "tiesLost": results.count(Outcome.TIE_LOST),
    }


def failure_summary(results: UpdateResults) -> str:
    codes = Counter(results.failed.values())
    listed = ", ".join(f"{code} x{count}" for code, count in codes.most_common())
    sample = ", ".join(sorted(results.failed)[:5])
    return (
        f"{len(results.failed)} chargeback update(s) failed after retries ({listed}); e.g. {sample}"
    )
