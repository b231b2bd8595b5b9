"""ConsolidationConsumer under Pulumi mocks: mapping parameters, IAM scoping, alarms, fan-out."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from policy_checks import assert_least_privilege, role_statements
from pulumi_harness import PulumiHarness, Stack

from components.consolidation_consumer import ConsolidationConsumer, ConsolidationConsumerArgs
from orderflow.aws_facts import LAMBDA_MSK_IAM_AUTH_ACTIONS

LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"
CLUSTER = (
    "arn:aws:kafka:us-east-1:123456789012:cluster/chargebacks/"
    "5b9a1c0e-1111-2222-3333-444455556666-1"
)
PREFIX = "s3://consolidated-data/consolidated/chargebacks/"
REQUIRED: ConsolidationConsumerArgs = {
    "cluster_arn": CLUSTER,
    "subnet_ids": ["subnet-1", "subnet-2"],
    "security_group_ids": ["sg-1"],
    "consolidated_data_prefixes": [PREFIX],
}
FN = "aws:lambda/function:Function"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
SM = "aws:sfn/stateMachine:StateMachine"


def build(harness: PulumiHarness, args: dict[str, Any] | None = None) -> Stack:
    return harness.run(
        lambda: ConsolidationConsumer(
            "cc",
            cast(
                ConsolidationConsumerArgs,
                {
                    "powertools_layer_arn": LAYER,
                    "alarm_topic_arn": TOPIC,
                    **REQUIRED,
                    **(args or {}),
                },
            ),
        )
    )


@pytest.fixture(scope="module")
def stack(pulumi_harness: PulumiHarness) -> Stack:
    return build(pulumi_harness)


def test_mapping_reads_the_topic_with_bounded_retries_bisect_and_partial_failures(
    stack: Stack,
) -> None:
    mapping = stack.one(ESM, "cc-mapping")
    failures_arn = stack.output_of("aws:s3/bucket:Bucket", "cc-failures", "arn")
    assert mapping.inputs["eventSourceArn"] == CLUSTER
    assert mapping.inputs["functionName"] == stack.output_of(FN, "cc-consumer", "arn")
    assert mapping.inputs["topics"] == ["chargeback-consolidation-events"]
    assert mapping.inputs["startingPosition"] == "TRIM_HORIZON"
    assert mapping.inputs["batchSize"] == 100
    assert mapping.inputs["amazonManagedKafkaEventSourceConfig"] == {
        "consumerGroupId": "orderflow-consolidation"
    }
    assert mapping.inputs["provisionedPollerConfig"] == {"minimumPollers": 1, "maximumPollers": 3}
    assert mapping.inputs["maximumRetryAttempts"] == 3
    assert mapping.inputs["maximumRecordAgeInSeconds"] == 21_600
    assert mapping.inputs["bisectBatchOnFunctionError"] is True
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["destinationConfig"] == {"onFailure": {"destinationArn": failures_arn}}
    assert mapping.inputs["metricsConfig"] == {
        "metrics": ["EventCount", "ErrorCount", "KafkaMetrics"]
    }
    assert (
        stack.one("aws:iam/rolePolicy:RolePolicy", "cc-consumer-policy").urn in mapping.dependencies
    )


def test_consumer_role_is_scoped_to_cluster_topic_group_and_its_own_resources(stack: Stack) -> None:
    grants = role_statements(stack, "cc-consumer-role")
    base = CLUSTER.replace(":cluster/", ":{}/")
    assert grants["DiscoverCluster"]["Resource"] == [CLUSTER]
    assert grants["ConnectToCluster"]["Resource"] == [CLUSTER]
    assert grants["ReadTopic"]["Resource"] == [
        base.format("topic") + "/chargeback-consolidation-events"
    ]
    assert grants["UseConsumerGroup"]["Resource"] == [
        base.format("group") + "/orderflow-consolidation"
    ]
    assert grants["RecordConsolidation"]["Resource"] == [
        stack.output_of("aws:dynamodb/table:Table", "cc-consolidations", "arn")
    ]
    assert grants["StartFanOut"]["Resource"] == [stack.output_of(SM, "cc-fanout", "arn")]
    failures_arn = stack.output_of("aws:s3/bucket:Bucket", "cc-failures", "arn")
    assert grants["KeepFailedBatches"]["Resource"] == [f"{failures_arn}/*"]
    assert grants["ListFailureBucket"]["Resource"] == [failures_arn]
    assert grants["ManageNetworkInterfaces"]["Resource"] == ["*"]
    consumer = stack.one(FN, "cc-consumer")
    assert consumer.inputs["vpcConfig"] == {
        "subnetIds": ["subnet-1", "subnet-2"],
        "securityGroupIds": ["sg-1"],
    }
    env = consumer.inputs["environment"]["variables"]
    assert env["DYNAMODB_TABLE_NAME"] == stack.output_of(
        "aws:dynamodb/table:Table", "cc-chargebacks", "name"
    )
    assert env["ALLOWED_OUTPUT_PREFIXES"] == PREFIX
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "POC-Chargeback/ConsolidationUpdater"
    assert env["LOG_LEVEL"] == "INFO"


def test_consumer_role_grants_every_kafka_cluster_action_iam_auth_needs(stack: Stack) -> None:
    """Lambda's MSK cluster-authentication page lists six actions; without
    DescribeClusterDynamicConfiguration the mapping cannot read an IAM-auth cluster."""
    grants = role_statements(stack, "cc-consumer-role")
    base = CLUSTER.replace(":cluster/", ":{}/")
    arns = {
        "cluster": CLUSTER,
        "topic": base.format("topic") + "/chargeback-consolidation-events",
        "group": base.format("group") + "/orderflow-consolidation",
    }
    statements = {
        "cluster": grants["ConnectToCluster"],
        "topic": grants["ReadTopic"],
        "group": grants["UseConsumerGroup"],
    }
    granted = {
        (action, resource)
        for statement in statements.values()
        for resource in statement["Resource"]
        for action in statement["Action"]
    }
    assert granted == {
        (action, arns[kind])
        for kind, actions in LAMBDA_MSK_IAM_AUTH_ACTIONS.value.items()
        for action in actions
    }
    assert {action for action, _ in granted} == {
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeClusterDynamicConfiguration",
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:ReadData",
        "kafka-cluster:DescribeGroup",
        "kafka-cluster:AlterGroup",
    }


def test_updater_may_only_update_chargebacks(stack: Stack) -> None:
    grants = role_statements(stack, "cc-updater-role")
    assert grants["UpdateChargebacks"]["Action"] == ["dynamodb:UpdateItem"]
    assert grants["UpdateChargebacks"]["Resource"] == [
        stack.output_of("aws:dynamodb/table:Table", "cc-chargebacks", "arn")
    ]
    assert "vpcConfig" not in stack.one(FN, "cc-updater").inputs or not stack.one(
        FN, "cc-updater"
    ).inputs.get("vpcConfig")


def test_fanout_reads_only_the_consolidated_prefix_and_updates_in_bounded_batches(
    stack: Stack,
) -> None:
    grants = role_statements(stack, "cc-fanout-role")
    assert grants["ListConsolidatedFiles"]["Resource"] == ["arn:aws:s3:::consolidated-data"]
    assert grants["ListConsolidatedFiles"]["Condition"] == {
        "StringLike": {"s3:prefix": ["consolidated/chargebacks/*"]}
    }
    assert grants["ReadConsolidatedFiles"]["Resource"] == [
        "arn:aws:s3:::consolidated-data/consolidated/chargebacks/*"
    ]
    machine = stack.one(SM, "cc-fanout")
    assert machine.inputs["type"] == "STANDARD"
    states = json.loads(machine.inputs["definition"])["States"]
    files = states["ForEachFile"]
    assert files["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert files["MaxConcurrency"] == 4
    inner = files["ItemProcessor"]["States"]
    updater_arn = stack.output_of(FN, "cc-updater", "arn")
    for fmt, input_type in (("csv", "CSV"), ("json", "JSONL"), ("parquet", "PARQUET")):
        rows = inner[f"UpdateRows_{fmt}"]
        assert rows["ItemReader"]["ReaderConfig"]["InputType"] == input_type
        assert rows["ItemBatcher"]["MaxItemsPerBatch"] == 500
        assert rows["MaxConcurrency"] == 20
        task = rows["ItemProcessor"]["States"][f"ApplyUpdates_{fmt}"]
        assert task["Parameters"]["FunctionName"] == updater_arn
        assert any("Lambda.TooManyRequestsException" in r["ErrorEquals"] for r in task["Retry"])


def test_every_map_run_of_the_fanout_exports_its_results_to_the_component_bucket(
    stack: Stack,
) -> None:
    """A file's rows and a consolidation's files make unbounded numbers of children: their
    results go to S3 (ResultWriter), never into the execution's 256 KiB state."""
    states = json.loads(stack.one(SM, "cc-fanout").inputs["definition"])["States"]
    bucket = stack.output_of("aws:s3/bucket:Bucket", "cc-failures", "bucket")
    inner = states["ForEachFile"]["ItemProcessor"]["States"]
    maps = {"ForEachFile": states["ForEachFile"]} | {
        name: state for name, state in inner.items() if state["Type"] == "Map"
    }
    assert len(maps) == 4
    for name, state in maps.items():
        assert state["ResultWriter"] == {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": bucket, "Prefix": f"orderflow-work/map-results/{name}"},
        }
    bucket_arn = stack.output_of("aws:s3/bucket:Bucket", "cc-failures", "arn")
    grant = role_statements(stack, "cc-fanout-role")["ExportMapResults"]
    assert grant["Resource"] == [f"{bucket_arn}/orderflow-work/map-results/*"]


