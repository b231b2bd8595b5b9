"""ValidationPipeline under Pulumi mocks: every secure and reliable default, pinned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pulumi
import pytest
from moto.events.models import EventPattern
from policy_checks import as_list, assert_least_privilege, assert_tls_only, role_statements
from pulumi_harness import PulumiHarness, Stack

from components import ValidationPipeline, ValidationPipelineArgs
from components.validation_pipeline import object_created_pattern
from orderflow.aws_facts import STEP_FUNCTIONS_RESULT_WRITER_ACTIONS

LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1111-2222"
FN = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
OUTPUT_NAMES = (
    "bucket_name",
    "table_name",
    "dead_letter_queue_url",
    "dead_letter_queue_arn",
    "delivery_dead_letter_queue_arn",
    "state_machine_arn",
    "rule_arn",
)


def build(
    harness: PulumiHarness, args: ValidationPipelineArgs | None = None
) -> tuple[Stack, dict[str, Any]]:
    """Run the component alone; also resolve its typed outputs."""
    outputs: dict[str, Any] = {}

    def program() -> None:
        pipeline = ValidationPipeline(
            "vp", {"powertools_layer_arn": LAYER, "alarm_topic_arn": TOPIC, **(args or {})}
        )
        pulumi.Output.all(*(getattr(pipeline, n) for n in OUTPUT_NAMES)).apply(
            lambda values: outputs.update(zip(OUTPUT_NAMES, values, strict=True))
        )

    stack = harness.run(program)
    return stack, outputs


@pytest.fixture(scope="module")
def built(pulumi_harness: PulumiHarness) -> tuple[Stack, dict[str, Any]]:
    return build(pulumi_harness)


@pytest.fixture(scope="module")
def stack(built: tuple[Stack, dict[str, Any]]) -> Stack:
    return built[0]


def definition(stack: Stack) -> dict[str, Any]:
    return json.loads(  # type: ignore[no-any-return]
        stack.one("aws:sfn/stateMachine:StateMachine", "vp-workflow").inputs["definition"]
    )


def test_every_child_is_named_after_and_parented_by_the_component(stack: Stack) -> None:
    component = stack.one("orderflow:index:ValidationPipeline", "vp")
    children = stack.children_of(component)
    custom = [r for r in stack if r.type.startswith("aws:")]
    assert len(children) == len(custom) > 30
    assert all(child.name.startswith("vp-") for child in children)


def test_outputs_resolve_to_the_created_resources(built: tuple[Stack, dict[str, Any]]) -> None:
    stack, outputs = built
    assert set(outputs) == set(OUTPUT_NAMES)
    assert outputs["bucket_name"] == stack.output_of("aws:s3/bucket:Bucket", "vp-bucket", "bucket")
    assert outputs["table_name"] == stack.output_of("aws:dynamodb/table:Table", "vp-orders", "name")
    assert outputs["dead_letter_queue_url"] == stack.output_of(QUEUE, "vp-dlq", "url")
    assert outputs["dead_letter_queue_arn"] == stack.output_of(QUEUE, "vp-dlq", "arn")
    assert outputs["delivery_dead_letter_queue_arn"] == stack.output_of(
        QUEUE, "vp-delivery-dlq", "arn"
    )
    assert outputs["state_machine_arn"] == stack.output_of(
        "aws:sfn/stateMachine:StateMachine", "vp-workflow", "arn"
    )
    assert outputs["rule_arn"] == stack.output_of(
        "aws:cloudwatch/eventRule:EventRule", "vp-rule", "arn"
    )


def test_bucket_is_encrypted_private_versioned_tls_only_and_notifies_eventbridge(
    stack: Stack,
) -> None:
    bucket = stack.one("aws:s3/bucket:Bucket", "vp-bucket")
    name, arn = bucket.state["bucket"], bucket.state["arn"]
    assert bucket.inputs.get("forceDestroy") is False
    sse = stack.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "vp-bucket-encryption",
    )
    assert sse.inputs["bucket"] == name
    assert sse.inputs["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}, "bucketKeyEnabled": True}
    ]
    block = stack.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "vp-bucket-public-access"
    )
    for setting in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[setting] is True, setting
    ownership = stack.one(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "vp-bucket-ownership"
    )
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    versioning = stack.one("aws:s3/bucketVersioning:BucketVersioning", "vp-bucket-versioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    notification = stack.one(
        "aws:s3/bucketNotification:BucketNotification", "vp-bucket-notification"
    )
    assert notification.inputs == {"bucket": name, "eventbridge": True}
    lifecycle = stack.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "vp-bucket-lifecycle"
    )
    (rule,) = lifecycle.inputs["rules"]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    policy = stack.one("aws:s3/bucketPolicy:BucketPolicy", "vp-bucket-policy")
    assert_tls_only(policy.policy(), [arn, f"{arn}/*"])
    assert block.urn in policy.dependencies


def test_table_is_on_demand_encrypted_recoverable_and_protected(stack: Stack) -> None:
    table = stack.one("aws:dynamodb/table:Table", "vp-orders")
    assert table.inputs["hashKey"] == "orderId"
    assert table.inputs["attributes"] == [{"name": "orderId", "type": "S"}]
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is True


@pytest.mark.parametrize("queue_name", ["vp-dlq", "vp-delivery-dlq"])
def test_dead_letter_queues_are_encrypted_kept_14_days_tls_only_and_alarmed(
    stack: Stack, queue_name: str
) -> None:
    queue = stack.one(QUEUE, queue_name)
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    policy = stack.one("aws:sqs/queuePolicy:QueuePolicy", f"{queue_name}-policy")
    assert policy.inputs["queueUrl"] == queue.state["url"]
    assert_tls_only(policy.policy(), [queue.state["arn"]])
    alarm = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{queue_name}-depth-alarm")
    assert alarm.inputs["namespace"] == "AWS/SQS"
    assert alarm.inputs["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm.inputs["dimensions"] == {"QueueName": queue.state["name"]}
    assert alarm.inputs["threshold"] == 0
    assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
    assert alarm.inputs["alarmActions"] == [TOPIC]


def test_only_the_rule_may_send_to_the_delivery_queue(stack: Stack) -> None:
    policy = stack.one("aws:sqs/queuePolicy:QueuePolicy", "vp-delivery-dlq-policy").policy()
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    rule_arn = stack.output_of("aws:cloudwatch/eventRule:EventRule", "vp-rule", "arn")
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    records_policy = stack.one("aws:sqs/queuePolicy:QueuePolicy", "vp-dlq-policy").policy()
    assert [s["Effect"] for s in records_policy["Statement"]] == ["Deny"]


@pytest.mark.parametrize(
    ("function", "handler", "memory", "timeout"),
    [
        # One vCPU and Lambda's longest timeout: it may copy a big {"orders": [...]} file.
        ("vp-inspect", "runtime.validation.handler.inspect_file", 1769, 900),
        ("vp-validate", "runtime.validation.handler.validate_batch", 512, 40),
    ],
)
def test_functions_have_production_defaults(
    stack: Stack, function: str, handler: str, memory: int, timeout: int
) -> None:
    fn = stack.one(FN, function)
    log_group = stack.one("aws:cloudwatch/logGroup:LogGroup", f"{function}-logs")
    assert fn.inputs["handler"] == handler
    assert fn.inputs["runtime"] == "python3.13"
    assert fn.inputs["architectures"] == ["arm64"]
    assert fn.inputs["memorySize"] == memory
    assert fn.inputs["timeout"] == timeout
    assert fn.inputs["layers"] == [LAYER]
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    assert fn.inputs["loggingConfig"] == {
        "logFormat": "JSON",
        "logGroup": log_group.state["name"],
        "applicationLogLevel": "INFO",
        "systemLogLevel": "WARN",
    }
    assert fn.inputs["role"] == stack.output_of("aws:iam/role:Role", f"{function}-role", "arn")
    assert log_group.inputs["retentionInDays"] == 30
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", f"{function}-policy")
    assert policy.urn in fn.dependencies, "the role's permissions must exist before the function"
    env = fn.inputs["environment"]["variables"]
    assert env["DEAD_LETTER_QUEUE_URL"] == stack.output_of(QUEUE, "vp-dlq", "url")
    assert env["POWERTOOLS_SERVICE_NAME"] == function
    for metric in ("errors", "throttles"):
        alarm = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"{function}-{metric}-alarm")
        assert alarm.inputs["dimensions"] == {"FunctionName": fn.state["name"]}
        assert alarm.inputs["alarmActions"] == [TOPIC]


def test_function_code_is_packaged_from_existing_runtime_folders(stack: Stack) -> None:
    archive = stack.one(FN, "vp-validate").inputs["code"]
    sources = {
        f"runtime/{path.relative_to(Path('runtime')).as_posix()}"
        for folder in ("common", "validation")
        for path in (Path("runtime") / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert set(archive.assets) == {
        "runtime/__init__.py",
        *sources,
        "orderflow/aws_facts/__init__.py",  # the limits the runtime reads
    }
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in archive.assets)
    paths = [Path(asset.path) for asset in archive.assets.values()]
    assert all(path.exists() for path in paths), paths
    module, _, function = stack.one(FN, "vp-validate").inputs["handler"].rpartition(".")
    handler_file = Path(*module.split(".")).with_suffix(".py")
    assert handler_file.exists()
    assert f"def {function}(" in handler_file.read_text()


def test_validate_function_may_only_write_its_table_and_dead_letter_queue(stack: Stack) -> None:
    grants = role_statements(stack, "vp-validate-role")
    assert set(grants) == {"WriteOrders", "SendDeadLetters", "WriteOwnLogs", "WriteTraces"}
    assert grants["WriteOrders"]["Action"] == ["dynamodb:BatchWriteItem"]
    assert grants["WriteOrders"]["Resource"] == [
        stack.output_of("aws:dynamodb/table:Table", "vp-orders", "arn")
    ]
    assert grants["SendDeadLetters"]["Action"] == ["sqs:SendMessage"]
    assert grants["SendDeadLetters"]["Resource"] == [stack.output_of(QUEUE, "vp-dlq", "arn")]
    log_group_arn = stack.output_of("aws:cloudwatch/logGroup:LogGroup", "vp-validate-logs", "arn")
    assert grants["WriteOwnLogs"]["Resource"] == [f"{log_group_arn}:*"]


def test_inspect_function_reads_only_the_incoming_prefix(stack: Stack) -> None:
    grants = role_statements(stack, "vp-inspect-role")
    assert set(grants) == {
        "ReadIncomingFiles",
        "ListIncomingFiles",
        "SendDeadLetters",
        "WriteNormalizedFiles",
        "WriteOwnLogs",
        "WriteTraces",
    }
    work_arn = stack.output_of("aws:s3/bucket:Bucket", "vp-work", "arn")
    assert grants["WriteNormalizedFiles"]["Resource"] == [f"{work_arn}/normalized/*"]
    assert grants["WriteNormalizedFiles"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    env = stack.one(FN, "vp-inspect").inputs["environment"]["variables"]
    assert env["WORK_BUCKET"] == stack.output_of("aws:s3/bucket:Bucket", "vp-work", "bucket")
    bucket_arn = stack.output_of("aws:s3/bucket:Bucket", "vp-bucket", "arn")
    assert grants["ReadIncomingFiles"]["Resource"] == [f"{bucket_arn}/incoming/*"]
    assert grants["ListIncomingFiles"]["Resource"] == [bucket_arn]
    assert grants["ListIncomingFiles"]["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}
    assert grants["ReadIncomingFiles"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]


def test_workflow_role_invokes_only_its_functions_and_its_own_map_children(stack: Stack) -> None:
    grants = role_statements(stack, "vp-workflow-role")
    fn_arns = [stack.output_of(FN, n, "arn") for n in ("vp-inspect", "vp-validate")]
    assert grants["InvokeValidationFunctions"]["Resource"] == [
        fn_arns[0],
        f"{fn_arns[0]}:*",
        fn_arns[1],
        f"{fn_arns[1]}:*",
    ]
    sm_arn = stack.output_of("aws:sfn/stateMachine:StateMachine", "vp-workflow", "arn")
    assert grants["StartMapRunChildren"]["Resource"] == [sm_arn]
    assert grants["TrackMapRunChildren"]["Resource"] == [
        sm_arn.replace(":stateMachine:", ":execution:") + "/*",
        sm_arn.replace(":stateMachine:", ":express:") + "/*",
    ]
    assert set(grants) == {
        "InvokeValidationFunctions",
        "ReadIncomingFiles",
        "SendDeadLetters",
        "DeliverLogs",
        "WriteTraces",
        "StartMapRunChildren",
        "TrackMapRunChildren",
        "ExportMapResults",
        "ReadNormalizedFiles",
    }
    work_arn = stack.output_of("aws:s3/bucket:Bucket", "vp-work", "arn")
    assert grants["ReadNormalizedFiles"]["Resource"] == [f"{work_arn}/normalized/*"]


def test_map_runs_export_their_results_to_the_component_work_bucket(stack: Stack) -> None:
    """Children's results go to S3 (ResultWriter), not into the execution's 256 KiB state:
    no bound on how many batches a file may have. The work bucket is not the intake bucket
    (its objects never reach the intake rule) and forgets its files."""
    states = definition(stack)["States"]
    bucket = stack.output_of("aws:s3/bucket:Bucket", "vp-work", "bucket")
    bucket_arn = stack.output_of("aws:s3/bucket:Bucket", "vp-work", "arn")
    (lifecycle,) = [
        r
        for r in stack.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if r.name == "vp-work-lifecycle"
    ]
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 14}
    maps = {name: s for name, s in states.items() if s["Type"] == "Map"}
    assert maps
    for name, state in maps.items():
        assert state["ResultWriter"] == {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": bucket, "Prefix": f"orderflow-work/map-results/{name}"},
        }
    grant = role_statements(stack, "vp-workflow-role")["ExportMapResults"]
    assert grant["Resource"] == [f"{bucket_arn}/orderflow-work/map-results/*"]
    assert set(grant["Action"]) == set(STEP_FUNCTIONS_RESULT_WRITER_ACTIONS.value)


def test_events_role_may_only_start_the_workflow(stack: Stack) -> None:
    grants = role_statements(stack, "vp-events-role")
    sm_arn = stack.output_of("aws:sfn/stateMachine:StateMachine", "vp-workflow", "arn")
    assert grants == {
        "StartWorkflow": {
            "Sid": "StartWorkflow",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [sm_arn],
        }
    }


def test_roles_trust_only_their_service(stack: Stack) -> None:
    expected = {
        "vp-inspect-role": "lambda.amazonaws.com",
        "vp-validate-role": "lambda.amazonaws.com",
        "vp-workflow-role": "states.amazonaws.com",
        "vp-events-role": "events.amazonaws.com",
    }
    for role_name, service in expected.items():
        trust = stack.one("aws:iam/role:Role", role_name).policy("assumeRolePolicy")
        assert [s["Principal"] for s in trust["Statement"]] == [{"Service": service}]
        assert [s["Action"] for s in trust["Statement"]] == ["sts:AssumeRole"]


def test_no_policy_grants_star_actions_or_unneeded_star_resources(stack: Stack) -> None:
    policies = stack.of_type("aws:iam/rolePolicy:RolePolicy")
    assert len(policies) == 5
    assert sum(assert_least_privilege(p) for p in policies) >= 15


def test_state_machine_logs_traces_and_alarms(stack: Stack) -> None:
    machine = stack.one("aws:sfn/stateMachine:StateMachine", "vp-workflow")
    log_group = stack.one("aws:cloudwatch/logGroup:LogGroup", "vp-workflow-logs")
    assert machine.inputs["type"] == "STANDARD"
    assert machine.inputs["tracingConfiguration"] == {"enabled": True}
    assert machine.inputs["loggingConfiguration"] == {
        "logDestination": f"{log_group.state['arn']}:*",
        "level": "ERROR",
        "includeExecutionData": False,
    }
    assert log_group.inputs["retentionInDays"] == 30
    assert (
        stack.one("aws:iam/rolePolicy:RolePolicy", "vp-workflow-policy").urn in machine.dependencies
    )
    for metric in ("executionsfailed", "executionstimedout", "executionthrottled"):
        alarm = stack.one("aws:cloudwatch/metricAlarm:MetricAlarm", f"vp-workflow-{metric}-alarm")
        assert alarm.inputs["namespace"] == "AWS/States"
        assert alarm.inputs["dimensions"] == {"StateMachineArn": machine.state["arn"]}
        assert alarm.inputs["alarmActions"] == [TOPIC]


def test_workflow_reads_the_file_in_batches_with_a_distributed_map(stack: Stack) -> None:
    states = definition(stack)["States"]
    maps = {name: s for name, s in states.items() if s["Type"] == "Map"}
    assert set(maps) == {"Validate_json_array", "Validate_orders_object", "Validate_jsonl"}
    validate_arn = stack.output_of(FN, "vp-validate", "arn")
    for state in maps.values():
        assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
        assert state["ItemBatcher"]["MaxItemsPerBatch"] == 1000
        assert state["ItemBatcher"]["MaxInputBytesPerBatch"] == 240_000
        assert state["MaxConcurrency"] == 10
        assert state["ItemProcessor"]["ProcessorConfig"] == {
            "Mode": "DISTRIBUTED",
            "ExecutionType": "EXPRESS",
        }
        (task,) = state["ItemProcessor"]["States"].values()
        assert task["Parameters"]["FunctionName"] == validate_arn
        assert {"States.TaskFailed", "Lambda.TooManyRequestsException"} <= {
            e for retry in task["Retry"] for e in retry["ErrorEquals"]
        }
        assert all(retry["MaxAttempts"] <= 6 for retry in task["Retry"])
        assert state["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DeadLetterFile"}
        ]
    # No unverified ASL field: a {"orders": [...]} file is read from InspectFile's bare-array
    # copy, named (like every file the Map reads) by the inspection's read* fields.
    for state in maps.values():
        assert state["ItemReader"]["Parameters"] == {
            "Bucket.$": "$.file.readBucket",
            "Key.$": "$.file.readKey",
            "VersionId.$": "$.file.readVersionId",
        }
        assert set(state["ItemReader"]["ReaderConfig"]) == {"InputType"}
    assert maps["Validate_orders_object"]["ItemReader"]["ReaderConfig"]["InputType"] == "JSON"
    assert maps["Validate_jsonl"]["ItemReader"]["ReaderConfig"]["InputType"] == "JSONL"
    assert states["InspectFile"]["Parameters"]["FunctionName"] == stack.output_of(
        FN, "vp-inspect", "arn"
    )
    dlq_url = stack.output_of(QUEUE, "vp-dlq", "url")
    assert states["DeadLetterFile"]["Parameters"]["QueueUrl"] == dlq_url
    assert states["DeadLetterFile"]["Next"] == "FileFailed"
    assert states["FileFailed"]["Type"] == "Fail"


S3_EVENT = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2026-11-22T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::BUCKET"],
    "detail": {
        "version": "0",
        "bucket": {"name": "BUCKET"},
        "object": {
            "key": "incoming/mock-data.json",
            "size": 512,
            "etag": "b1946ac9",
            "sequencer": "00617F",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "reason": "PutObject",
    },
}


def matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    """moto's EventBridge matcher, which supports the full operator set (incl. wildcard)."""
    return bool(pattern.matches_event(cast(Any, event)))


