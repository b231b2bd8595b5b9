"""`__main__.py` with the dev stack's settings under mocks: the offline `pulumi preview`."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
import yaml
from pulumi_harness import PulumiHarness, Stack

from emulator.settings import emulator_settings, stack_settings
from orderflow.aws_facts import CLOUDWATCH_LOGS_VENDED_PREFIX

ROOT = Path(__file__).resolve().parents[2]
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def dev_stack(pulumi_harness: PulumiHarness) -> Stack:
    return pulumi_harness.run_stack_program(ROOT, "dev")


def dev_settings() -> dict[str, object]:
    config: dict[str, object] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    return config


THREE_PIPELINES = {
    ("orderflow:index:AlarmTopic", "alarms"),
    ("orderflow:index:ValidationPipeline", "validation"),
    ("orderflow:index:PremiumOrderPipe", "premium"),
    ("orderflow:index:LateDataReconciler", "late-data"),
}
# What exists only in someone's account: an ARN naming an account, a subnet, a security group.
ACCOUNT_SPECIFIC = re.compile(
    r"arn:aws[\w-]*:[\w-]+:[\w-]*:\d{12}:|\bsubnet-[0-9a-f]+|\bsg-[0-9a-f]+"
)


def test_dev_stack_builds_the_pipelines_that_need_nothing_outside_the_account(
    dev_stack: Stack,
) -> None:
    components = {(r.type, r.name) for r in dev_stack if r.type.startswith("orderflow:")}
    assert components == THREE_PIPELINES
    assert not dev_stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert len([r for r in dev_stack if r.type.startswith("aws:")]) > 40


def test_the_committed_dev_stack_names_nothing_a_user_does_not_own() -> None:
    """`pulumi up -s dev` in a fresh account: no cluster, subnet or security group of ours."""
    assert "orderflow:consolidation" not in dev_settings()
    settings_text = yaml.safe_dump(dev_settings())
    assert not ACCOUNT_SPECIFIC.findall(settings_text)


def test_the_emulator_stack_builds_all_four_pipelines(pulumi_harness: PulumiHarness) -> None:
    """`make demo`: the dev stack plus the emulator's own settings (its MSK cluster)."""
    settings = stack_settings(ROOT, "dev")
    assert settings["orderflow:consolidation"] == emulator_settings()["orderflow:consolidation"]
    stack = pulumi_harness.run(lambda: runpy.run_path(str(ROOT / "__main__.py")), settings)
    components = {(r.type, r.name) for r in stack if r.type.startswith("orderflow:")}
    consumer = ("orderflow:index:ConsolidationConsumer", "consolidation")
    assert components == {*THREE_PIPELINES, consumer}
    (mapping,) = stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["eventSourceArn"] == settings["orderflow:consolidation"]["clusterArn"]


def test_a_stack_file_s_own_settings_win_over_the_emulator_s(tmp_path: Path) -> None:
    own = {"clusterArn": "arn:aws:kafka:us-east-1:111122223333:cluster/mine/abc-1"}
    (tmp_path / "Pulumi.mine.yaml").write_text(
        yaml.safe_dump({"config": {"orderflow:consolidation": own}})
    )
    assert stack_settings(tmp_path, "mine")["orderflow:consolidation"] == own


def test_dev_stack_applies_its_settings(dev_stack: Stack) -> None:
    settings = dev_settings()
    for log_group in dev_stack.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert log_group.inputs["retentionInDays"] == settings["orderflow:logRetentionDays"]
    table = dev_stack.one("aws:dynamodb/table:Table", "validation-orders")
    assert table.inputs["deletionProtectionEnabled"] is False
    assert dev_stack.one("aws:s3/bucket:Bucket", "validation-bucket").inputs["forceDestroy"] is True
    # An empty layer setting means: resolve the latest public layer from SSM.
    layers = {tuple(f.inputs["layers"]) for f in dev_stack.of_type("aws:lambda/function:Function")}
    assert len(dev_stack.of_type("aws:lambda/function:Function")) == 7
    assert layers == {
        (
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7",
        )
    }


def test_every_alarm_notifies_the_stack_topic(dev_stack: Stack) -> None:
    topic_arn = dev_stack.output_of("aws:sns/topic:Topic", "alarms-topic", "arn")
    alarms = dev_stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) >= 9
    assert all(alarm.inputs["alarmActions"] == [topic_arn] for alarm in alarms)


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(dev_stack: Stack) -> None:
    key = dev_stack.one("aws:kms/key:Key", "alarms-key")
    assert key.inputs["enableKeyRotation"] is True
    topic = dev_stack.one("aws:sns/topic:Topic", "alarms-topic")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    grants = key.policy()["Statement"]
    cloudwatch = [s for s in grants if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch
    assert cloudwatch[0]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    policy = dev_stack.one("aws:sns/topicPolicy:TopicPolicy", "alarms-policy").policy()
    assert {s["Sid"] for s in policy["Statement"]} == {
        "AllowCloudWatchAlarms",
        "DenyInsecureTransport",
    }
    # No email address in the dev settings: no subscription waiting for confirmation.
    assert not dev_stack.of_type("aws:sns/topicSubscription:TopicSubscription")


def test_every_setting_in_the_dev_stack_is_read_by_the_program() -> None:
    program = (ROOT / "__main__.py").read_text()
    keys = [k.split(":", 1)[1] for k in dev_settings() if k.startswith("orderflow:")]
    assert keys
    for key in keys:
        assert re.search(rf'"{re.escape(key)}"', program), f"orderflow:{key} is set but never read"


def test_unknown_pipeline_settings_are_rejected(pulumi_harness: PulumiHarness) -> None:
    settings = dev_settings() | {"orderflow:validation": {"keyPrefx": "typo/"}}
    with pytest.raises(ValueError, match="keyPrefx"):
        pulumi_harness.run(
            lambda: __import__("runpy").run_path(str(ROOT / "__main__.py")), settings
        )


def test_workflow_and_pipe_logs_go_to_vended_log_groups(pulumi_harness: PulumiHarness) -> None:
    """Step Functions and Pipes deliver to `/aws/vendedlogs/...` groups (AWS's advice), so
    no group needs an entry in the account's size-limited CloudWatch Logs resource policy."""
    stack = pulumi_harness.run(
        lambda: runpy.run_path(str(ROOT / "__main__.py")), stack_settings(ROOT, "dev")
    )
    groups = {g.state["arn"]: g.state["name"] for g in stack.of_type(LOG_GROUP)}
    destinations = [
        ("states", m.inputs["loggingConfiguration"]["logDestination"].removesuffix(":*"))
        for m in stack.of_type("aws:sfn/stateMachine:StateMachine")
    ] + [
        ("pipes", p.inputs["logConfiguration"]["cloudwatchLogsLogDestination"]["logGroupArn"])
        for p in stack.of_type("aws:pipes/pipe:Pipe")
    ]
    assert {kind for kind, _ in destinations} == {"states", "pipes"}
    for kind, arn in destinations:
        assert groups[arn].startswith(f"{CLOUDWATCH_LOGS_VENDED_PREFIX.value}{kind}/orderflow-")
