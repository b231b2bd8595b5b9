"""The event schema: the seed's event, each rule, and properties over generated events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from consolidation_support import SEED_MESSAGE, message
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.consolidation.schema import (
    FIELD_NAMES,
    INVALID_FIELD,
    MAX_JSON_INT,
    MAX_SEQUENCE,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    OUTPUT_PATH_NOT_ALLOWED,
    ConsolidationAttributes,
    ConsolidationEvent,
    Invalid,
    Unsupported,
    is_allowed_location,
    output_path_violation,
    parse_allowed_prefixes,
    parse_event,
)


def test_seed_event_is_valid_and_keyed_for_ordering() -> None:
    event = parse_event(dict(SEED_MESSAGE))
    assert isinstance(event, ConsolidationEvent)
    assert event.to_dict() == SEED_MESSAGE
    assert event.consolidation_order == "2025-11-20#000000002#fc21023addaf39fd"
    assert event.correlation_id == f"{SEED_MESSAGE['job_name']}/2025-11-20/2"
    assert event.location == ("bucket", "consolidated/chargebacks/year=2025/month=11/day=20/")


def test_attributes_are_the_seeds_plus_the_order_key() -> None:
    event = parse_event(dict(SEED_MESSAGE))
    assert isinstance(event, ConsolidationEvent)
    assert ConsolidationAttributes.from_event(event).to_dict() == {
        "consolidation_status": "completed",
        "consolidation_s3_path": SEED_MESSAGE["output_path"],
        "consolidation_date": SEED_MESSAGE["completed_at"],
        "consolidation_execution": 2,
        "consolidation_job_name": SEED_MESSAGE["job_name"],
        "output_format": "csv",
        "records_in_consolidation": 1250000,
        "consolidation_order": "2025-11-20#000000002#fc21023addaf39fd",
    }


@pytest.mark.parametrize("value", [[SEED_MESSAGE], "text", 3, None])
def test_non_objects_are_rejected(value: Any) -> None:
    result = parse_event(value)
    assert isinstance(result, Invalid)
    assert result.reason == NOT_AN_OBJECT


def test_other_event_types_are_unsupported_not_invalid() -> None:
    assert parse_event({"event_type": "consolidation_started"}) == Unsupported(
        "consolidation_started"
    )


def test_every_problem_is_listed_with_its_field() -> None:
    result = parse_event(message(partition_date="2025-02-30", job_name=..., output_files=-1))
    assert isinstance(result, Invalid)
    assert result.fields == ("partition_date", "output_files", "job_name")
    assert result.reason == INVALID_FIELD
    assert [v.reason for v in result.violations] == [INVALID_FIELD, INVALID_FIELD, MISSING_FIELD]
    assert result.message.startswith("partition_date: must be a real calendar date")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("execution_sequence", True),
        ("execution_sequence", 2.0),
        ("execution_sequence", "2"),
        ("execution_sequence", 0),
        ("execution_sequence", MAX_SEQUENCE + 1),
        ("total_executions", 1),  # below execution_sequence (2)
        ("records_processed", False),
        ("records_processed", MAX_JSON_INT + 1),
        ("duplicates_removed", -1),
        ("output_format", "CSV"),
        ("output_path", "s3://bucket"),
        ("output_path", "s3://bucket/"),
        ("output_path", "s3://Bucket_Name/x"),
        ("output_path", "https://bucket.s3.amazonaws.com/x"),
        ("output_path", "s3://bucket/a\nb"),
        ("execution_time", "2025-11-20"),
        ("execution_time", "yesterday"),
        ("completed_at", "2025-11-20T06:45:32"),  # no UTC offset
        ("job_name", "   "),
        ("job_name", "x" * 256),
        ("partition_date", "2025-11-20T00:00:00"),
        ("event_type", 7),
    ],
)
def test_field_rules(field: str, value: Any) -> None:
    result = parse_event(message(**{field: value}))
    assert isinstance(result, Invalid)
    assert result.fields == (field,)
    assert result.message.startswith(f"{field}:")


def test_null_counts_as_missing_and_extra_fields_are_ignored() -> None:
    result = parse_event(message(output_format=None))
    assert isinstance(result, Invalid)
    assert result.violations[0].reason == MISSING_FIELD
    assert isinstance(parse_event(message(producer="glue", schema_version=3)), ConsolidationEvent)


def test_allowed_locations_match_like_the_iam_prefix_condition() -> None:
    prefixes = parse_allowed_prefixes(" s3://data/consolidated/ ,s3://other/x/")
    assert prefixes == ("s3://data/consolidated/", "s3://other/x/")
    assert is_allowed_location("s3://data/consolidated/day=1", prefixes)
    assert is_allowed_location("s3://data/consolidated", prefixes)  # the prefix itself
    assert not is_allowed_location("s3://data/consolidated-evil/day=1", prefixes)
    assert not is_allowed_location("s3://data2/consolidated/day=1", prefixes)
    event = parse_event(message(output_path="s3://elsewhere/consolidated/day=1"))
    assert isinstance(event, ConsolidationEvent)
    verdict = output_path_violation(event, prefixes)
    assert verdict is not None
    assert verdict.reason == OUTPUT_PATH_NOT_ALLOWED
    assert verdict.fields == ("output_path",)


@pytest.mark.parametrize("text", ["bucket/prefix/", "s3://", "s3://Bad/x/", "s3://bucket"])
def test_bad_allowed_prefixes_are_a_configuration_error(text: str) -> None:
    with pytest.raises(ValueError, match="ALLOWED_OUTPUT_PREFIXES"):
        parse_allowed_prefixes(text)


def test_batch_input_attributes_round_trip_and_are_checked() -> None:
    event = parse_event(dict(SEED_MESSAGE))
    assert isinstance(event, ConsolidationEvent)
    attributes = ConsolidationAttributes.from_event(event)
    assert ConsolidationAttributes.parse(attributes.to_dict()) == attributes
    assert attributes.correlation_id == event.correlation_id
    wrong_order = {**attributes.to_dict(), "consolidation_order": "2025-11-20#000000003"}
    with pytest.raises(ValueError, match="consolidation_order"):
        ConsolidationAttributes.parse(wrong_order)
    other_job = {**attributes.to_dict(), "consolidation_job_name": "another-job"}
    with pytest.raises(ValueError, match="consolidation_order"):
        ConsolidationAttributes.parse(other_job)  # the order key names the job's consolidation
    with pytest.raises(ValueError, match="consolidation_status"):
        ConsolidationAttributes.parse({**attributes.to_dict(), "consolidation_status": "x"})


# --- properties -------------------------------------------------------------------------

_buckets = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
_prefixes = st.from_regex(r"[A-Za-z0-9=_./-]{1,40}", fullmatch=True).filter(
    lambda key: key.strip("/") != ""
)
_zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=5, minutes=30))]
)
_moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))


@st.composite
def valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    sequence = draw(st.integers(1, MAX_SEQUENCE))
    completed = draw(_moments).replace(tzinfo=draw(_zones))
    return {
        "event_type": "consolidation_completed",
        "partition_date": draw(st.dates()).isoformat(),
        "execution_sequence": sequence,
        "total_executions": draw(st.integers(sequence, MAX_SEQUENCE)),
        "records_processed": draw(st.integers(0, MAX_JSON_INT)),
        "duplicates_removed": draw(st.integers(0, MAX_JSON_INT)),
        "output_files": draw(st.integers(0, 10_000)),
        "output_format": draw(st.sampled_from(["csv", "parquet", "json"])),
        "output_path": f"s3://{draw(_buckets)}/{draw(_prefixes)}",
        "execution_time": draw(_moments).isoformat(sep=draw(st.sampled_from("T "))),
        "completed_at": completed.isoformat(),
        "job_name": draw(st.text(min_size=1, max_size=255).filter(str.strip)),
    }


_never_valid = st.one_of(
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_bad_ints = st.one_of(st.integers(max_value=-1), st.integers(min_value=MAX_JSON_INT + 1))
_non_timestamps = st.one_of(
    st.text(max_size=30).filter(lambda s: not s[:4].isdigit()),
    st.dates().map(lambda d: d.isoformat()),
    st.just("2025-11-20T24:61:00"),
)


def _corruptions(field: str, valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that are wrong for `field` alone, whatever the other (valid) fields hold."""
    semantic: dict[str, st.SearchStrategy[Any]] = {
        "event_type": st.integers(),
        "partition_date": st.one_of(
            st.text(max_size=12).filter(lambda s: len(s) != 10),
            st.sampled_from(["2025-02-30", "2025-13-01", "2023-02-29", "20251120", "2025/11/20"]),
        ),
        "execution_sequence": st.one_of(
            st.integers(max_value=0), st.integers(min_value=MAX_SEQUENCE + 1), st.just("1")
        ),
        "total_executions": st.one_of(
            st.integers(max_value=valid["execution_sequence"] - 1), st.just("4")
        ),
        "records_processed": _bad_ints,
        "duplicates_removed": _bad_ints,
        "output_files": _bad_ints,
        "output_format": st.text(max_size=8).filter(lambda s: s not in ("csv", "parquet", "json")),
        "output_path": st.one_of(
            st.text(max_size=20).filter(lambda s: not s.startswith("s3://")),
            st.sampled_from(["s3://", "s3://b/x", "s3://bucket", "s3://bucket/", "s3://UP/x"]),
        ),
        "execution_time": _non_timestamps,
        "completed_at": st.one_of(
            _non_timestamps,
            _moments.map(lambda moment: moment.isoformat()),  # no offset
        ),
        "job_name": st.one_of(
            st.sampled_from(["", " ", "\t\n"]), st.text(min_size=256, max_size=300), st.integers()
        ),
    }
    return st.one_of(semantic[field], _never_valid)


