"""PremiumOrderPipe: a record retried after a failed effect repeats no effect already done.

The processor runs two effects per premium shipment, PutEvents then SNS Publish, each under
its own idempotency record. When SNS fails, the record is reported for retry; the retry
(and any later redelivery) must publish the domain event no second time and notify once.
This is what catches a processor that bypasses either idempotency record.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_support import deployed
from moto.sns.models import sns_backends
from test_faults_premium_event_id import deliver, ship, shipped

from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.program import ACCOUNT, REGION

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed("premium") as emulator:
        yield emulator


def notifications(emulator: Emulator, order_id: str) -> list[str]:
    topic = emulator.stack.one("aws:sns/topic:Topic", "premium-notifications").state["arn"]
    sent = sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications
    return [str(note) for note in sent if order_id in str(note)]


def test_an_sns_failure_retries_the_notification_without_publishing_again(
    emulator: Emulator,
) -> None:
    order_id = "sns-fails-1"
    batch = ship(emulator, order_id)
    with Faults(emulator) as faults:
        failure = faults.fail_calls("sns", ["Publish"], times=1)
        answer = deliver(emulator, batch)
    assert failure.fired == 1
    assert answer == {"batchItemFailures": [{"itemIdentifier": batch[0]["eventID"]}]}
    assert len(shipped(emulator, order_id)) == 1  # PutEvents ran before SNS failed
    assert notifications(emulator, order_id) == []

    assert deliver(emulator, batch) == {"batchItemFailures": []}  # the Pipe's retry
    assert len(shipped(emulator, order_id)) == 1
    assert len(notifications(emulator, order_id)) == 1

    assert deliver(emulator, batch) == {"batchItemFailures": []}  # a later redelivery
    assert len(shipped(emulator, order_id)) == 1
    assert len(notifications(emulator, order_id)) == 1