def s3_event(bucket: str, key: str, detail_type: str = "Object Created") -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(S3_EVENT).replace("BUCKET", bucket))
    event["detail"]["object"]["key"] = key
    event["detail-type"] = detail_type
    return event


def test_rule_targets_the_workflow_with_retries_and_a_dead_letter_queue(stack: Stack) -> None:
    target = stack.one("aws:cloudwatch/eventTarget:EventTarget", "vp-target")
    assert target.inputs["rule"] == stack.output_of(
        "aws:cloudwatch/eventRule:EventRule", "vp-rule", "name"
    )
    assert target.inputs["arn"] == stack.output_of(
        "aws:sfn/stateMachine:StateMachine", "vp-workflow", "arn"
    )
    assert target.inputs["roleArn"] == stack.output_of("aws:iam/role:Role", "vp-events-role", "arn")
    assert target.inputs["retryPolicy"] == {
        "maximumEventAgeInSeconds": 86_400,
        "maximumRetryAttempts": 185,
    }
    assert target.inputs["deadLetterConfig"] == {
        "arn": stack.output_of(QUEUE, "vp-delivery-dlq", "arn")
    }
    events_policy = stack.one("aws:iam/rolePolicy:RolePolicy", "vp-events-policy")
    assert events_policy.urn in target.dependencies


