"""The MSK event source mapping on its own: batches, partial failures, bisect, retries,
record age, the on-failure bucket and the role's Kafka permissions (a small program)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from emulator_support import LAMBDA_TRUST

from emulator.engine import Emulator
from emulator.iam.policies import Principal
from emulator.program import Stack
from emulator.provision.kafka import UnsupportedMappingError, event_source_mapping
from emulator.provision.registry import Request
from emulator.services.kafka import Message, bootstrap_servers, default_partition, murmur2
from emulator.services.msk_mapping import MskMapping, child_arn

CLUSTER = "arn:aws:kafka:us-east-1:123456789012:cluster/test/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab-1"
TOPIC, EARLY = "orders", "early"

HANDLER = """
import base64, json

FAILED_ONCE = set()

def handle(event, context):
    failures = []
    for key, records in event["records"].items():
        for record in records:
            value = json.loads(base64.b64decode(record["value"]))
            if value.get("raise"):
                raise RuntimeError(f"cannot process offset {record['offset']}")
            once = value.get("fail_once")
            if value.get("fail") or (once and once not in FAILED_ONCE):
                FAILED_ONCE.add(once)
                failures.append({"itemIdentifier": {"partition": key, "offset": record["offset"]}})
            if value.get("malformed"):
                return {"batchItemFailures": [{"itemIdentifier": {"partition": key}}]}
    return {"batchItemFailures": failures, "seen": event}
