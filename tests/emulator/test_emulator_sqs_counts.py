"""Sending to a queue reads no message: filling a dead-letter queue is linear in its size.

The test counts the messages moto reads while n messages are sent (a list that counts
its iterations), so it pins the complexity without timing anything: moto's own
attributes read every message three times per send (3n^2/2 in all).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.sqs.models import sqs_backends

from emulator.engine import Emulator
from emulator.program import ACCOUNT, REGION

SENDS = 200


class CountingList(list[Any]):
    """A message list that counts every message read by iterating it."""

    reads = 0

    def __iter__(self) -> Iterator[Any]:
        for message in super().__iter__():
            CountingList.reads += 1
            yield message


def test_sends_read_no_queued_message_and_counts_stay_right(bare: Emulator) -> None:
    sqs = bare.client("sqs")
    url = sqs.create_queue(QueueName="counted-dlq")["QueueUrl"]
    queue = sqs_backends[ACCOUNT][REGION].queues["counted-dlq"]
    queue._messages = CountingList(queue._messages)
    CountingList.reads = 0
    for number in range(SENDS):
        sqs.send_message(QueueUrl=url, MessageBody=str(number))
    assert CountingList.reads == 0  # moto alone: 3 * SENDS * (SENDS - 1) / 2 reads
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == str(SENDS)
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attributes["QueueArn"].endswith(":counted-dlq")
    assert CountingList.reads <= 3 * SENDS  # one pass per count asked for


def test_queue_attributes_match_moto_for_a_fifo_queue_with_a_redrive_policy(
    bare: Emulator,
) -> None:
    sqs = bare.client("sqs")
    dlq = sqs.create_queue(QueueName="attrs-dlq.fifo", Attributes={"FifoQueue": "true"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])
    url = sqs.create_queue(
        QueueName="attrs.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "RedrivePolicy": (
                f'{{"deadLetterTargetArn": "{dlq_arn["Attributes"]["QueueArn"]}", '
                '"maxReceiveCount": 3}'
            ),
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g")  # deduplicated
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert '"maxReceiveCount": 3' in attributes["RedrivePolicy"]
