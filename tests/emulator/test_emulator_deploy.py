"""`__main__.py` with the dev stack, created in moto from the program's own inputs."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest
from moto.s3.models import s3_backends

from emulator.deploy import describe
from emulator.engine import Emulator
from emulator.program import ACCOUNT, physical_name
from emulator.provision import UnsupportedResourceError
from emulator.provision.cloudwatch import InvalidEventPatternError


def test_components_are_recorded_not_created(dev: Emulator) -> None:
    components = [r for r in dev.stack if r.type.startswith("orderflow:")]
    assert {(r.type, r.name) for r in components} >= {
        ("orderflow:index:AlarmTopic", "alarms"),
        ("orderflow:index:ValidationPipeline", "validation"),
    }
    assert all(r.id == "" for r in components)


def test_physical_names_follow_pulumi_auto_naming(dev: Emulator) -> None:
    queue = dev.stack.one("aws:sqs/queue:Queue", "validation-dlq")
    assert queue.state["name"] == physical_name("validation-dlq")
    assert queue.state["name"].startswith("validation-dlq-")
    assert len(queue.state["name"]) == len("validation-dlq-") + 7
    assert (
        queue.id
        == queue.state["url"]
        == dev.client("sqs").get_queue_url(QueueName=queue.state["name"])["QueueUrl"]
    )


def test_the_bucket_is_created_with_its_settings_resources(dev: Emulator) -> None:
    bucket = dev.stack.output_of("aws:s3/bucket:Bucket", "validation-bucket", "bucket")
    s3 = dev.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # moto's GetBucketNotificationConfiguration leaves EventBridge out; its model has it.
    notifications = s3_backends[ACCOUNT]["aws"].get_bucket(bucket).notification_configuration
    assert notifications is not None
    assert notifications.event_bridge is not None
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "DenyInsecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]


def test_table_queue_and_functions_match_the_program(dev: Emulator) -> None:
    table = dev.stack.output_of("aws:dynamodb/table:Table", "validation-orders", "name")
    description = dev.client("dynamodb").describe_table(TableName=table)["Table"]
    assert description["KeySchema"] == [{"AttributeName": "orderId", "KeyType": "HASH"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    url = dev.stack.output_of("aws:sqs/queue:Queue", "validation-dlq", "url")
    attributes = dev.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert "events.amazonaws.com" not in attributes["Policy"]

    function = dev.stack.one("aws:lambda/function:Function", "validation-validate")
    configuration = dev.client("lambda").get_function(FunctionName=function.state["name"])[
        "Configuration"
    ]
    assert configuration["Handler"] == "runtime.validation.handler.validate_batch"
    assert configuration["MemorySize"] == function.inputs["memorySize"]
    assert configuration["Environment"]["Variables"]["TABLE_NAME"] == table
    assert configuration["Role"] == function.inputs["role"]


def test_roles_hold_exactly_the_declared_policies(dev: Emulator) -> None:
    for role_policy in dev.stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        stored = dev.client("iam").get_role_policy(
            RoleName=role_policy.inputs["role"], PolicyName=role_policy.state["name"]
        )["PolicyDocument"]
        assert stored == role_policy.policy()


def test_the_rule_and_its_target_are_stored_as_declared(dev: Emulator) -> None:
    rule = dev.stack.one("aws:cloudwatch/eventRule:EventRule", "validation-rule")
    events = dev.client("events")
    assert json.loads(events.describe_rule(Name=rule.state["name"])["EventPattern"]) == rule.policy(
        "eventPattern"
    )
    (target,) = events.list_targets_by_rule(Rule=rule.state["name"])["Targets"]
    machine = dev.stack.output_of("aws:sfn/stateMachine:StateMachine", "validation-workflow", "arn")
    assert target["Arn"] == machine
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    delivery_dlq = dev.stack.output_of("aws:sqs/queue:Queue", "validation-delivery-dlq", "arn")
    assert target["DeadLetterConfig"] == {"Arn": delivery_dlq}


def test_the_powertools_layer_is_resolved_from_its_ssm_parameter(dev: Emulator) -> None:
    for function in dev.stack.of_type("aws:lambda/function:Function"):
        (layer,) = function.inputs["layers"]
        assert layer.startswith(
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-"
        )


def test_the_listing_groups_resources_under_their_component(dev: Emulator) -> None:
    lines = describe(dev.stack)
    start = lines.index("+ orderflow:index:ValidationPipeline validation")
    children = []
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        children.append(line.split())
    assert [
        "+",
        "aws:s3/bucket:Bucket",
        "validation-bucket",
        physical_name("validation-bucket"),
    ] in children
    assert len(children) == len(
        dev.stack.descendants_of(dev.stack.one("orderflow:index:ValidationPipeline", "validation"))
    )


def test_an_unsupported_resource_type_fails_with_its_name(dev: Emulator) -> None:
    with pytest.raises(
        UnsupportedResourceError,
        match=r"emulator cannot create aws:apigateway/restApi:RestApi \(resource 'x'\)",
    ):
        dev.deploy_program(lambda: aws.apigateway.RestApi("x"))


def test_an_event_pattern_aws_would_refuse_fails_the_deploy(dev: Emulator) -> None:
    pattern = json.dumps({"source": [{"prefx": "aws."}]})
    with pytest.raises(InvalidEventPatternError, match="prefx"):
        dev.deploy_program(lambda: aws.cloudwatch.EventRule("typo", event_pattern=pattern))


def test_an_invalid_state_machine_definition_fails_the_deploy(dev: Emulator) -> None:
    role = dev.stack.output_of("aws:iam/role:Role", "validation-workflow-role", "arn")
    definition = json.dumps({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}})
    with pytest.raises(ValueError, match="Missing"):
        dev.deploy_program(
            lambda: aws.sfn.StateMachine("broken", role_arn=role, definition=definition)
        )