"""


def statement(actions: list[str], resources: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def program() -> None:
    bucket = aws.s3.Bucket("esm-failures")
    role = aws.iam.Role("esm-role", assume_role_policy=LAMBDA_TRUST)
    group = child_arn(CLUSTER, "group", "*")
    policy = aws.iam.RolePolicy(
        "esm-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    statement(
                        [
                            "kafka:DescribeClusterV2",
                            "kafka-cluster:Connect",
                            "kafka-cluster:DescribeClusterDynamicConfiguration",
                        ],
                        CLUSTER,
                    ),
                    statement(
                        [
                            "kafka:GetBootstrapBrokers",
                            "ec2:CreateNetworkInterface",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DescribeVpcs",
                            "ec2:DeleteNetworkInterface",
                            "ec2:DescribeSubnets",
                            "ec2:DescribeSecurityGroups",
                        ],
                        "*",
                    ),
                    statement(
                        ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
                        [child_arn(CLUSTER, "topic", TOPIC), child_arn(CLUSTER, "topic", EARLY)],
                    ),
                    statement(["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"], group),
                    statement(["s3:ListBucket"], bucket.arn),
                    statement(["s3:PutObject"], pulumi.Output.concat(bucket.arn, "/*")),
                ],
            }
        ),
    )
    function = aws.lambda_.Function(
        "esm-fn",
        role=role.arn,
        runtime="python3.13",
        handler="index.handle",
        code=pulumi.AssetArchive({"index.py": pulumi.StringAsset(HANDLER)}),
        vpc_config={"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]},
        opts=pulumi.ResourceOptions(depends_on=[policy]),
    )
    aws.lambda_.EventSourceMapping(
        "esm",
        event_source_arn=CLUSTER,
        function_name=function.arn,
        topics=[TOPIC],
        starting_position="TRIM_HORIZON",
        batch_size=4,
        amazon_managed_kafka_event_source_config={"consumer_group_id": "g1"},
        maximum_retry_attempts=2,
        maximum_record_age_in_seconds=3600,
        bisect_batch_on_function_error=True,
        function_response_types=["ReportBatchItemFailures"],
        destination_config={"on_failure": {"destination_arn": bucket.arn}},
    )
    aws.lambda_.EventSourceMapping(
        "esm-latest",
        event_source_arn=CLUSTER,
        function_name=function.arn,
        topics=[EARLY],
        starting_position="LATEST",
        amazon_managed_kafka_event_source_config={"consumer_group_id": "g2"},
    )


@pytest.fixture(scope="module")
def stack(bare: Emulator) -> Stack:
    bare.kafka.create_topic(CLUSTER, TOPIC, partitions=3)
    bare.kafka.create_topic(CLUSTER, EARLY)
    bare.kafka.produce(CLUSTER, EARLY, {"before": "the mapping"})
    return bare.deploy_program(program)


def mapping(bare: Emulator, stack: Stack, name: str = "esm") -> MskMapping:
    uuid = stack.output_of("aws:lambda/eventSourceMapping:EventSourceMapping", name, "uuid")
    return bare.kafka.mapping(str(uuid))


def produce(bare: Emulator, partition: int, *values: dict[str, Any]) -> list[Message]:
    return [bare.kafka.produce(CLUSTER, TOPIC, v, partition=partition) for v in values]


def seen(bare: Emulator, since: int) -> list[dict[str, Any]]:
    """The events the function received (it echoes them), from invocation `since` on."""
    return [
        i.payload["seen"]
        for i in bare.lambdas.invocations[since:]
        if isinstance(i.payload, dict) and "seen" in i.payload
    ]


def offsets(event: dict[str, Any]) -> dict[str, list[int]]:
    return {key: [r["offset"] for r in records] for key, records in event["records"].items()}


def test_kafka_partitioner_matches_kafka() -> None:
    # Values from Kafka's UtilsTest.testMurmur2.
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107
    assert 0 <= default_partition(b"order-1", 3) < 3


def test_the_event_is_shaped_as_msk_sends_it(bare: Emulator, stack: Stack) -> None:
    before = len(bare.lambdas.invocations)
    sent = bare.kafka.produce(
        CLUSTER, TOPIC, {"id": 1}, key="k-1", partition=1, headers=[("trace", b"ab")]
    )
    bare.run_until_idle()
    (event,) = seen(bare, before)
    assert event["eventSource"] == "aws:kafka"
    assert event["eventSourceArn"] == CLUSTER
    assert event["bootstrapServers"] == bootstrap_servers(CLUSTER)
    assert event["bootstrapServers"].split(",")[0].endswith(".kafka.us-east-1.amazonaws.com:9098")
    (record,) = event["records"][f"{TOPIC}-1"]
    assert record == {
        "topic": TOPIC,
        "partition": 1,
        "offset": sent.offset,
        "timestamp": sent.timestamp_ms,
        "timestampType": "CREATE_TIME",
        "key": base64.b64encode(b"k-1").decode(),
        "value": base64.b64encode(b'{"id":1}').decode(),
        "headers": [{"trace": [97, 98]}],
    }
    assert bare.meter.kafka_records_polled[mapping(bare, stack).config.uuid] >= 1


def test_batches_hold_at_most_batch_size_records_in_partition_order(
    bare: Emulator, stack: Stack
) -> None:
    before = len(bare.lambdas.invocations)
    first = produce(bare, 0, *({"n": n} for n in range(6)))
    produce(bare, 2, *({"n": n} for n in range(3)))
    bare.run_until_idle()
    events = seen(bare, before)
    assert all(sum(len(r) for r in e["records"].values()) <= 4 for e in events)
    delivered: dict[str, list[int]] = {}
    for event in events:
        for key, found in offsets(event).items():
            delivered.setdefault(key, []).extend(found)
    start = first[0].offset
    assert delivered[f"{TOPIC}-0"] == list(range(start, start + 6))
    assert len(delivered[f"{TOPIC}-2"]) == 3
    assert mapping(bare, stack).lag() == 0


def test_a_reported_failure_is_retried_from_its_offset(bare: Emulator, stack: Stack) -> None:
    before = len(bare.lambdas.invocations)
    sent = produce(bare, 0, {"n": 0}, {"n": 1, "fail_once": "p0"}, {"n": 2})
    bare.run_until_idle()
    first, retry = [offsets(e)[f"{TOPIC}-0"] for e in seen(bare, before)]
    assert first == [m.offset for m in sent]
    assert retry == [sent[1].offset, sent[2].offset]  # the success before it is committed
    assert mapping(bare, stack).lag() == 0


def test_a_function_error_is_bisected_down_to_the_poison_record_which_goes_to_s3(
    bare: Emulator, stack: Stack
) -> None:
    esm = mapping(bare, stack)
    sent = produce(bare, 0, {"n": 0}, {"n": 1}, {"n": 2, "raise": True}, {"n": 3})
    before = len(bare.lambdas.invocations)
    bare.run_until_idle()
    attempts = bare.lambdas.invocations[before:]
    # [0 1 2 3] fails → [0 1] ok, [2 3] fails → [2] fails 1 + 2 retries, then [3] ok.
    assert [i.failed for i in attempts] == [True, False, True, True, True, True, False]
    (dropped,) = [d for d in esm.discarded if (TOPIC, 0, sent[2].offset) in d.records]
    assert dropped.condition == "RetryAttemptsExhausted"
    assert dropped.records == ((TOPIC, 0, sent[2].offset),)
    assert dropped.destination is not None
    bucket, key = dropped.destination[len("s3://") :].split("/", 1)
    assert key.startswith(f"aws/lambda/{esm.config.uuid}/{TOPIC}-0/")
    document = json.loads(bare.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["functionArn"] == esm.config.function_arn
    assert document["requestContext"]["approximateInvokeCount"] == 5  # every call it was in
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert document["version"] == "1.0"
    info = document["KafkaBatchInfo"]
    assert info["batchSize"] == 1
    assert info["eventSourceArn"] == CLUSTER
    assert info["recordsInfo"][f"{TOPIC}-0"]["firstRecordOffset"] == str(sent[2].offset)
    assert info["payloadSize"] == len(document["payload"].encode())
    (record,) = json.loads(document["payload"])["records"][f"{TOPIC}-0"]
    assert json.loads(base64.b64decode(record["value"])) == {"n": 2, "raise": True}
    assert esm.lag() == 0


def test_a_record_that_keeps_being_reported_is_discarded_after_the_retries(
    bare: Emulator, stack: Stack
) -> None:
    esm = mapping(bare, stack)
    (sent,) = produce(bare, 1, {"fail": True})
    bare.run_until_idle()
    (dropped,) = [d for d in esm.discarded if (TOPIC, 1, sent.offset) in d.records]
    assert dropped.condition == "RetryAttemptsExhausted"
    assert dropped.destination
    assert esm.lag() == 0


def test_a_malformed_response_fails_the_whole_batch(bare: Emulator, stack: Stack) -> None:
    errors = len(bare.errors)
    produce(bare, 2, {"malformed": True})
    bare.run_until_idle()
    messages = [e.get("message", "") for e in bare.errors[errors:]]
    assert sum("batchItemFailures names a record not in the batch" in m for m in messages) == 3
    assert any("RetryAttemptsExhausted" in m for m in messages)


def test_records_older_than_the_maximum_age_are_discarded_without_an_invocation(
    bare: Emulator, stack: Stack
) -> None:
    esm = mapping(bare, stack)
    before = len(bare.lambdas.invocations)
    old = bare.kafka.produce(
        CLUSTER, TOPIC, {"n": 1}, partition=0, timestamp_ms=int((bare.clock.now() - 7200) * 1000)
    )
    bare.run_until_idle()
    assert len(bare.lambdas.invocations) == before
    (dropped,) = [d for d in esm.discarded if (TOPIC, 0, old.offset) in d.records]
    assert dropped.condition == "RecordAgeExceeded"
    assert dropped.destination


def test_latest_skips_what_the_topic_held_when_the_mapping_was_created(
    bare: Emulator, stack: Stack
) -> None:
    before = len(bare.lambdas.invocations)
    late = bare.kafka.produce(CLUSTER, EARLY, {"after": "the mapping"})
    bare.run_until_idle()
    (event,) = seen(bare, before)
    assert offsets(event) == {f"{EARLY}-0": [late.offset]}
    assert late.offset == 1


@pytest.mark.parametrize(
    "missing", ["kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"]
)
def test_a_missing_kafka_permission_stops_the_mapping_and_keeps_the_records(
    bare: Emulator, stack: Stack, missing: str
) -> None:
    """Every cluster action AWS lists for IAM auth is required, DescribeClusterDynamic-
    Configuration included (Lambda's "Configuring cluster authentication" page)."""
    esm = mapping(bare, stack)
    role = stack.one("aws:iam/role:Role", "esm-role").state["name"]
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", "esm-policy").state["name"]
    iam = bare.client("iam")
    original = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    document = json.loads(json.dumps(original))
    granted = document["Statement"][0]["Action"]
    document["Statement"][0]["Action"] = [action for action in granted if action != missing]
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))
    before, denied = len(bare.lambdas.invocations), len(bare.guard.denials)
    try:
        produce(bare, 0, {"n": "waits"})
        bare.run_until_idle()
        assert len(bare.lambdas.invocations) == before
        (denial,) = bare.guard.denials[denied:]
        assert (denial.action, denial.resource) == (missing, CLUSTER)
        assert esm.lag() == 1
        assert esm.last_processing_result.startswith("PROBLEM")
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(original))
    bare.run_until_idle()
    assert esm.lag() == 0
    assert esm.principal == Principal.role(esm.config.role_arn)


