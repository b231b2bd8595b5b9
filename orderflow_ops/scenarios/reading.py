"""Reading what a pipeline left, through public APIs only, changing nothing.

Tables are scanned; queues are received and released at once (SQS has no peek: the
messages are hidden for the moment of the read, then visible again, see
`orderflow_ops.queue`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from orderflow_ops.queue import DeadLetterQueue

READ_HOLD_SECONDS = 30
"""How long messages stay hidden while a queue is read (released right after)."""


def plain(value: Any) -> Any:
    """DynamoDB's Decimals and sets as plain JSON values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        items = [plain(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set) else items
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table (a full, strongly consistent scan), as plain JSON."""
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += [
            {k: plain(deserializer.deserialize(v)) for k, v in item.items()}
            for item in page.get("Items", [])
        ]
    return items


def queue_bodies(sqs: Any, url: str, *, wait_seconds: int) -> list[Any]:
    """Bodies of the visible messages of a queue, parsed when they are JSON."""
    queue = DeadLetterQueue(sqs, url, wait_seconds=wait_seconds, hold_seconds=READ_HOLD_SECONDS)
    held = queue.receive_all()
    queue.release(held.letters)
    bodies: list[Any] = []
    for letter in held.letters:
        if letter.queued is None:  # every received letter has its message
            continue
        try:
            bodies.append(json.loads(letter.queued.body))
        except ValueError:
            bodies.append(letter.queued.body)
    return bodies
