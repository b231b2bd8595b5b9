"""The one work queue: virtual time, pollers, failures reported, async Lambda retries."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest
from emulator_support import LAMBDA_TRUST

from emulator.engine import Emulator
from emulator.program import Stack

FAILING = """
def handle(event, context):
    raise RuntimeError(f"cannot process {event['orderId']}")
"""


class CountdownPoller:
    """A source with `left` records that yields one job per poll."""

    def __init__(self, left: int, seen: list[str]) -> None:
        self.left = left
        self.seen = seen

    def poll(self, emulator: Emulator) -> bool:
        if not self.left:
            return False
        self.left -= 1
        emulator.submit("record", lambda: self.seen.append(f"record {self.left}"))
        return True


def test_jobs_run_in_virtual_time_order_without_sleeping(bare: Emulator) -> None:
    seen: list[str] = []
    start = bare.clock.now()
    bare.submit("later", lambda: seen.append("later"), delay=3600)
    bare.submit("now", lambda: seen.append("now"))
    bare.run_until_idle()
    assert seen == ["now", "later"]
    assert bare.clock.now() - start >= 3600


def test_pollers_are_asked_for_work_until_none_has_any(bare: Emulator) -> None:
    seen: list[str] = []
    bare.pollers.append(CountdownPoller(3, seen))
    try:
        assert bare.run_until_idle() == 3
    finally:
        bare.pollers.clear()
    assert seen == ["record 2", "record 1", "record 0"]


def test_a_failing_job_is_reported_and_the_run_goes_on(bare: Emulator) -> None:
    seen: list[str] = []

    def broken() -> None:
        raise KeyError("missing")

    bare.submit("broken job", broken)
    bare.submit("next job", lambda: seen.append("next"))
    bare.run_until_idle()
    assert seen == ["next"]
    assert bare.errors[-1]["job"] == "broken job"
    assert "KeyError" in bare.errors[-1]["message"]


def test_a_job_that_keeps_making_work_is_stopped(bare: Emulator) -> None:
    runs: list[int] = []

    def again() -> None:
        runs.append(1)
        if len(runs) < 80:
            bare.submit("again", again)

    bare.submit("again", again)
    with pytest.raises(RuntimeError, match="still busy after 50 jobs"):
        bare.run_until_idle(max_jobs=50)
    assert bare.run_until_idle() == 30


def program() -> None:
    dlq = aws.sqs.Queue("async-dlq")
    role = aws.iam.Role("async-role", assume_role_policy=LAMBDA_TRUST)
    policy = aws.iam.RolePolicy(
        "async-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq.arn}
                ],
            }
        ),
    )
    aws.lambda_.Function(
        "async-fn",
        role=role.arn,
        runtime="python3.13",
        handler="index.handle",
        code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(FAILING)}),
        dead_letter_config={"target_arn": dlq.arn},
        opts=pulumi.ResourceOptions(depends_on=[policy]),
    )


@pytest.fixture(scope="module")
def failing(bare: Emulator) -> Stack:
    return bare.deploy_program(program)


def test_an_async_invocation_is_retried_twice_then_dead_lettered(
    bare: Emulator, failing: Stack
) -> None:
    name = failing.output_of("aws:lambda/function:Function", "async-fn", "name")
    start = bare.clock.now()
    response = bare.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"orderId": "o-9"}).encode()
    )
    assert response["StatusCode"] == 202
    bare.run_until_idle()
    attempts = [i for i in bare.lambdas.invocations if i.function == name]
    assert len(attempts) == 3
    assert bare.clock.now() - start >= 180  # one and two minutes between attempts
    url = failing.output_of("aws:sqs/queue:Queue", "async-dlq", "url")
    (message,) = bare.client("sqs").receive_message(QueueUrl=url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert json.loads(message["Body"]) == {"orderId": "o-9"}
    assert message["MessageAttributes"]["ErrorMessage"]["StringValue"] == "cannot process o-9"
    assert message["MessageAttributes"]["RequestID"]["StringValue"] == attempts[-1].request_id