@settings(max_examples=200, deadline=None)
@given(valid_messages())
def test_valid_events_are_accepted(value: dict[str, Any]) -> None:
    event = parse_event(value)
    assert isinstance(event, ConsolidationEvent)
    assert event.to_dict() == value
    assert event.consolidation_order.startswith(
        f"{value['partition_date']}#{value['execution_sequence']:09d}#"
    )
    assert event.consolidation_order.endswith("#" + event.consolidation_id[:16])


@settings(max_examples=300, deadline=None)
@given(st.data(), valid_messages(), st.sampled_from(FIELD_NAMES))
def test_any_single_field_corruption_is_rejected_naming_that_field(
    data: st.DataObject, value: dict[str, Any], field: str
) -> None:
    corrupted = dict(value)
    if data.draw(st.booleans(), label="remove"):
        del corrupted[field]
    else:
        corrupted[field] = data.draw(_corruptions(field, value), label=field)
    result = parse_event(corrupted)
    assert isinstance(result, Invalid), corrupted.get(field, "removed")
    assert result.fields == (field,)
    assert all(v.message.startswith(f"{field}:") for v in result.violations)


@settings(max_examples=100, deadline=None)
@given(valid_messages(), valid_messages())
def test_the_order_key_sorts_like_date_then_sequence(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Then by consolidation id: a tie between two jobs has one winner, whatever arrives first."""
    first, second = parse_event(a), parse_event(b)
    assert isinstance(first, ConsolidationEvent)
    assert isinstance(second, ConsolidationEvent)
    by_fields = (a["partition_date"], a["execution_sequence"], first.consolidation_id[:16]) < (
        b["partition_date"],
        b["execution_sequence"],
        second.consolidation_id[:16],
    )
    assert (first.consolidation_order < second.consolidation_order) == by_fields
    same = first.consolidation_order == second.consolidation_order
    assert same == (first.consolidation_id == second.consolidation_id)
