"""The Pipes emulation's pure parts: filter checks and partial batch responses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.provision.pipes import InvalidPipeError, UnsupportedPipeError, _stream_parameters
from emulator.services.pipe_filters import FilterSet, InvalidFilterCriteriaError
from emulator.services.pipes import (
    StreamItem,
    _partial_failures,
    virtual_shard,
    virtual_shard_ids,
)

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000"
STANDARD = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {"NewImage": {"status": {"S": ["pending", "shipped"]}}},
}


def record(event_id: str, name: str = "MODIFY", status: str = "shipped") -> dict[str, Any]:
    return {
        "eventID": event_id,
        "eventName": name,
        "dynamodb": {"NewImage": {"status": {"S": status}}},
    }


def items(*ids: str) -> list[StreamItem]:
    return [StreamItem(record(i), n, 0.0, 10) for n, i in enumerate(ids)]


def test_filters_match_as_eventbridge_does_and_are_ored() -> None:
    filters = FilterSet([json.dumps(STANDARD), json.dumps({"eventName": ["REMOVE"]})])
    assert filters.matches(record("1"))
    assert filters.matches(record("2", name="REMOVE", status="gone"))
    assert not filters.matches(record("3", status="cancelled"))
    assert FilterSet([]).matches(record("4", status="anything"))


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (
            {"dynamodb": {"NewImage": {"status": {"S": [{"prefx": "s"}]}}}},
            "unknown operator 'prefx'",
        ),
        ({"email": [{"wildcard": "*@test.com"}]}, "event-bus operator"),
        ({"email": [{"anything-but": {"suffix": "test.com"}}]}, "anything-but with"),
        ({"eventName": "INSERT"}, "must be arrays"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "exactly one operator"),
        ({}, "non-empty object"),
    ],
)
def test_patterns_pipes_refuse_are_refused(pattern: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFilterCriteriaError, match=message):
        FilterSet([json.dumps(pattern)])


def test_operators_pipes_accept_pass() -> None:
    FilterSet(
        [
            json.dumps(
                {
                    "a": [{"prefix": {"equals-ignore-case": "x"}}, {"suffix": "y"}],
                    "b": [{"anything-but": ["p", "q"]}, {"numeric": [">", 1]}],
                    "c": [{"exists": False}, {"equals-ignore-case": "z"}],
                    "$or": [{"d": ["1"]}, {"e": ["2"]}],
                }
            )
        ]
    )
    with pytest.raises(InvalidFilterCriteriaError, match="at most 5"):
        FilterSet([json.dumps(STANDARD)] * 6)


@pytest.mark.parametrize(
    ("body", "first_failed"),
    [
        (b"", None),
        (b"null", None),
        (b'{"batchItemFailures": []}', None),
        (b'{"batchItemFailures": null}', None),
        (b'["not", "an", "object"]', None),
        (b'{"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "b"}]}', 1),
        (b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', 0),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', 0),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', 0),
        (b'{"batchItemFailures": "b"}', 0),
        (b"not json", 0),
    ],
)
def test_partial_batch_responses(body: bytes, first_failed: int | None) -> None:
    assert _partial_failures(body, items("a", "b", "c")).first_failed == first_failed


def test_stream_parameters_are_checked_as_create_pipe_does() -> None:
    good = {"dynamodbStreamParameters": {"startingPosition": "LATEST", "batchSize": 100.0}}
    assert _stream_parameters("p", STREAM, good)["batchSize"] == 100.0
    with pytest.raises(InvalidPipeError, match="startingPosition"):
        _stream_parameters("p", STREAM, {"dynamodbStreamParameters": {}})
    with pytest.raises(InvalidPipeError, match=r"batchSize must be 1\.\.10000"):
        _stream_parameters(
            "p",
            STREAM,
            {"dynamodbStreamParameters": {"startingPosition": "LATEST", "batchSize": 0}},
        )
    with pytest.raises(UnsupportedPipeError, match="DynamoDB stream sources only"):
        _stream_parameters("p", "arn:aws:sqs:us-east-1:123456789012:q", good)


def test_an_items_records_always_go_to_the_same_virtual_shard() -> None:
    """Stable per key (whatever the attribute order), spread over every shard across keys."""
    key = {"orderId": {"S": "ORD-1"}, "sk": {"N": "2"}}
    same_key_reordered = {"sk": {"N": "2"}, "orderId": {"S": "ORD-1"}}
    assert virtual_shard(key, 4) == virtual_shard(same_key_reordered, 4)
    shards = {virtual_shard({"orderId": {"S": f"ORD-{n}"}}, 4) for n in range(100)}
    assert shards == {0, 1, 2, 3}
    assert virtual_shard(key, 1) == 0


def test_virtual_shard_ids_are_distinct_and_shaped_like_dynamodbs() -> None:
    base = "shardId-00000001541626099285-f35f62ef"
    assert virtual_shard_ids(base, 1) == [base]
    ids = virtual_shard_ids(base, 4)
    assert len(set(ids)) == 4
    assert all(i.startswith("shardId-00000001541626099285-") and len(i) == len(base) for i in ids)