def test_the_function_keeps_its_vpc_config(stack: Stack) -> None:
    function = stack.one("aws:lambda/function:Function", "esm-fn")
    assert function.state["vpcConfig"]["subnetIds"] == ["subnet-1"]
    assert function.state["vpcConfig"]["vpcId"].startswith("vpc-")


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({"eventSourceArn": "arn:aws:sqs:us-east-1:123456789012:q"}, "only Amazon MSK"),
        ({"topics": ["a", "b"]}, "exactly one topic"),
        ({"startingPosition": "AT_TIMESTAMP"}, "startingPosition"),
        ({"batchSize": 10_001}, "batchSize"),
        ({"maximumRecordAgeInSeconds": 30}, "maximumRecordAgeInSeconds"),
        (
            {"destinationConfig": {"onFailure": {"destinationArn": "arn:aws:sqs:us-east-1:1:q"}}},
            "only S3 on-failure destinations",
        ),
    ],
)
def test_settings_aws_would_refuse_or_the_emulator_cannot_run_fail_the_deploy(
    bare: Emulator, stack: Stack, inputs: dict[str, Any], problem: str
) -> None:
    function = stack.output_of("aws:lambda/function:Function", "esm-fn", "arn")
    base = {
        "eventSourceArn": CLUSTER,
        "functionName": function,
        "topics": [TOPIC],
        "startingPosition": "LATEST",
    }
    request = Request("aws:lambda/eventSourceMapping:EventSourceMapping", "bad", {**base, **inputs})
    with pytest.raises(UnsupportedMappingError, match=problem):
        event_source_mapping(bare, request)
