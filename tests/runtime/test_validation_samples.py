"""The sample files through both handlers, reading items the way the Distributed Map does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from validation_support import BUCKET, SAMPLES, Aws, FakeLambdaContext

from runtime.validation import handler


def map_items(aws: Aws, described: dict[str, Any]) -> list[Any]:
    """What ItemReader would hand the Map: the object the inspection names (`read*`), a
    bare JSON array (a `{"orders": [...]}` file's normalized copy too) or JSON Lines."""
    data = aws.s3.get_object(Bucket=described["readBucket"], Key=described["readKey"])["Body"]
    text = data.read().decode()
    if described["format"] == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    items: list[Any] = json.loads(text)
    return items


@pytest.mark.parametrize(
    "case",
    [
        ("mock-data.json", "orders_object", 1, 1),
        ("orders.jsonl", "jsonl", 3, 1),
        ("orders-array.json", "json_array", 2, 1),
    ],
    ids=lambda case: str(case[0]),
)
def test_sample_file_end_to_end(
    aws: Aws, context: FakeLambdaContext, case: tuple[str, str, int, int]
) -> None:
    name, expected_format, stored, dead = case
    data = (SAMPLES / name).read_bytes()
    aws.s3.put_object(Bucket=BUCKET, Key=f"uploads/{name}", Body=data)
    described: dict[str, Any] = handler.inspect_file(
        {"bucket": BUCKET, "key": f"uploads/{name}"}, context
    )
    assert described["format"] == expected_format
    records = map_items(aws, described)
    if expected_format == "orders_object":  # read from the copy, in the original's order
        assert described["readBucket"] != BUCKET
        assert records == json.loads(data)["orders"]
    batch_input = {k: described[k] for k in ("bucket", "key", "versionId", "ingestedAt", "format")}
    event = {
        "Items": [{"index": i, "value": v} for i, v in enumerate(records)],
        "BatchInput": batch_input,
    }
    result: dict[str, int] = handler.validate_batch(event, context)
    assert result == {"stored": stored, "deadLettered": dead}
    items = aws.scan()
    assert len(items) == stored
    assert {item["ingestedAt"]["S"] for item in items} == {described["ingestedAt"]}
    assert len(aws.dead_letters()) == dead


def test_mock_data_is_the_seed_example_verbatim() -> None:
    parsed = json.loads((SAMPLES / "mock-data.json").read_text())
    assert parsed == {
        "orders": [
            {
                "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"},
                "order-info": {
                    "OrderId": "1",
                    "item-id": "101",
                    "item-desc": "Item One",
                    "qty": "1",
                },
            },
            {
                "order-info": {
                    "orderId": "2",
                    "item-id": "102",
                    "item-desc": "Item Two",
                    "qty": "2",
                }
            },
        ]
    }
