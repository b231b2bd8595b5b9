"""Declarative schema of a consolidation event, and the attributes it writes to chargebacks.

Pure: no AWS, no environment. The validator checks every field and reports all problems
(each naming its field), so a dead letter says everything that is wrong at once. Rules:
JSON `null` counts as absent, booleans are not integers, unknown extra fields are ignored
(the producer may add some), and an `event_type` other than `consolidation_completed` is
not an error but a different event this consumer does not handle (`Unsupported`).

Integers are capped at 2**53 - 1, the largest every JSON reader (Step Functions, a
browser) holds exactly; `execution_sequence` at 999,999,999 because the ordering key
zero-pads it to 9 digits and must compare as a string.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

from orderflow import aws_facts

CONSOLIDATION_COMPLETED: Final = "consolidation_completed"
OUTPUT_FORMATS: Final = ("csv", "parquet", "json")

# Machine-readable reasons (dead letters and metrics count by these).
NOT_AN_OBJECT: Final = "not_an_object"
MISSING_FIELD: Final = "missing_field"
INVALID_FIELD: Final = "invalid_field"
OUTPUT_PATH_NOT_ALLOWED: Final = "output_path_not_allowed"

MAX_JSON_INT: Final = 2**53 - 1
MAX_SEQUENCE: Final = 999_999_999
MAX_JOB_NAME: Final = aws_facts.GLUE_MAX_JOB_NAME_LENGTH.value
MAX_S3_KEY_BYTES: Final = aws_facts.S3_MAX_KEY_BYTES.value
_PREVIEW_CHARS: Final = 60

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.{0,40}", re.DOTALL)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ORDER = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})#([0-9]{9})#([0-9a-f]{16})")
_ID_VERSION: Final = "v1"  # bump only with a migration: it changes every consolidation id
ORDER_TIEBREAK_CHARS: Final = 16


def consolidation_id(
    job_name: str, partition_date: str, execution_sequence: int, output_path: str
) -> str:
    """SHA-256 (hex) over the canonical JSON of what identifies one consolidation.

    A trailing `/` on output_path does not make a different consolidation: the workflow
    lists the same prefix either way.
    """
    identity = [_ID_VERSION, job_name, partition_date, execution_sequence, output_path.rstrip("/")]
    canonical = json.dumps(identity, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def order_key(job_name: str, partition_date: str, execution_sequence: int, output_path: str) -> str:
    """`<date>#<9-digit sequence>#<first 16 hex of the consolidation id>`.

    Later dates, then later sequences, compare greater. Two different consolidations with
    the same date and sequence (two jobs, or one job re-published to another path) still
    get different keys, so neither is mistaken for a replay of the other; the one whose
    id sorts last wins on every chargeback both touch, whatever order they arrive in.
    """
    digest = consolidation_id(job_name, partition_date, execution_sequence, output_path)
    return f"{partition_date}#{execution_sequence:09d}#{digest[:ORDER_TIEBREAK_CHARS]}"


def same_position(first: str, second: str) -> bool:
    """Two order keys with the same date and sequence (replays, or a tie between jobs)."""
    return first.rpartition("#")[0] == second.rpartition("#")[0]


class Kind(Enum):
    """How one field's JSON value is checked."""

    TEXT = "a string"
    NAME = f"a non-blank string of at most {MAX_JOB_NAME} characters"
    DATE = "a real calendar date as YYYY-MM-DD"
    SEQUENCE = f"an integer from 1 to {MAX_SEQUENCE}"
    COUNT = f"an integer from 0 to {MAX_JSON_INT}"
    FORMAT = f"one of {', '.join(OUTPUT_FORMATS)}"
    S3_URI = "an s3://bucket/prefix URI"
    DATETIME = "an ISO-8601 date and time"
    DATETIME_TZ = "an ISO-8601 date and time with a UTC offset"


@dataclass(frozen=True)
class FieldSpec:
    """One field of the event: its name and kind; `at_least` names a field it may not undercut."""

    name: str
    kind: Kind
    at_least: str | None = None


SCHEMA: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("event_type", Kind.TEXT),
    FieldSpec("partition_date", Kind.DATE),
    FieldSpec("execution_sequence", Kind.SEQUENCE),
    FieldSpec("total_executions", Kind.SEQUENCE, at_least="execution_sequence"),
    FieldSpec("records_processed", Kind.COUNT),
    FieldSpec("duplicates_removed", Kind.COUNT),
    FieldSpec("output_files", Kind.COUNT),
    FieldSpec("output_format", Kind.FORMAT),
    FieldSpec("output_path", Kind.S3_URI),
    FieldSpec("execution_time", Kind.DATETIME),
    FieldSpec("completed_at", Kind.DATETIME_TZ),
    FieldSpec("job_name", Kind.NAME),
)
FIELD_NAMES: Final = tuple(spec.name for spec in SCHEMA)


