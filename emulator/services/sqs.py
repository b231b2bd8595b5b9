"""SQS: moto's message counts, computed in one cheap pass.

moto works out a queue's attributes (including three message counts, each reading the
clock once per message) on every `SendMessage`, which makes filling a dead-letter queue
with thousands of messages quadratic in clock reads. The counts here read the clock
once per call; the answers are the same.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

from moto.sqs.models import Message, Queue


def _now_ms() -> float:
    return time.time() * 1000


def visible_messages(queue: Queue) -> list[Message]:
    now = _now_ms()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def delayed_count(queue: Queue) -> int:
    now = _now_ms()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def not_visible_count(queue: Queue) -> int:
    now = _now_ms()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def patches() -> list[AbstractContextManager[Any]]:
    return [
        mock.patch.object(Queue, "messages", property(visible_messages)),
        mock.patch.object(Queue, "approximate_number_of_messages_delayed", property(delayed_count)),
        mock.patch.object(
            Queue, "approximate_number_of_messages_not_visible", property(not_visible_count)
        ),
    ]
