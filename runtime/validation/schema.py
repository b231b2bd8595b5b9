"""Declarative schema of one sales record, and the pure function that applies it.

The seed's own sample spells `OrderId` in one record and `orderId` in the next and
expects the first stored, so field names match case-insensitively and ignoring `-` and
`_`. Two spellings of one field in one object are ambiguous and rejected rather than
guessed. JSON `null` counts as absent. Unknown extra fields are ignored.

When a record has several problems the message lists them all; the machine-readable
reason is the first, with structural problems (ambiguous or missing sections) ahead of
field-level ones, so a record without contact-info is always `missing_contact_info`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from orderflow import aws_facts
from runtime.common.dynamodb_item import json_depth

NOT_AN_OBJECT: Final = "not_an_object"
MISSING_ORDER_INFO: Final = "missing_order_info"
MISSING_CONTACT_INFO: Final = "missing_contact_info"
MISSING_FIELD: Final = "missing_field"
INVALID_FIELD: Final = "invalid_field"
AMBIGUOUS_FIELD: Final = "ambiguous_field"
DUPLICATE_ORDER_ID: Final = "duplicate_order_id"  # decided per batch, see batch.py
RECORD_TOO_LARGE: Final = "record_too_large"
RECORD_TOO_DEEP: Final = "record_too_deep"

RECORD_REASONS: Final = frozenset(
    {
        NOT_AN_OBJECT,
        MISSING_ORDER_INFO,
        MISSING_CONTACT_INFO,
        MISSING_FIELD,
        INVALID_FIELD,
        AMBIGUOUS_FIELD,
        DUPLICATE_ORDER_ID,
        RECORD_TOO_LARGE,
        RECORD_TOO_DEEP,
    }
)

# A sales record is a few hundred bytes. Anything over 64 KiB (compact, ASCII-escaped
# JSON) is a data error such as a whole file nested into one record; rejecting it up front
# bounds the work per record and keeps its dead letter whole in most cases.
MAX_RECORD_BYTES: Final = 64 * 1024
# A sales record is two levels deep. One nested deeper than DynamoDB can hold a document
# (32 levels) is no sales record: it is refused by name, whatever its fields say.
MAX_RECORD_DEPTH: Final = aws_facts.DYNAMODB_MAX_NESTING_DEPTH.value
# Far inside DynamoDB's 38-digit numbers, so a stored quantity can never fail the write
# (which would poison the whole batch); a larger quantity is a data error, not an order.
MAX_QUANTITY: Final = 1_000_000_000

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_DIGITS = re.compile(r"[0-9]+")


class Kind(Enum):
    """How a field's raw JSON value is checked and normalised."""

    TEXT = "text"
    IDENTIFIER = "identifier"
    EMAIL = "email"
    QUANTITY = "quantity"


@dataclass(frozen=True)
class FieldSpec:
    """One field: canonical name, kind, whether required, limits, ValidRecord attribute."""

    name: str
    kind: Kind
    required: bool
    attribute: str
    max_len: int | None = None


@dataclass(frozen=True)
class SectionSpec:
    """A nested object of the record and the reason used when it is absent."""

    name: str
    missing_reason: str
    fields: tuple[FieldSpec, ...]


SCHEMA: Final[tuple[SectionSpec, ...]] = (
    SectionSpec(
        "order-info",
        MISSING_ORDER_INFO,
        (
            FieldSpec("orderId", Kind.IDENTIFIER, True, "order_id", max_len=128),
            FieldSpec("item-id", Kind.IDENTIFIER, True, "item_id", max_len=128),
            FieldSpec("item-desc", Kind.TEXT, False, "item_description", max_len=1024),
            FieldSpec("qty", Kind.QUANTITY, True, "quantity"),
        ),
    ),
    SectionSpec(
        "contact-info",
        MISSING_CONTACT_INFO,
        (
            FieldSpec("name", Kind.TEXT, True, "customer_name", max_len=256),
            FieldSpec("email", Kind.EMAIL, True, "customer_email", max_len=254),
        ),
    ),
)


@dataclass(frozen=True)
class ValidRecord:
    """A record that passed the schema, with normalised values ready to store."""

    order_id: str
    item_id: str
    item_description: str | None
    quantity: int
    customer_name: str
    customer_email: str


@dataclass(frozen=True)
class Rejection:
    """Why a record is not stored: machine-readable `reason`, human `message`."""

    reason: str
    message: str


class _Invalid(Exception):
    """Raised by a converter with the human explanation of what is wrong."""


def normalise_key(key: str) -> str:
    """`OrderId`, `order_id`, `order-id` and `orderID` all become `orderid`."""
    return key.replace("-", "").replace("_", "").casefold()