def _is_int(value: object, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _is_date(value: object) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def split_s3_uri(uri: str) -> tuple[str, str] | None:
    """`s3://bucket/key-prefix` → (bucket, key prefix); None unless both parts are valid."""
    if not uri.startswith("s3://"):
        return None
    bucket, slash, key = uri[5:].partition("/")
    if not slash or not key or not _BUCKET.fullmatch(bucket) or ".." in bucket:
        return None
    if _CONTROL.search(key) or len(key.encode("utf-8", "surrogatepass")) > MAX_S3_KEY_BYTES:
        return None
    return bucket, key


def _is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and split_s3_uri(value) is not None


CHECKS: Final[dict[Kind, Callable[[object], bool]]] = {
    Kind.TEXT: lambda v: isinstance(v, str),
    Kind.NAME: lambda v: isinstance(v, str) and 0 < len(v) <= MAX_JOB_NAME and bool(v.strip()),
    Kind.DATE: _is_date,
    Kind.SEQUENCE: lambda v: _is_int(v, 1, MAX_SEQUENCE),
    Kind.COUNT: lambda v: _is_int(v, 0, MAX_JSON_INT),
    Kind.FORMAT: lambda v: v in OUTPUT_FORMATS,
    Kind.S3_URI: _is_s3_uri,
    Kind.DATETIME: lambda v: _parse_datetime(v) is not None,
    Kind.DATETIME_TZ: lambda v: (
        (parsed := _parse_datetime(v)) is not None and parsed.tzinfo is not None
    ),
}


@dataclass(frozen=True)
class Violation:
    """One problem with one field (`field` is None when the value is not an object)."""

    field: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class Invalid:
    """A rejected event: every violation found; the first one's reason is the dead-letter's."""

    violations: tuple[Violation, ...]

    @property
    def reason(self) -> str:
        return self.violations[0].reason

    @property
    def fields(self) -> tuple[str | None, ...]:
        return tuple(violation.field for violation in self.violations)

    @property
    def message(self) -> str:
        return "; ".join(violation.message for violation in self.violations)


@dataclass(frozen=True)
class Unsupported:
    """A well-formed message of another event type: skipped, not dead-lettered."""

    event_type: str


@dataclass(frozen=True)
class ConsolidationEvent:
    """A validated `consolidation_completed` event (field names as on the wire)."""

    event_type: str
    partition_date: str
    execution_sequence: int
    total_executions: int
    records_processed: int
    duplicates_removed: int
    output_files: int
    output_format: str
    output_path: str
    execution_time: str
    completed_at: str
    job_name: str

    @property
    def consolidation_order(self) -> str:
        """Ordering key (see `order_key`): date, then sequence, then the consolidation id."""
        return order_key(
            self.job_name, self.partition_date, self.execution_sequence, self.output_path
        )

    @property
    def consolidation_id(self) -> str:
        """The ledger's idempotency key (see `consolidation_id`)."""
        return consolidation_id(
            self.job_name, self.partition_date, self.execution_sequence, self.output_path
        )

    @property
    def correlation_id(self) -> str:
        return f"{self.job_name}/{self.partition_date}/{self.execution_sequence}"

    @property
    def location(self) -> tuple[str, str]:
        """(bucket, key prefix ending in `/`): a listing of the prefix stays inside it."""
        parts = split_s3_uri(self.output_path)
        if parts is None:  # pragma: no cover - guaranteed by validation
            raise ValueError(f"not an S3 URI: {self.output_path!r}")
        bucket, key = parts
        return bucket, key.rstrip("/") + "/"

    def to_dict(self) -> dict[str, str | int]:
        return {name: getattr(self, name) for name in FIELD_NAMES}


def _preview(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 3] + "..."


def _check_fields(document: Mapping[str, Any]) -> list[Violation]:
    violations: list[Violation] = []
    valid: set[str] = set()
    for spec in SCHEMA:
        value = document.get(spec.name)
        if value is None:
            violations.append(
                Violation(
                    spec.name, MISSING_FIELD, f"{spec.name}: missing (must be {spec.kind.value})"
                )
            )
        elif not CHECKS[spec.kind](value):
            violations.append(
                Violation(
                    spec.name,
                    INVALID_FIELD,
                    f"{spec.name}: must be {spec.kind.value}, got {_preview(value)}",
                )
            )
        else:
            valid.add(spec.name)
    for spec in SCHEMA:
        other = spec.at_least
        if other and {spec.name, other} <= valid and document[spec.name] < document[other]:
            violations.append(
                Violation(
                    spec.name,
                    INVALID_FIELD,
                    f"{spec.name}: must be at least {other} ({document[other]}), "
                    f"got {document[spec.name]}",
                )
            )
    return violations


def parse_event(value: object) -> ConsolidationEvent | Invalid | Unsupported:
    """Classify one decoded message: a valid event, another event type, or invalid."""
    if not isinstance(value, dict):
        return Invalid(
            (
                Violation(
                    None, NOT_AN_OBJECT, f"message must be a JSON object, got {_preview(value)}"
                ),
            )
        )
    event_type = value.get("event_type")
    if isinstance(event_type, str) and event_type != CONSOLIDATION_COMPLETED:
        return Unsupported(event_type)
    violations = _check_fields(value)
    if violations:
        return Invalid(tuple(violations))
    return ConsolidationEvent(**{name: value[name] for name in FIELD_NAMES})


def parse_allowed_prefixes(text: str) -> tuple[str, ...]:
    """ALLOWED_OUTPUT_PREFIXES (comma-separated `s3://bucket/prefix/`) → tuple; bad ones raise."""
    prefixes = tuple(part.strip() for part in text.split(",") if part.strip())
    for prefix in prefixes:
        bucket, _, _ = prefix.removeprefix("s3://").partition("/")
        if not prefix.startswith("s3://") or not _BUCKET.fullmatch(bucket) or "/" not in prefix[5:]:
            raise ValueError(
                f"ALLOWED_OUTPUT_PREFIXES entry must be s3://bucket/prefix/: {prefix!r}"
            )
    return prefixes


def is_allowed_location(output_path: str, prefixes: tuple[str, ...]) -> bool:
    """Plain string-prefix match, as the workflow's IAM `s3:prefix` condition matches.

    The path is compared with a trailing `/`, so `s3://b/data` is inside `s3://b/data/`.
    """
    path = output_path.rstrip("/") + "/"
    return any(path.startswith(prefix) for prefix in prefixes)


def output_path_violation(event: ConsolidationEvent, prefixes: tuple[str, ...]) -> Invalid | None:
    """The dead-letter verdict for an event naming a location outside the allowed prefixes."""
    if is_allowed_location(event.output_path, prefixes):
        return None
    return Invalid(
        (
            Violation(
                "output_path",
                OUTPUT_PATH_NOT_ALLOWED,
                f"output_path: {event.output_path!r} is outside the allowed prefixes "
                f"({', '.join(prefixes)})",
            ),
        )
    )


@dataclass(frozen=True)
class ConsolidationAttributes:
    """What one consolidation writes to each chargeback (the seed's list) plus its order key.

    It travels as the workflow's `consolidation` input and comes back in every updater
    batch's `BatchInput`, where `parse` checks it again (a contract, not user input).
    """

    consolidation_status: str
    consolidation_s3_path: str
    consolidation_date: str
    consolidation_execution: int
    consolidation_job_name: str
    output_format: str
    records_in_consolidation: int
    consolidation_order: str

    @classmethod
    def from_event(cls, event: ConsolidationEvent) -> ConsolidationAttributes:
        return cls(
            consolidation_status="completed",
            consolidation_s3_path=event.output_path,
            consolidation_date=event.completed_at,
            consolidation_execution=event.execution_sequence,
            consolidation_job_name=event.job_name,
            output_format=event.output_format,
            records_in_consolidation=event.records_processed,
            consolidation_order=event.consolidation_order,
        )

    @classmethod
    def parse(cls, value: object) -> ConsolidationAttributes:
        """Check a `BatchInput.consolidation` mapping; ValueError names what is wrong."""
        if not isinstance(value, dict):
            raise ValueError(f"consolidation must be an object, got {_preview(value)}")
        problems = [
            name
            for name, ok in (
                ("consolidation_status", value.get("consolidation_status") == "completed"),
                ("consolidation_s3_path", _is_s3_uri(value.get("consolidation_s3_path"))),
                ("consolidation_date", CHECKS[Kind.DATETIME_TZ](value.get("consolidation_date"))),
                (
                    "consolidation_execution",
                    _is_int(value.get("consolidation_execution"), 1, MAX_SEQUENCE),
                ),
                ("consolidation_job_name", CHECKS[Kind.NAME](value.get("consolidation_job_name"))),
                ("output_format", value.get("output_format") in OUTPUT_FORMATS),
                (
                    "records_in_consolidation",
                    _is_int(value.get("records_in_consolidation"), 0, MAX_JSON_INT),
                ),
                ("consolidation_order", _valid_order(value.get("consolidation_order"), value)),
            )
            if not ok
        ]
        if problems:
            raise ValueError(f"consolidation has invalid or missing {', '.join(problems)}")
        return cls(**{name: value[name] for name in cls.__dataclass_fields__})

    @property
    def correlation_id(self) -> str:
        """Same id as the consumer logged: `<job_name>/<partition_date>/<execution_sequence>`."""
        partition_date, _, _ = self.consolidation_order.partition("#")
        return f"{self.consolidation_job_name}/{partition_date}/{self.consolidation_execution}"

    def to_dict(self) -> dict[str, str | int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _valid_order(order: object, value: Mapping[str, Any]) -> bool:
    """`YYYY-MM-DD#<sequence>#<id prefix>` agreeing with the job, sequence and path."""
    if not isinstance(order, str) or not (match := _ORDER.fullmatch(order)):
        return False
    job, path = value.get("consolidation_job_name"), value.get("consolidation_s3_path")
    sequence = value.get("consolidation_execution")
    if not (_is_date(match.group(1)) and isinstance(job, str) and isinstance(path, str)):
        return False
    if not (isinstance(sequence, int) and int(match.group(2)) == sequence):
        return False
    return order == order_key(job, match.group(1), sequence, path)
