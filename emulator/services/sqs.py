"""SQS: moto's queue attributes and message counts without a scan per message sent.

moto builds a queue's whole attribute dictionary, three message counts included (each a
pass over every message in the queue), on every `SendMessage`, only to read
`ContentBasedDeduplication` from it. Filling a dead-letter queue with n messages then
reads n^2 messages: a 200,000-record file never finishes. Here `Queue.attributes` is a
mapping that works an attribute out only when it is read, so a send reads no message, and
a count (when `GetQueueAttributes` asks for one) is one pass that reads the clock once.

A queue created without `MaximumMessageSize` takes AWS's default (moto's is 1 MiB), so a
message over it is refused as AWS refuses it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

from moto.core.utils import camelcase_to_underscores
from moto.sqs.models import Message, Queue

from orderflow.aws_facts import SQS_MAX_MESSAGE_BYTES


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


class LazyAttributes(Mapping[str, Any]):
    """A queue's attributes as moto lists them, each computed on first read."""

    def __init__(self, getters: dict[str, Callable[[], Any]]) -> None:
        self._getters = getters
        self._values: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._values:
            value = self._getters[name]()  # KeyError for an attribute the queue lacks
            self._values[name] = str(value).lower() if isinstance(value, bool) else value
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._getters)

    def __len__(self) -> int:
        return len(self._getters)


def _getter(queue: Queue, attribute: str) -> Callable[[], Any]:
    return lambda: getattr(queue, camelcase_to_underscores(attribute))


def lazy_attributes(queue: Queue) -> LazyAttributes:
    """moto's `Queue.attributes`, the same names and values, computed when read."""
    names = list(queue.BASE_ATTRIBUTES)
    if queue.fifo_queue:
        names += queue.FIFO_ATTRIBUTES
    if queue.kms_master_key_id:  # type: ignore[attr-defined]
        names += queue.KMS_ATTRIBUTES
    getters = {name: _getter(queue, name) for name in names}
    if queue.policy:
        policy = queue.policy
        getters["Policy"] = lambda: policy
    if queue.redrive_policy:
        redrive = queue.redrive_policy
        getters["RedrivePolicy"] = lambda: json.dumps(redrive)
    return LazyAttributes(getters)


def _default_message_size(original: Callable[..., None]) -> Callable[..., None]:
    """A queue created without MaximumMessageSize gets AWS's default, not moto's 1 MiB."""

    def init(queue: Queue, name: str, region: str, account_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("MaximumMessageSize", SQS_MAX_MESSAGE_BYTES.value)
        original(queue, name, region, account_id, **kwargs)

    return init


def patches() -> list[AbstractContextManager[Any]]:
    return [
        mock.patch.object(Queue, "__init__", _default_message_size(Queue.__init__)),
        mock.patch.object(Queue, "attributes", property(lazy_attributes)),
        mock.patch.object(Queue, "messages", property(visible_messages)),
        mock.patch.object(Queue, "approximate_number_of_messages_delayed", property(delayed_count)),
        mock.patch.object(
            Queue, "approximate_number_of_messages_not_visible", property(not_visible_count)
        ),
    ]