_JSON_TYPES: Final = (
    (bool, "boolean"),  # before int: bool is an int subclass
    (int, "number"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
    (type(None), "null"),
)


def json_type(value: Any) -> str:
    """JSON name of a parsed value's type, for messages."""
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _text(value: Any, spec: FieldSpec) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string, got {json_type(value)}")
    text = value.strip()
    if not text:
        raise _Invalid("must not be empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from JSON "\ud800"
        raise _Invalid("is not valid Unicode text") from exc
    if spec.max_len is not None and len(text) > spec.max_len:
        raise _Invalid(f"is {len(text)} characters, over the limit of {spec.max_len}")
    return text


def _identifier(value: Any, spec: FieldSpec) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        limit = spec.max_len or 128
        if abs(value) >= 10**limit:
            raise _Invalid(f"has more than {limit} digits")
        return str(value)
    if not isinstance(value, str):
        raise _Invalid(f"must be a string or an integer, got {json_type(value)}")
    return _text(value, spec)


def _email(value: Any, spec: FieldSpec) -> str:
    text = _text(value, spec)
    if not _EMAIL.fullmatch(text):
        raise _Invalid(f"is not a plausible email address: {text[:80]!r}")
    return text


def _quantity(value: Any, spec: FieldSpec) -> int:
    if isinstance(value, bool):
        raise _Invalid("must be a positive integer, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        digits = value.strip().lstrip("0") or "0"
        # Bound the digits before int(): Python refuses to convert very long strings.
        number = int(digits) if len(digits) <= len(str(MAX_QUANTITY)) else MAX_QUANTITY + 1
    else:
        shown = repr(value)[:40] if isinstance(value, str | float) else json_type(value)
        raise _Invalid(f"must be a positive integer, got {shown}")
    if number < 1:
        raise _Invalid(f"must be a positive integer, got {number}")
    if number > MAX_QUANTITY:
        raise _Invalid(f"must not exceed {MAX_QUANTITY}")
    return number


_CONVERTERS: Final[Mapping[Kind, Callable[[Any, FieldSpec], Any]]] = {
    Kind.TEXT: _text,
    Kind.IDENTIFIER: _identifier,
    Kind.EMAIL: _email,
    Kind.QUANTITY: _quantity,
}


def _index(obj: Mapping[Any, Any]) -> dict[str, list[tuple[str, Any]]]:
    """Group an object's entries by normalised key, keeping the spellings seen."""
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for key, value in obj.items():
        if isinstance(key, str):
            grouped.setdefault(normalise_key(key), []).append((key, value))
    return grouped


def _spellings(entries: list[tuple[str, Any]]) -> str:
    return " and ".join(repr(key) for key, _ in entries)


def record_size(record: Any) -> int:
    """Size of a record as compact, ASCII-escaped JSON (the form dead letters carry)."""
    return len(json.dumps(record, separators=(",", ":"), ensure_ascii=True))


def validate_record(record: Any, *, max_bytes: int = MAX_RECORD_BYTES) -> ValidRecord | Rejection:
    """Apply SCHEMA to one parsed JSON value."""
    if not isinstance(record, dict):
        return Rejection(NOT_AN_OBJECT, f"record is a JSON {json_type(record)}, not an object")
    depth = json_depth(record)
    if depth > MAX_RECORD_DEPTH:
        return Rejection(
            RECORD_TOO_DEEP,
            f"record is nested {depth} levels deep, over DynamoDB's {MAX_RECORD_DEPTH}",
        )
    size = record_size(record)
    if size > max_bytes:
        return Rejection(
            RECORD_TOO_LARGE, f"record is {size} bytes as JSON, over the limit of {max_bytes}"
        )

    structural: list[tuple[str, str]] = []
    field_problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    top = _index(record)
    for section in SCHEMA:
        entries = top.get(normalise_key(section.name), [])
        if len(entries) > 1:
            structural.append(
                (AMBIGUOUS_FIELD, f"{section.name} is given twice, as {_spellings(entries)}")
            )
        elif not entries or entries[0][1] is None:
            structural.append((section.missing_reason, f"{section.name} is missing"))
        elif not isinstance(entries[0][1], dict):
            structural.append(
                (INVALID_FIELD, f"{section.name} must be an object, got {json_type(entries[0][1])}")
            )
        else:
            field_problems.extend(_check_section(section, entries[0][1], values))

    problems = structural + field_problems
    if problems:
        return Rejection(problems[0][0], "; ".join(message for _, message in problems))
    return ValidRecord(**values)


def _check_section(
    section: SectionSpec, body: Mapping[str, Any], values: dict[str, Any]
) -> list[tuple[str, str]]:
    """Convert the section's fields into `values`; return the problems found."""
    problems: list[tuple[str, str]] = []
    fields = _index(body)
    for spec in section.fields:
        path = f"{section.name}.{spec.name}"
        present = fields.get(normalise_key(spec.name), [])
        if len(present) > 1:
            problems.append((AMBIGUOUS_FIELD, f"{path} is given twice, as {_spellings(present)}"))
        elif not present or present[0][1] is None or _blank_optional(present[0][1], spec):
            if spec.required:
                problems.append((MISSING_FIELD, f"{path} is missing"))
            else:
                values[spec.attribute] = None
        else:
            try:
                values[spec.attribute] = _CONVERTERS[spec.kind](present[0][1], spec)
            except _Invalid as why:
                problems.append((INVALID_FIELD, f"{path} {why}"))
    return problems


def _blank_optional(value: Any, spec: FieldSpec) -> bool:
    """An optional text field holding only whitespace is treated as absent."""
    return not spec.required and isinstance(value, str) and not value.strip()