def test_the_rule_selects_the_prefix_literally_and_leaves_the_suffix_to_inspect_file() -> None:
    """`ORDERS.JSON` must reach InspectFile: a case-sensitive wildcard would drop it."""
    pattern = object_created_pattern("b", "in*box/", [".json"])
    assert pattern["detail"]["object"]["key"] == [{"prefix": "in*box/"}]
    matcher = EventPattern.load(json.dumps(pattern))
    assert matches(matcher, s3_event("b", "in*box/a.json"))
    assert matches(matcher, s3_event("b", "in*box/ORDERS.JSON"))
    assert not matches(matcher, s3_event("b", "inXbox/a.json"))
    assert not matches(matcher, s3_event("b", "archive/in*box/a.json"))
    everything = object_created_pattern("b", "", [".json"])
    assert matches(EventPattern.load(json.dumps(everything)), s3_event("b", "a.JSON"))


def test_brought_bucket_and_table_are_used_not_created(pulumi_harness: PulumiHarness) -> None:
    stack, outputs = build(pulumi_harness, {"bucket_name": "sales-drop", "table_name": "orders"})
    # Only the pipeline's own work bucket (Map results) is created, never an intake bucket.
    assert [b.name for b in stack.of_type("aws:s3/bucket:Bucket")] == ["vp-work"]
    assert not stack.of_type("aws:dynamodb/table:Table")
    assert outputs["bucket_name"] == "sales-drop"
    assert outputs["table_name"] == "orders"
    grants = role_statements(stack, "vp-validate-role")
    assert grants["WriteOrders"]["Resource"] == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    ]
    grants = role_statements(stack, "vp-inspect-role")
    assert grants["ReadIncomingFiles"]["Resource"] == ["arn:aws:s3:::sales-drop/incoming/*"]
    pattern = json.loads(
        stack.one("aws:cloudwatch/eventRule:EventRule", "vp-rule").inputs["eventPattern"]
    )
    assert pattern["detail"]["bucket"]["name"] == ["sales-drop"]


