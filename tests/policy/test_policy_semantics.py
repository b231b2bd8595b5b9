"""The guardrails' edge cases, on hand-written props: what counts, what is exempt, and why."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from orderflow_policy import tokens as t
from orderflow_policy.alarms import DEAD_LETTER_QUEUES_ALARMED
from orderflow_policy.documents import glob_matches, is_every_resource
from orderflow_policy.failure_handling import (
    ASYNC_FUNCTIONS_KEEP_FAILURES,
    BOUNDED_RETRIES,
    MAPPING_ON_FAILURE,
    PIPE_DEAD_LETTER,
)
from orderflow_policy.least_privilege import (
    NO_WILDCARD_ACTIONS,
    SERVICE_GRANTS_NAME_THEIR_SOURCE,
    WILDCARD_RESOURCES_ONLY_WHERE_UNSCOPABLE,
)
from orderflow_policy.logs import VALID_RETENTION_DAYS
from orderflow_policy.model import StackResource
from orderflow_policy.public_access import PUBLIC_ACCESS_BLOCKED
from orderflow_policy.transport import TLS_ONLY_POLICIES, queue_arn

from components.settings import VALID_RETENTION_DAYS as COMPONENT_RETENTION_DAYS

ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class Unreadable(Mapping[str, Any]):
    """Props whose values are unknown (as in a preview): reading one fails the test."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys_ = keys

    def __getitem__(self, key: str) -> Any:
        if key in self.keys_:
            return self.keys_[key]
        raise AssertionError(f"read unknown value {key!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)


def test_retention_values_match_the_components() -> None:
    """The pack ships alone (no `components` import), so its copy must not drift."""
    assert frozenset(COMPONENT_RETENTION_DAYS) == VALID_RETENTION_DAYS


def test_the_key_policy_root_statement_is_the_only_star_exception() -> None:
    root = {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    assert NO_WILDCARD_ACTIONS.validate(t.KMS_KEY, {"policy": document(root)}) == []
    in_a_role = NO_WILDCARD_ACTIONS.validate(t.ROLE_POLICY, {"policy": document(root)})
    assert in_a_role == [
        "policy statement Root allows kms:*: no `*` in actions; name each action the code calls"
    ]
    to_a_role = {**root, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}}
    assert NO_WILDCARD_ACTIONS.validate(t.KMS_KEY, {"policy": document(to_a_role)})


def test_denies_may_use_star_actions_but_prefixes_in_allows_may_not() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
    assert NO_WILDCARD_ACTIONS.validate(t.QUEUE_POLICY, {"policy": document(deny)}) == []
    prefix = {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::b/*"}
    (found,) = NO_WILDCARD_ACTIONS.validate(t.ROLE_POLICY, {"policy": document(prefix)})
    assert "allows s3:Get*" in found


def test_role_inline_policies_and_broad_managed_policies_are_judged() -> None:
    inline = {
        "name": "extra",
        "policy": document({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    }
    found = NO_WILDCARD_ACTIONS.validate(t.ROLE, {"inlinePolicies": [inline]})
    assert found == [
        "inlinePolicies[extra] statement #1 allows *: no `*` in actions; name each "
        "action the code calls"
    ]
    attachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    admin = {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    (found_admin,) = NO_WILDCARD_ACTIONS.validate(attachment, admin)
    assert "attaches AdministratorAccess" in found_admin
    basic = {"policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    assert NO_WILDCARD_ACTIONS.validate(attachment, basic) == []


def test_star_resources_are_allowed_only_for_unscopable_actions() -> None:
    traces = {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"}
    enis = {"Effect": "Allow", "Action": ["ec2:CreateNetworkInterface"], "Resource": ["*"]}
    metrics = {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}
    ok = {"policy": document(traces, enis, metrics)}
    assert WILDCARD_RESOURCES_ONLY_WHERE_UNSCOPABLE.validate(t.ROLE_POLICY, ok) == []
    mixed = {
        "Sid": "Mixed",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "sqs:SendMessage"],
        "Resource": "arn:aws:sqs:*:*:*",
    }
    (found,) = WILDCARD_RESOURCES_ONLY_WHERE_UNSCOPABLE.validate(
        t.ROLE_POLICY, {"policy": document(mixed)}
    )
    assert found.startswith("policy statement Mixed grants sqs:SendMessage on every resource")
    # A key policy's "*" means "this key": only identity policies are judged.
    key = {"Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "kms:Decrypt", "Resource": "*"}
    assert (
        WILDCARD_RESOURCES_ONLY_WHERE_UNSCOPABLE.validate(t.KMS_KEY, {"policy": document(key)})
        == []
    )


def test_every_resource_means_a_bare_wildcard_not_a_scoped_pattern() -> None:
    assert is_every_resource("*")
    assert is_every_resource("arn:aws:s3:::*")
    assert not is_every_resource("arn:aws:s3:::orders-bucket/*")
    assert not is_every_resource("arn:aws:states:us-east-1:1:execution:machine/*")


def test_service_grants_need_a_source_condition_in_resource_policies_and_permissions() -> None:
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": "arn:aws:sqs:us-east-1:1:q",
    }
    assert SERVICE_GRANTS_NAME_THEIR_SOURCE.validate(t.QUEUE_POLICY, {"policy": document(grant)})
    scoped = {**grant, "Condition": {"ArnEquals": {"AWS:SourceArn": "arn:aws:events:x"}}}
    assert (
        SERVICE_GRANTS_NAME_THEIR_SOURCE.validate(t.QUEUE_POLICY, {"policy": document(scoped)})
        == []
    )
    permission = {"principal": "s3.amazonaws.com", "action": "lambda:InvokeFunction"}
    (found,) = SERVICE_GRANTS_NAME_THEIR_SOURCE.validate(t.PERMISSION, permission)
    assert "without source_arn or source_account" in found
    bound = {**permission, "sourceArn": "arn:aws:s3:::orders", "sourceAccount": ACCOUNT}
    assert SERVICE_GRANTS_NAME_THEIR_SOURCE.validate(t.PERMISSION, bound) == []
    # Trust policies are not judged here (Lambda's principal takes no source condition).
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert (
        SERVICE_GRANTS_NAME_THEIR_SOURCE.validate(t.ROLE, {"assumeRolePolicy": document(trust)})
        == []
    )


def test_tls_deny_may_cover_with_wildcards_and_is_read_from_legacy_queue_urls() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "*",
        "Resource": "arn:aws:s3:::orders*",
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }
    props = {"bucket": "orders", "policy": document(deny)}
    assert TLS_ONLY_POLICIES.validate(t.BUCKET_POLICY, props) == []
    assert glob_matches("arn:aws:s3:::orders*", "arn:aws:s3:::orders/2026/x.json")
    assert not glob_matches("arn:aws:s3:::orders", "arn:aws:s3:::orders/x.json")
    assert queue_arn(f"https://eu-west-1.queue.amazonaws.com/{ACCOUNT}/dlq", "aws") == (
        f"arn:aws:sqs:eu-west-1:{ACCOUNT}:dlq"
    )
    (found,) = TLS_ONLY_POLICIES.validate(t.QUEUE_POLICY, {"queueUrl": "q", "policy": "{"})
    assert found.startswith("policy is not valid JSON")


def test_failure_handling_exempts_sources_that_dead_letter_elsewhere() -> None:
    sqs_pipe = {"source": "arn:aws:sqs:us-east-1:1:orders", "sourceParameters": {}}
    assert PIPE_DEAD_LETTER.validate(t.PIPE, sqs_pipe) == []
    assert BOUNDED_RETRIES.validate(t.PIPE, sqs_pipe) == []
    sqs_mapping = {"eventSourceArn": "arn:aws:sqs:us-east-1:1:orders"}
    assert MAPPING_ON_FAILURE.validate(t.EVENT_SOURCE_MAPPING, sqs_mapping) == []
    assert BOUNDED_RETRIES.validate(t.EVENT_SOURCE_MAPPING, sqs_mapping) == []
    # A stream pipe that forgot its parameters altogether is caught, not exempt.
    bare = {"source": "arn:aws:dynamodb:us-east-1:1:table/t/stream/2026-01-01T00:00:00.000"}
    assert PIPE_DEAD_LETTER.validate(t.PIPE, bare)
    assert len(BOUNDED_RETRIES.validate(t.PIPE, bare)) == 2


def test_kinesis_sources_may_keep_records_longer_than_a_day() -> None:
    params = {
        "maximumRetryAttempts": 3.0,
        "maximumRecordAgeInSeconds": 172_800.0,
        "deadLetterConfig": {"arn": "arn:aws:sqs:us-east-1:1:dlq"},
    }
    pipe = {"sourceParameters": {"kinesisStreamParameters": params}}
    assert BOUNDED_RETRIES.validate(t.PIPE, pipe) == []
    mapping = {"eventSourceArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x", **params}
    (found,) = BOUNDED_RETRIES.validate(t.EVENT_SOURCE_MAPPING, mapping)
    assert "keep it below 86,400" in found


def resource(typ: str, name: str, props: Mapping[str, Any], **deps: list[str]) -> StackResource:
    return StackResource(typ, f"urn:{name}", name, props, deps)


def test_async_functions_pass_with_an_on_failure_destination() -> None:
    function = resource(t.FUNCTION, "worker", {"arn": FUNCTION_ARN, "name": "worker"})
    topic = resource(
        t.TOPIC_SUBSCRIPTION, "sub", {"protocol": "lambda", "endpoint": f"{FUNCTION_ARN}:live"}
    )
    (violation,) = ASYNC_FUNCTIONS_KEEP_FAILURES.validate([function, topic])
    assert violation.urn == function.urn
    assert "invoked asynchronously by sub" in violation.message
    config = resource(
        t.FUNCTION_EVENT_INVOKE_CONFIG,
        "cfg",
        {"functionName": "worker", "destinationConfig": {"onFailure": {"destination": "arn:q"}}},
    )
    assert ASYNC_FUNCTIONS_KEEP_FAILURES.validate([function, topic, config]) == []
    with_dlq = resource(
        t.FUNCTION, "worker", {**function.props, "deadLetterConfig": {"targetArn": "q"}}
    )
    assert ASYNC_FUNCTIONS_KEEP_FAILURES.validate([with_dlq, topic]) == []


def test_stack_rules_match_by_dependencies_without_reading_unknown_ids() -> None:
    """In a preview a new bucket's id is unknown: the block's dependency names its bucket."""
    bucket = resource(t.BUCKET, "orders", {"bucket": "orders-1a2b3c4"})
    flags = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    block = resource(t.BUCKET_PUBLIC_ACCESS_BLOCK, "block", Unreadable(flags), bucket=[bucket.urn])
    assert PUBLIC_ACCESS_BLOCKED.validate([bucket, block]) == []
    other = resource(t.BUCKET, "other", {"bucket": "other-5d6e7f8"})
    (violation,) = PUBLIC_ACCESS_BLOCKED.validate([bucket, other, block])
    assert violation.urn == other.urn


def test_an_account_wide_block_covers_every_bucket() -> None:
    flags = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )
    account = resource(t.ACCOUNT_PUBLIC_ACCESS_BLOCK, "account", flags)
    assert PUBLIC_ACCESS_BLOCKED.validate([resource(t.BUCKET, "b", {"bucket": "b"}), account]) == []


@pytest.mark.parametrize("queries", [False, True])
def test_queue_alarms_may_be_plain_or_metric_math(queries: bool) -> None:
    queue = resource(t.QUEUE, "dlq", {"name": "dlq-1a2b3c4"})
    metric = {
        "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": "dlq-1a2b3c4"},
    }
    props = {"metricQueries": [{"id": "m1", "metric": metric}]} if queries else metric
    alarm = resource(t.METRIC_ALARM, "alarm", props)
    assert DEAD_LETTER_QUEUES_ALARMED.validate([queue, alarm]) == []
    age = {**metric, "metricName": "ApproximateAgeOfOldestMessage"}
    assert DEAD_LETTER_QUEUES_ALARMED.validate([queue, resource(t.METRIC_ALARM, "a", age)])
