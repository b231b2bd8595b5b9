"""An in-emulator Kafka: topic logs per MSK cluster, consumer-group offsets, and the mappings.

No broker runs (moto has no Kafka). A topic is a list of partition logs keyed by (cluster
ARN, topic name); producing appends a `Message` with the next offset and a timestamp from
the virtual clock. Keyed messages go to `murmur2(key) % partitions` like Kafka's default
partitioner, keyless ones round-robin (Kafka's sticky partitioner fills one partition per
producer batch; a test that cares passes `partition`). Consumer groups commit per
partition the offset of the next record to read, as Kafka does.

`KafkaService` is also the engine's poller for every MSK event source mapping
(`emulator.services.msk_mapping`): when the work queue is idle it asks each mapping for
a batch.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.engine import Emulator
    from emulator.services.msk_mapping import MskMapping

MAX_PARTITIONS = 1000


class UnknownTopicError(KeyError):
    """Producing to (or describing) a topic that was never created on that cluster."""


@dataclass(frozen=True)
class Message:
    """One record in a partition log (key and value are bytes or None, as in Kafka)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Topic:
    name: str
    partitions: list[list[Message]]

    def end_offset(self, partition: int) -> int:
        return len(self.partitions[partition])


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2` (seed 0x9747b28c), as a signed 32-bit int."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def default_partition(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner for a keyed record: `toPositive(murmur2(key)) % n`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def as_bytes(value: Any) -> bytes | None:
    """A produced value: bytes as is, text as UTF-8, anything else as its JSON."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


@dataclass(eq=False)
class KafkaService:
    """Every topic, group offset and MSK mapping of one emulated account."""

    emulator: Emulator
    topics: dict[tuple[str, str], Topic] = field(default_factory=dict)
    committed: dict[tuple[str, str, str, int], int] = field(default_factory=dict)
    mappings: list[MskMapping] = field(default_factory=list)
    _round_robin: dict[tuple[str, str], itertools.count[int]] = field(default_factory=dict)

    # topics -------------------------------------------------------------------------
    def create_topic(self, cluster_arn: str, name: str, partitions: int = 1) -> Topic:
        """Create a topic, or grow an existing one (Kafka can add partitions, not remove)."""
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be 1..{MAX_PARTITIONS}, not {partitions}")
        topic = self.topics.get((cluster_arn, name))
        if topic is None:
            topic = self.topics[(cluster_arn, name)] = Topic(name, [[] for _ in range(partitions)])
        elif partitions < len(topic.partitions):
            raise ValueError(
                f"topic {name} has {len(topic.partitions)} partitions; Kafka cannot reduce them"
            )
        topic.partitions.extend([] for _ in range(partitions - len(topic.partitions)))
        return topic

    def topic(self, cluster_arn: str, name: str) -> Topic:
        try:
            return self.topics[(cluster_arn, name)]
        except KeyError:
            raise UnknownTopicError(f"no topic {name!r} on cluster {cluster_arn}") from None

    def produce(
        self,
        cluster_arn: str,
        topic: str,
        value: Any,
        *,
        key: Any = None,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        timestamp_ms: int | None = None,
    ) -> Message:
        """Append one record (value: bytes, text as UTF-8, or JSON); returns it with its offset."""
        log = self.topic(cluster_arn, topic)
        key_bytes = as_bytes(key)
        if partition is None:
            if key_bytes is not None:
                partition = default_partition(key_bytes, len(log.partitions))
            else:
                counter = self._round_robin.setdefault((cluster_arn, topic), itertools.count())
                partition = next(counter) % len(log.partitions)
        if not 0 <= partition < len(log.partitions):
            raise ValueError(f"topic {topic} has no partition {partition}")
        message = Message(
            topic=topic,
            partition=partition,
            offset=log.end_offset(partition),
            timestamp_ms=(
                timestamp_ms if timestamp_ms is not None else int(self.emulator.clock.now() * 1000)
            ),
            key=key_bytes,
            value=as_bytes(value),
            headers=tuple(headers),
        )
        log.partitions[partition].append(message)
        return message

    def read(
        self, cluster_arn: str, topic: str, partition: int, start: int, limit: int
    ) -> list[Message]:
        log = self.topics.get((cluster_arn, topic))
        if log is None or partition >= len(log.partitions):
            return []
        return log.partitions[partition][start : start + limit]

    # consumer groups ------------------------------------------------------------------
    def committed_offset(
        self, cluster_arn: str, group: str, topic: str, partition: int
    ) -> int | None:
        return self.committed.get((cluster_arn, group, topic, partition))

    def commit(self, cluster_arn: str, group: str, topic: str, partition: int, offset: int) -> None:
        """Commit `offset` (the next record to read); a group never moves backwards."""
        key = (cluster_arn, group, topic, partition)
        self.committed[key] = max(offset, self.committed.get(key, 0))

    # the poller ---------------------------------------------------------------------
    def add_mapping(self, mapping: MskMapping) -> None:
        self.mappings.append(mapping)
        if self not in self.emulator.pollers:
            self.emulator.pollers.append(self)

    def mapping(self, uuid_or_function: str) -> MskMapping:
        """A mapping by UUID or by its function's name or ARN."""
        for mapping in self.mappings:
            config = mapping.config
            if uuid_or_function in (config.uuid, config.function_arn, config.function_name):
                return mapping
        raise KeyError(f"no MSK event source mapping {uuid_or_function!r}")

    def poll(self, emulator: Emulator) -> bool:
        found = False
        for mapping in self.mappings:
            found = mapping.poll() or found
        return found


def bootstrap_servers(cluster_arn: str) -> str:
    """The IAM-auth (port 9098) broker list MSK would report for the cluster."""
    region = cluster_arn.split(":")[3]
    _, name, uuid = ([*cluster_arn.split(":", 5)[5].split("/"), "", ""])[:3]
    short = uuid.split("-")[0] or "emulator"
    return ",".join(f"b-{n}.{name}.{short}.c2.kafka.{region}.amazonaws.com:9098" for n in (1, 2, 3))
