"""The shared dead-letter format, its size handling and the batched SQS sender."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from validation_support import Aws

from runtime.common.dead_letter import (
    PREVIEW_CHARS,
    SQS_MAX_BATCH_BYTES,
    SQS_MAX_MESSAGE_BYTES,
    DeadLetter,
    DeadLetterError,
    DeadLetterSender,
    build_dead_letter,
    chunk_for_sqs,
    compact_json,
    dead_letter_id,
)
from runtime.common.retry import RetryPolicy, drain

SOURCE = {"bucket": "b", "key": "k.json", "versionId": None, "recordIndex": 3}


def letter(record: Any = None, **source: Any) -> DeadLetter:
    return build_dead_letter(
        pipeline="validation",
        reason="missing_contact_info",
        message="contact-info is missing",
        source={**SOURCE, **source},
        record=record,
        timestamp="2024-05-01T12:00:00.000Z",
    )


def test_body_format_and_attributes() -> None:
    record = {"order-info": {"orderId": "2"}}
    built = letter(record)
    assert built.payload() == {
        "id": dead_letter_id("validation", SOURCE),
        "pipeline": "validation",
        "reason": "missing_contact_info",
        "message": "contact-info is missing",
        "source": SOURCE,
        "record": record,
        "timestamp": "2024-05-01T12:00:00.000Z",
    }
    assert built.attributes() == {
        "reason": {"DataType": "String", "StringValue": "missing_contact_info"},
        "pipeline": {"DataType": "String", "StringValue": "validation"},
        "deadLetterId": {"DataType": "String", "StringValue": built.id},
    }
    assert not built.truncated


def test_id_is_deterministic_sha256_and_identity_sensitive() -> None:
    expected = hashlib.sha256(
        json.dumps(
            {"pipeline": "validation", "source": SOURCE}, sort_keys=True, separators=(",", ":")
        ).encode()
    ).hexdigest()
    assert dead_letter_id("validation", SOURCE) == expected
    assert dead_letter_id("validation", dict(reversed(list(SOURCE.items())))) == expected
    file_level = {k: v for k, v in SOURCE.items() if k != "recordIndex"}
    others = {
        dead_letter_id("validation", {**SOURCE, "recordIndex": 4}),
        dead_letter_id("validation", {**SOURCE, "versionId": "v1"}),
        dead_letter_id("validation", file_level),
        dead_letter_id("streams", SOURCE),
    }
    assert expected not in others
    assert len(others) == 4


def test_timestamp_defaults_to_now_in_utc() -> None:
    built = build_dead_letter(pipeline="p", reason="r", message="m", source={"x": 1}, record=[1])
    stamp = built.payload()["timestamp"]
    assert stamp.endswith("Z")
    assert len(stamp) == len("2024-05-01T12:00:00.000Z")


def test_unicode_and_lone_surrogates_survive_as_ascii_json() -> None:
    record = {"name": "Zoë 🚀 \ud800", "ctrl": "\x00\x1f"}
    built = letter(record)
    assert built.body.isascii()
    assert json.loads(built.body)["record"] == record


def test_record_over_the_sqs_limit_is_truncated_with_preview_and_hash() -> None:
    record = {"order-info": {"orderId": "9"}, "blob": "é" * 100_000}  # 600 KB escaped
    built = letter(record)
    assert built.truncated
    assert built.size <= SQS_MAX_MESSAGE_BYTES
    body = built.payload()
    full = compact_json(record)
    assert body["record"] == {
        "truncated": True,
        "preview": full[:PREVIEW_CHARS],
        "sha256": hashlib.sha256(full.encode()).hexdigest(),
    }
    assert body["message"].startswith("contact-info is missing [record truncated")
    assert "source still holds the record verbatim" in body["message"]
    assert body["id"] == letter(None).id  # identity does not depend on the record


def test_record_just_under_the_limit_stays_verbatim() -> None:
    record = {"blob": "x" * 250_000}
    built = letter(record)
    assert not built.truncated
    assert built.payload()["record"] == record
    assert SQS_MAX_MESSAGE_BYTES - 20_000 < built.size <= SQS_MAX_MESSAGE_BYTES


def test_chunks_respect_entry_count_and_byte_limits() -> None:
    small = [letter(i, recordIndex=i) for i in range(25)]
    assert [len(chunk) for chunk in chunk_for_sqs(small)] == [10, 10, 5]
    # Each a little over a fifth of a batch's bytes (and within one message): four per batch.
    big = [letter({"blob": "x" * (SQS_MAX_BATCH_BYTES // 5)}, recordIndex=i) for i in range(10)]
    assert all(SQS_MAX_BATCH_BYTES / 5 < item.size <= SQS_MAX_MESSAGE_BYTES for item in big)
    chunks = chunk_for_sqs(big)
    assert [len(chunk) for chunk in chunks] == [4, 4, 2]
    assert all(sum(item.size for item in chunk) <= SQS_MAX_BATCH_BYTES for chunk in chunks)
    assert [item for chunk in chunks for item in chunk] == big
    assert chunk_for_sqs([]) == []


class FlakySqs:
    """Real (moto) SQS, except that chosen entry positions fail on successive calls."""

    def __init__(self, real: Any, failures: list[set[int]], *, sender_fault: bool = False):
        self.real = real
        self.failures = failures
        self.sender_fault = sender_fault
        self.calls: list[int] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        self.calls.append(len(Entries))
        failing = self.failures.pop(0) if self.failures else set()
        ok = [entry for i, entry in enumerate(Entries) if i not in failing]
        response: dict[str, Any] = {"Successful": [], "Failed": []}
        if ok:
            response = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=ok)
            response.setdefault("Failed", [])
        response["Failed"] += [
            {
                "Id": entry["Id"],
                "SenderFault": self.sender_fault,
                "Code": "InvalidParameterValue" if self.sender_fault else "InternalError",
                "Message": "injected",
            }
            for i, entry in enumerate(Entries)
            if i in failing
        ]
        return response


def recording_policy(max_attempts: int = 8) -> tuple[RetryPolicy, list[float]]:
    sleeps: list[float] = []
    return RetryPolicy(max_attempts=max_attempts, sleep=sleeps.append, rng=random.Random(1)), sleeps


def test_sender_delivers_everything_with_attributes(aws: Aws) -> None:
    letters = [letter({"n": i}, recordIndex=i) for i in range(23)]
    sender = DeadLetterSender(aws.queue_url, policy=recording_policy()[0])
    assert sender.send(letters) == 23
    received = aws.dead_letters()
    assert sorted(m["raw"] for m in received) == sorted(item.body for item in letters)
    assert all(m["attributes"]["deadLetterId"] == m["body"]["id"] for m in received)
    assert {m["attributes"]["reason"] for m in received} == {"missing_contact_info"}


def test_sender_retries_failed_entries_until_delivered(aws: Aws) -> None:
    flaky = FlakySqs(aws.sqs, failures=[{0, 3, 9}, {1}])
    policy, sleeps = recording_policy()
    letters = [letter({"n": i}, recordIndex=i) for i in range(10)]
    DeadLetterSender(aws.queue_url, sqs=flaky, policy=policy).send(letters)
    assert flaky.calls == [10, 3, 1]
    assert len(sleeps) == 2
    received = aws.dead_letters()
    assert sorted(m["body"]["source"]["recordIndex"] for m in received) == list(range(10))


def test_sender_raises_when_retries_are_exhausted(aws: Aws) -> None:
    flaky = FlakySqs(aws.sqs, failures=[{0}] * 4)
    policy, sleeps = recording_policy(max_attempts=4)
    with pytest.raises(DeadLetterError, match="1 dead letter"):
        DeadLetterSender(aws.queue_url, sqs=flaky, policy=policy).send(
            [letter(1, recordIndex=1), letter(2, recordIndex=2)]
        )
    assert flaky.calls == [2, 1, 1, 1]
    assert len(sleeps) == 3
    assert [m["body"]["source"]["recordIndex"] for m in aws.dead_letters()] == [2]


def test_sender_faults_are_not_retried(aws: Aws) -> None:
    flaky = FlakySqs(aws.sqs, failures=[{1}], sender_fault=True)
    with pytest.raises(DeadLetterError, match="InvalidParameterValue"):
        DeadLetterSender(aws.queue_url, sqs=flaky, policy=recording_policy()[0]).send(
            [letter(1, recordIndex=1), letter(2, recordIndex=2)]
        )
    assert flaky.calls == [2]
    assert [m["body"]["source"]["recordIndex"] for m in aws.dead_letters()] == [1]


def test_sender_requires_a_queue() -> None:
    with pytest.raises(ValueError, match="queue URL"):
        DeadLetterSender("")


def test_full_jitter_delays_are_bounded() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, rng=random.Random(7))
    for retry in range(12):
        ceiling = min(1.0, 0.1 * 2**retry)
        delays = [policy.delay(retry) for _ in range(50)]
        assert all(0.0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 4  # jitter spreads over the whole range


def test_drain_stops_early_and_returns_leftovers() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=5, sleep=sleeps.append, rng=random.Random(0))
    calls: list[list[int]] = []

    def send(batch: Any) -> list[int]:
        calls.append(list(batch))
        return [x for x in batch if x > len(calls)]

    assert drain(send, [1, 2, 3], policy) == []
    assert calls == [[1, 2, 3], [2, 3], [3]]
    assert len(sleeps) == 2
    assert drain(list, [1], policy) == [1]
    assert drain(send, [], policy) == []
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
