"""EventBridge: S3 events as AWS sends them, rule matching, delivery, retries and DLQs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from emulator_support import LAMBDA_TRUST

from emulator.engine import Emulator
from emulator.program import Stack
from emulator.services.eventbridge import (
    DeliveryError,
    EventBridge,
    render_template,
    s3_key_in_event,
    select_path,
    target_input,
)

SOURCE = "orderflow.test"
HANDLER = """
import json
def handle(event, context):
    print(json.dumps(event))
    return {"ok": True}
"""


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _dlq(name: str, rule: aws.cloudwatch.EventRule | None) -> aws.sqs.Queue:
    """A dead-letter queue; with `rule`, its policy lets EventBridge send for that rule."""
    queue = aws.sqs.Queue(name)
    if rule is not None:
        aws.sqs.QueuePolicy(
            f"{name}-policy",
            queue_url=queue.url,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue.arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
                        }
                    ],
                }
            ),
        )
    return queue


def _rule(name: str, detail_type: str) -> aws.cloudwatch.EventRule:
    pattern = {"source": [SOURCE], "detail-type": [detail_type]}
    return aws.cloudwatch.EventRule(name, event_pattern=json.dumps(pattern))


def program() -> None:
    """Rules whose targets fail in different ways, and one Lambda target that works."""
    machine_role = aws.iam.Role("machine-role", assume_role_policy=_trust("states.amazonaws.com"))
    machine = aws.sfn.StateMachine(
        "machine",
        role_arn=machine_role.arn,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )
    powerless = aws.iam.Role("powerless-role", assume_role_policy=_trust("events.amazonaws.com"))
    retry: aws.cloudwatch.EventTargetRetryPolicyArgsDict = {
        "maximum_retry_attempts": 2,
        "maximum_event_age_in_seconds": 3600,
    }

    denied = _rule("denied", "Denied")
    aws.cloudwatch.EventTarget(
        "denied-target",
        rule=denied.name,
        arn=machine.arn,
        role_arn=powerless.arn,
        retry_policy=retry,
        dead_letter_config={"arn": _dlq("denied-dlq", denied).arn},
    )
    refused = _rule("refused", "Refused")
    aws.cloudwatch.EventTarget(
        "refused-target",
        rule=refused.name,
        arn=machine.arn,
        role_arn=powerless.arn,
        dead_letter_config={"arn": _dlq("refused-dlq", None).arn},
    )
    role = aws.iam.Role("fn-role", assume_role_policy=LAMBDA_TRUST)
    function = aws.lambda_.Function(
        "fn",
        role=role.arn,
        runtime="python3.13",
        handler="index.handle",
        code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(HANDLER)}),
    )
    invoked = _rule("invoked", "Invoked")
    aws.lambda_.Permission(
        "fn-permission",
        function=function.name,
        action="lambda:InvokeFunction",
        principal="events.amazonaws.com",
        source_arn=invoked.arn,
    )
    aws.cloudwatch.EventTarget(
        "invoked-target",
        rule=invoked.name,
        arn=function.arn,
        input_transformer={
            "input_paths": {"order": "$.detail.orderId"},
            "input_template": '{"order": <order>, "note": "order <order>"}',
        },
    )
    unpermitted = _rule("unpermitted", "Unpermitted")
    aws.cloudwatch.EventTarget(
        "unpermitted-target",
        rule=unpermitted.name,
        arn=function.arn,
        dead_letter_config={"arn": _dlq("unpermitted-dlq", unpermitted).arn},
    )


@pytest.fixture(scope="module")
def wired(bare: Emulator) -> Stack:
    return bare.deploy_program(program)


def _put(emulator: Emulator, detail_type: str, detail: dict[str, Any]) -> None:
    emulator.client("events").put_events(
        Entries=[{"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}]
    )
    emulator.run_until_idle()


def _messages(emulator: Emulator, stack: Stack, queue: str) -> list[dict[str, Any]]:
    url = stack.output_of("aws:sqs/queue:Queue", queue, "url")
    response = emulator.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return [
        {
            "body": json.loads(m["Body"]),
            **{k: v["StringValue"] for k, v in m["MessageAttributes"].items()},
        }
        for m in response.get("Messages", [])
    ]


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("incoming/orders.json", "incoming/orders.json"),
        ("incoming/my orders.json", "incoming/my+orders.json"),
        ("incoming/a+b=c.json", "incoming/a%2Bb%3Dc.json"),
        ("incoming/caf\u00e9.json", "incoming/caf%C3%A9.json"),
    ],
)
def test_s3_keys_are_url_encoded_like_aws(key: str, encoded: str) -> None:
    assert s3_key_in_event(key) == encoded


def test_an_upload_sends_the_object_created_event_aws_sends(bare: Emulator) -> None:
    s3 = bare.client("s3")
    s3.create_bucket(Bucket="eventbridge-drop")
    s3.put_bucket_versioning(
        Bucket="eventbridge-drop", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_bucket_notification_configuration(
        Bucket="eventbridge-drop", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    put = s3.put_object(Bucket="eventbridge-drop", Key="incoming/my orders.json", Body=b"[1, 2]")
    event = bare.events.emitted[-1]
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["resources"] == ["arn:aws:s3:::eventbridge-drop"]
    detail = event["detail"]
    assert detail["bucket"] == {"name": "eventbridge-drop"}
    assert detail["reason"] == "PutObject"
    obj = detail["object"]
    assert obj["key"] == "incoming/my+orders.json"
    assert obj["size"] == 6
    assert obj["etag"] == put["ETag"].strip('"')
    assert obj["version-id"] == put["VersionId"]
    assert len(obj["sequencer"]) == 18
    s3.put_object(Bucket="eventbridge-drop", Key="incoming/b.json", Body=b"[]")
    assert bare.events.emitted[-1]["detail"]["object"]["sequencer"] > obj["sequencer"]


def test_input_paths_and_templates() -> None:
    event = {
        "id": "e1",
        "time": "2026-01-01T00:00:00Z",
        "detail": {"orderId": "o-1", "lines": [{"sku": "a"}]},
    }
    assert select_path(event, "$.detail.lines[0].sku") == "a"
    assert select_path(event, "$.detail.missing") is None
    assert target_input({"Input": '{"fixed": 1}'}, event, "arn:rule") == '{"fixed": 1}'
    assert json.loads(target_input({"InputPath": "$.detail"}, event, "arn:rule")) == event["detail"]
    assert json.loads(target_input({}, event, "arn:rule")) == event
    template = (
        '{"order": <order>, "text": "order <order> by <aws.events.rule-name>", "all": <lines>}'
    )
    rendered = render_template(
        template, {"order": "o-1", "lines": [{"sku": "a"}], "aws.events.rule-name": "new-orders"}
    )
    assert json.loads(rendered) == {
        "order": "o-1",
        "text": "order o-1 by new-orders",
        "all": [{"sku": "a"}],
    }


def test_a_denied_delivery_goes_to_the_dlq_with_the_error_attributes(
    bare: Emulator, wired: Stack
) -> None:
    _put(bare, "Denied", {"orderId": "o-1"})
    (message,) = _messages(bare, wired, "denied-dlq")
    assert message["body"]["detail"] == {"orderId": "o-1"}
    assert message["ERROR_CODE"] == "NO_PERMISSIONS"
    assert "states:StartExecution" in message["ERROR_MESSAGE"]
    assert message["RULE_ARN"] == wired.output_of(
        "aws:cloudwatch/eventRule:EventRule", "denied", "arn"
    )
    assert message["TARGET_ARN"] == wired.output_of(
        "aws:sfn/stateMachine:StateMachine", "machine", "arn"
    )
    assert message["RETRY_ATTEMPTS"] == "0"  # a missing permission is not retried
    assert bare.guard.denials[-1].action == "states:StartExecution"


def test_an_event_the_dlq_refuses_is_reported_lost(bare: Emulator, wired: Stack) -> None:
    _put(bare, "Refused", {"orderId": "o-2"})
    assert _messages(bare, wired, "refused-dlq") == []
    assert "event lost: the DLQ refused it" in bare.errors[-1]["outcome"]


def test_transient_failures_are_retried_on_the_virtual_clock(
    bare: Emulator, wired: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[float] = []

    def throttled(self: EventBridge, target: dict[str, Any], payload: str, rule_arn: str) -> None:
        attempts.append(bare.clock.now())
        raise DeliveryError("THROTTLING", "Rate exceeded", retryable=True)

    monkeypatch.setattr(EventBridge, "_send", throttled)
    _put(bare, "Denied", {"orderId": "o-3"})
    assert len(attempts) == 3  # the first try and MaximumRetryAttempts=2
    assert attempts[2] - attempts[0] >= 3.0  # 1 s then 2 s of backoff, never slept
    (message,) = _messages(bare, wired, "denied-dlq")
    assert message["ERROR_CODE"] == "THROTTLING"
    assert message["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert message["RETRY_ATTEMPTS"] == "2"


def test_a_permitted_lambda_target_is_invoked_with_the_transformed_input(
    bare: Emulator, wired: Stack
) -> None:
    function = wired.output_of("aws:lambda/function:Function", "fn", "name")
    _put(bare, "Invoked", {"orderId": "o-4"})
    invocation = bare.lambdas.invocations[-1]
    assert invocation.function == function
    assert invocation.payload == {"ok": True}
    assert json.loads(bare.runtime.get(function).log.lines()[-1]) == {
        "order": "o-4",
        "note": "order o-4",
    }


def test_a_lambda_target_without_permission_is_refused(bare: Emulator, wired: Stack) -> None:
    _put(bare, "Unpermitted", {"orderId": "o-5"})
    (message,) = _messages(bare, wired, "unpermitted-dlq")
    assert message["ERROR_CODE"] == "NO_PERMISSIONS"
    assert "lambda:InvokeFunction" in message["ERROR_MESSAGE"]
