"""A customer managed key in the emulator: its key policy decides, as on AWS.

The stack with the key it creates (`orderflow:createKmsKey`) deploys and runs every
pipeline with no denial: the exported key-policy statements are enough. A key policy
without CloudWatch Logs refuses the log group; a role or a service the key policy does not
cover cannot send to a queue encrypted with the key.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest
from botocore.exceptions import ClientError
from emulator_support import ROOT

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from emulator.scenarios import SCENARIOS
from emulator.settings import stack_settings

pytestmark = pytest.mark.e2e

SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def keyed() -> Iterator[Emulator]:
    """All four pipelines, every resource encrypted with the stack's own key."""
    with Emulator() as emulator:
        settings = {**stack_settings(ROOT, "dev"), "orderflow:createKmsKey": "true"}
        emulator.deploy_program(lambda: runpy.run_path(str(ROOT / "__main__.py")), settings)
        yield emulator


def _run(emulator: Emulator, scenario: str, path: Path) -> dict[str, Any]:
    report, outcome = run_scenario(emulator, SCENARIOS[scenario], path)
    assert outcome.problems == [], outcome.problems
    assert report["iam_denied"] == []
    return report


def test_the_stack_s_key_encrypts_its_log_groups(keyed: Emulator) -> None:
    key_arn = keyed.stack.outputs["kmsKeyArn"]
    groups = keyed.client("logs").describe_log_groups()["logGroups"]
    orderflow = [
        g for g in groups if "orderflow" in g["logGroupName"] or "vendedlogs" in g["logGroupName"]
    ]
    assert orderflow
    assert {g.get("kmsKeyId") for g in orderflow} == {key_arn}


@pytest.mark.parametrize(
    ("scenario", "sample"),
    [
        ("validation", "validation/mock-data.json"),
        ("premium", "premium/seed-writes.json"),
        ("late-data", "late-data/seed-events.json"),
        ("consolidation", "consolidation/seed-scenario.json"),
    ],
)
def test_every_pipeline_runs_with_the_key(keyed: Emulator, scenario: str, sample: str) -> None:
    report = _run(keyed, scenario, SAMPLES / sample)
    assert report["errors"] == []


def test_dead_letters_reach_a_queue_encrypted_with_the_key(keyed: Emulator, tmp_path: Path) -> None:
    upload = tmp_path / "keyed-orders.json"
    upload.write_bytes((SAMPLES / "validation" / "mock-data.json").read_bytes())
    report = _run(keyed, "validation", upload)
    letters = [
        b for b in report["queues"]["validation-dlq"] if b["source"]["key"].endswith(upload.name)
    ]
    assert [b["reason"] for b in letters] == ["missing_contact_info"]


# --- what the key policy does not allow is refused ------------------------------------------


def _key(emulator: Emulator, *statements: dict[str, Any]) -> str:
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    key = emulator.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]
    return str(key["Arn"])


ROOT_DELEGATION = {
    "Sid": "EnableIamPolicies",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_a_key_policy_without_cloudwatch_logs_refuses_the_log_group(keyed: Emulator) -> None:
    key = _key(keyed, ROOT_DELEGATION)
    with pytest.raises(PermissionError, match="not allowed to be used with Arn"):
        keyed.deploy_program(
            lambda: aws.cloudwatch.LogGroup("locked", name="locked-out", kms_key_id=key)
        )
    names = [g["logGroupName"] for g in keyed.client("logs").describe_log_groups()["logGroups"]]
    assert "locked-out" not in names


def test_a_key_policy_without_eventbridge_refuses_the_encrypted_bus(keyed: Emulator) -> None:
    key = _key(keyed, ROOT_DELEGATION)
    with pytest.raises(PermissionError, match=r"events\.amazonaws\.com"):
        keyed.deploy_program(
            lambda: aws.cloudwatch.EventBus("locked-bus", name="locked-bus", kms_key_identifier=key)
        )
    buses = [b["Name"] for b in keyed.client("events").list_event_buses()["EventBuses"]]
    assert "locked-bus" not in buses


def _queue_with_key(emulator: Emulator, name: str, key: str) -> tuple[str, str]:
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _role(emulator: Emulator, name: str, statements: list[dict[str, Any]]) -> str:
    iam = emulator.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="inline",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return str(arn)


def test_a_role_without_the_key_grant_cannot_send_to_an_encrypted_queue(keyed: Emulator) -> None:
    key = _key(keyed, ROOT_DELEGATION)
    url, queue_arn = _queue_with_key(keyed, "encrypted-letters", key)
    send = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}
    without = _role(keyed, "sender-without-key", [send])
    with acting_as(Principal.role(without)), pytest.raises(ClientError, match="kms:"):
        keyed.client("sqs").send_message(QueueUrl=url, MessageBody="{}")
    use_key = {
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key,
    }
    with_key = _role(keyed, "sender-with-key", [send, use_key])
    with acting_as(Principal.role(with_key)):
        keyed.client("sqs").send_message(QueueUrl=url, MessageBody="{}")


def test_without_root_delegation_even_a_granted_role_is_refused(keyed: Emulator) -> None:
    key = _key(keyed)  # a key policy naming nobody: IAM policies do not count
    url, queue_arn = _queue_with_key(keyed, "sealed-letters", key)
    role = _role(
        keyed,
        "sender-sealed",
        [
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": key},
        ],
    )
    with acting_as(Principal.role(role)), pytest.raises(ClientError, match="kms:"):
        keyed.client("sqs").send_message(QueueUrl=url, MessageBody="{}")


def test_eventbridge_sends_to_an_encrypted_dead_letter_queue_only_with_the_key_policy(
    keyed: Emulator,
) -> None:
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/some-rule"
    events = Principal.for_service("events.amazonaws.com", rule)
    for name, statements in (
        ("no-events", [ROOT_DELEGATION]),
        (
            "with-events",
            [
                ROOT_DELEGATION,
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                },
            ],
        ),
    ):
        key = _key(keyed, *statements)
        url, queue_arn = _queue_with_key(keyed, f"rule-dlq-{name}", key)
        keyed.client("sqs").set_queue_attributes(
            QueueUrl=url,
            Attributes={
                "Policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": queue_arn,
                                "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
                            }
                        ],
                    }
                )
            },
        )
        with acting_as(events):
            if name == "no-events":
                with pytest.raises(ClientError, match="kms:"):
                    keyed.client("sqs").send_message(QueueUrl=url, MessageBody="{}")
            else:
                keyed.client("sqs").send_message(QueueUrl=url, MessageBody="{}")


def test_the_schedule_role_dead_letters_a_failed_tick_into_its_encrypted_queue(
    keyed: Emulator,
) -> None:
    """Scheduler sends to its DLQ as the schedule's role: that role needs the key too."""
    schedule = keyed.stack.outputs["lateDataScheduleArn"]
    denied_before = len(keyed.guard.denials)
    with Faults(keyed) as faults:
        faults.fail_calls(
            "stepfunctions",
            ["StartExecution"],
            times=None,
            code="ValidationException",
            message="injected: refused",
            status=400,
        )
        ticks = keyed.scheduler.tick(schedule)
        keyed.run_until_idle()
    assert faults.hits
    assert [t.status for t in ticks] == ["DEAD_LETTERED"]
    assert keyed.guard.denials[denied_before:] == []