def test_customer_managed_key_encrypts_queues_table_bucket_and_logs(
    pulumi_harness: PulumiHarness,
) -> None:
    stack, _ = build(pulumi_harness, {"kms_key_arn": KEY})
    for queue in stack.of_type(QUEUE):
        assert queue.inputs["kmsMasterKeyId"] == KEY
        assert "sqsManagedSseEnabled" not in queue.inputs
    assert stack.one("aws:dynamodb/table:Table", "vp-orders").inputs["serverSideEncryption"] == {
        "enabled": True,
        "kmsKeyArn": KEY,
    }
    sse = stack.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "vp-bucket-encryption",
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KEY,
    }
    for log_group in stack.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert log_group.inputs["kmsKeyId"] == KEY
    grants = role_statements(stack, "vp-validate-role")
    assert grants["UseDataKey"]["Resource"] == [KEY]


def test_custom_prefix_suffixes_and_batching_flow_into_rule_and_workflow(
    pulumi_harness: PulumiHarness,
) -> None:
    stack, _ = build(
        pulumi_harness,
        {
            "key_prefix": "drop/",
            "key_suffixes": [".ndjson"],
            "batch_size": 250,
            "max_concurrency": 4,
        },
    )
    pattern = json.loads(
        stack.one("aws:cloudwatch/eventRule:EventRule", "vp-rule").inputs["eventPattern"]
    )
    assert pattern["detail"]["object"]["key"] == [{"prefix": "drop/"}]
    environment = stack.one("aws:lambda/function:Function", "vp-inspect").inputs["environment"]
    assert environment["variables"]["KEY_SUFFIXES"] == ".ndjson"
    state = definition(stack)["States"]["Validate_jsonl"]
    assert state["ItemBatcher"]["MaxItemsPerBatch"] == 250
    assert state["MaxConcurrency"] == 4
    assert as_list(role_statements(stack, "vp-inspect-role")["ReadIncomingFiles"]["Resource"])[
        0
    ].endswith("/drop/*")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"bucket_name": "b", "force_destroy_bucket": True}, "conflicts with bucket_name"),
        ({"table_name": "t", "deletion_protection": False}, "conflicts with table_name"),
        ({"key_suffixes": []}, "key_suffixes"),
        ({"key_suffixes": [".json,.jsonl"]}, "comma"),
        ({"key_prefix": "/incoming/"}, "must not start with '/'"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10_001}, "batch_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"log_retention_days": 0}, "retention"),
        ({"log_retention_days": 17}, "retention"),
        ({"architecture": "sparc"}, "architecture"),
        ({"log_level": "LOUD"}, "log_level"),
    ],
)
def test_invalid_or_conflicting_arguments_are_rejected_clearly(
    pulumi_harness: PulumiHarness, args: dict[str, Any], message: str
) -> None:
    """Rejected before anything is registered: a failed call leaves no half-built stack."""
    raised: list[ValueError] = []

    def program() -> None:
        with pytest.raises(ValueError, match=message) as info:
            ValidationPipeline("bad", {"powertools_layer_arn": LAYER, **args})  # type: ignore[arg-type]
        raised.append(info.value)

    stack = pulumi_harness.run(program)
    assert raised
    assert list(stack) == []