def test_alarms_cover_lag_failures_errors_queues_and_fanout(stack: Stack) -> None:
    alarms = {a.name: a for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for name in (
        "cc-offsetlag-alarm",
        "cc-onfailuredestinationdeliveredeventcount-alarm",
        "cc-consumer-errors-alarm",
        "cc-consumer-throttles-alarm",
        "cc-updater-errors-alarm",
        "cc-dlq-depth-alarm",
        "cc-fanout-executionsfailed-alarm",
    ):
        assert alarms[name].inputs["alarmActions"] == [TOPIC], name
    lag = alarms["cc-offsetlag-alarm"]
    assert lag.inputs["dimensions"] == {
        "FunctionName": stack.output_of(FN, "cc-consumer", "name"),
        "EventSourceMappingUUID": stack.output_of(ESM, "cc-mapping", "uuid"),
    }


def test_tables_bucket_and_policies_are_secure(stack: Stack) -> None:
    chargebacks = stack.one("aws:dynamodb/table:Table", "cc-chargebacks")
    assert chargebacks.inputs["hashKey"] == "chargeback_id"
    assert chargebacks.inputs["pointInTimeRecovery"] == {"enabled": True}
    stack.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "cc-failures-public-access")
    stack.one("aws:s3/bucketPolicy:BucketPolicy", "cc-failures-policy")
    assert (
        sum(assert_least_privilege(p) for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")) >= 12
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"cluster_arn": ""}, "cluster_arn"),
        ({"consolidated_data_prefixes": ["bucket/prefix"]}, "s3://"),
        ({"maximum_retry_attempts": -1}, "finite"),
        ({"maximum_record_age_seconds": 10}, "maximum_record_age_seconds"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position"),
        ({"table_name": "t", "deletion_protection": True}, "conflicts with table_name"),
    ],
)
def test_invalid_arguments_are_rejected(
    pulumi_harness: PulumiHarness, args: dict[str, Any], message: str
) -> None:
    raised: list[ValueError] = []

    def program() -> None:
        with pytest.raises(ValueError, match=message) as info:
            ConsolidationConsumer(
                "bad",
                cast(
                    ConsolidationConsumerArgs, {"powertools_layer_arn": LAYER, **REQUIRED, **args}
                ),
            )
        raised.append(info.value)

    assert list(pulumi_harness.run(program)) == []
    assert raised


def test_a_cluster_arn_that_is_not_msk_fails_clearly(pulumi_harness: PulumiHarness) -> None:
    with pytest.raises(ValueError, match="MSK cluster ARN"):
        build(pulumi_harness, {"cluster_arn": "arn:aws:kafka:us-east-1:123456789012:topic/x"})
