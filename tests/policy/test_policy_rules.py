"""Every guardrail over the whole dev stack: all pass, each judged something, each catches
the breakage it exists for (a recorded resource, copied and broken on purpose).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from guardrails_support import (
    KNOWN_FINDINGS,
    PENDING_COMPONENTS,
    examined_by,
    known_finding,
    stack_resources,
)
from orderflow_policy import RESOURCE_RULES, RULE_NAMES, STACK_RULES, ResourceRule, StackRule
from orderflow_policy import tokens as t
from orderflow_policy.model import StackResource, owner

from emulator.program import Recorded, Stack

RULES: dict[str, ResourceRule | StackRule] = {r.name: r for r in RESOURCE_RULES} | {
    r.name: r for r in STACK_RULES
}


def test_rules_have_unique_kebab_case_names_and_descriptions() -> None:
    assert len(set(RULE_NAMES)) == len(RULE_NAMES) == len(RULES)
    for rule in RULES.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name), rule.name
        assert rule.description.endswith("."), rule.name


def test_the_checked_stack_holds_every_component(checked_stack: Stack) -> None:
    built = {r.type for r in checked_stack if r.type.startswith("orderflow:")}
    expected = {"orderflow:index:AlarmTopic", "orderflow:index:ValidationPipeline"}
    assert expected | set(PENDING_COMPONENTS) <= built


@pytest.mark.parametrize("rule", RESOURCE_RULES, ids=lambda r: r.name)
def test_resource_rule_passes_on_every_resource(rule: ResourceRule, checked_stack: Stack) -> None:
    examined = examined_by(rule, checked_stack)
    assert examined, f"{rule.name} judged no resource of {sorted(rule.resource_types)}"
    found = [(r.type, r.name, m) for r in examined for m in rule.validate(r.type, r.inputs)]
    assert [f for f in found if not known_finding(rule.name, f[0], f[2])] == []
    assert_known_findings_still_occur(rule.name, [(typ, message) for typ, _, message in found])


@pytest.mark.parametrize("rule", STACK_RULES, ids=lambda r: r.name)
def test_stack_rule_passes_on_the_stack(rule: StackRule, checked_stack: Stack) -> None:
    examined = examined_by(rule, checked_stack)
    assert examined, f"{rule.name} judged no resource of {sorted(rule.subject_types)}"
    resources = stack_resources(checked_stack)
    types = {r.urn: r.type for r in resources}
    found = [(types.get(v.urn or "", ""), v.message) for v in rule.validate(resources)]
    assert [f for f in found if not known_finding(rule.name, *f)] == []
    assert_known_findings_still_occur(rule.name, found)


def assert_known_findings_still_occur(rule: str, found: list[tuple[str, str]]) -> None:
    """A known finding nobody reports any more was fixed: delete it (self-expiring)."""
    for known in KNOWN_FINDINGS:
        if known.rule == rule:
            assert any(known.matches(rule, typ, message) for typ, message in found), (
                f"known finding fixed, remove it from KNOWN_FINDINGS: {known}"
            )


# --- each rule catches the breakage it exists for ------------------------------------------


def edit_policy(
    key: str, change: Callable[[dict[str, Any]], None]
) -> Callable[[dict[str, Any]], None]:
    """A change to the JSON policy document held (as a string) in `inputs[key]`."""

    def apply(inputs: dict[str, Any]) -> None:
        document = json.loads(inputs[key])
        change(document)
        inputs[key] = json.dumps(document)

    return apply


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def pop(*path: str) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        target = inputs
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1])

    return apply


def pop_all(*keys: str) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        for key in keys:
            inputs.pop(key, None)

    return apply


def put(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def apply(inputs: dict[str, Any]) -> None:
        target = inputs
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    return apply


def drop_tls_deny(document: dict[str, Any]) -> None:
    document["Statement"] = [s for s in statements(document) if s.get("Effect") != "Deny"]


def allow_plain_http(document: dict[str, Any]) -> None:
    for s in statements(document):
        if s.get("Effect") == "Deny":
            s["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}


def deny_only_the_bucket_not_its_objects(document: dict[str, Any]) -> None:
    for s in statements(document):
        if s.get("Effect") == "Deny":
            s["Resource"] = [r for r in s["Resource"] if not r.endswith("/*")]


def add_star_action(document: dict[str, Any]) -> None:
    statements(document)[0]["Action"] = ["s3:*"]


def allow_not_action(document: dict[str, Any]) -> None:
    first = statements(document)[0]
    first["NotAction"] = first.pop("Action")


def open_key_administration(document: dict[str, Any]) -> None:
    for s in statements(document):
        if s.get("Action") == "kms:*":
            s["Principal"] = "*"


def grant_first_statement_everywhere(document: dict[str, Any]) -> None:
    statements(document)[0]["Resource"] = "*"


def drop_service_conditions(document: dict[str, Any]) -> None:
    for s in statements(document):
        if isinstance(s.get("Principal"), dict) and "Service" in s["Principal"]:
            s.pop("Condition", None)


def has_service_grant(resource: Recorded) -> bool:
    return any(
        isinstance(s.get("Principal"), dict) and "Service" in s["Principal"]
        for s in statements(resource.policy())
    )


def pipe_params(*path: str) -> tuple[str, ...]:
    return ("sourceParameters", "dynamodbStreamParameters", *path)


@dataclass(frozen=True)
class Breakage:
    rule: str
    resource_type: str
    change: Callable[[dict[str, Any]], None]
    message: str
    select: Callable[[Recorded], bool] = lambda _: True


BREAKAGES = {
    "queue-without-sse": Breakage(
        "sqs-queue-encrypted",
        t.QUEUE,
        pop_all("sqsManagedSseEnabled", "kmsMasterKeyId"),
        "queue is not encrypted at rest",
    ),
    "table-without-sse": Breakage(
        "dynamodb-table-encrypted",
        t.TABLE,
        put({"enabled": False}, "serverSideEncryption"),
        "table is not encrypted with KMS",
    ),
    "topic-without-key": Breakage(
        "sns-topic-encrypted", t.TOPIC, pop("kmsMasterKeyId"), "topic is not encrypted at rest"
    ),
    "bucket-policy-without-tls-deny": Breakage(
        "tls-only-resource-policies",
        t.BUCKET_POLICY,
        edit_policy("policy", drop_tls_deny),
        "policy does not deny s3:* without TLS on arn:aws:s3:::",
    ),
    "bucket-policy-tls-deny-misses-objects": Breakage(
        "tls-only-resource-policies",
        t.BUCKET_POLICY,
        edit_policy("policy", deny_only_the_bucket_not_its_objects),
        "/*: add a Deny for Principal *",
    ),
    "queue-policy-allowing-http": Breakage(
        "tls-only-resource-policies",
        t.QUEUE_POLICY,
        edit_policy("policy", allow_plain_http),
        "policy does not deny sqs:* without TLS on arn:aws:sqs:us-east-1:123456789012:",
    ),
    "table-without-pitr": Breakage(
        "dynamodb-point-in-time-recovery",
        t.TABLE,
        pop("pointInTimeRecovery"),
        "table has no point-in-time recovery",
    ),
    "log-group-kept-forever": Breakage(
        "log-group-finite-retention",
        t.LOG_GROUP,
        put(0, "retentionInDays"),
        "log group keeps its logs forever",
    ),
    "log-group-without-retention": Breakage(
        "log-group-finite-retention",
        t.LOG_GROUP,
        pop("retentionInDays"),
        "log group keeps its logs forever",
    ),
    "log-group-invalid-retention": Breakage(
        "log-group-finite-retention",
        t.LOG_GROUP,
        put(13.0, "retentionInDays"),
        "retention_in_days=13 is not a CloudWatch Logs retention value",
    ),
    "state-machine-logging-payloads": Breakage(
        "no-payloads-in-logs",
        t.STATE_MACHINE,
        put(True, "loggingConfiguration", "includeExecutionData"),
        "state machine logs execution data",
    ),
    "pipe-logging-payloads": Breakage(
        "no-payloads-in-logs",
        t.PIPE,
        put(["ALL"], "logConfiguration", "includeExecutionDatas"),
        "pipe logs execution data",
    ),
    "rule-target-without-dlq": Breakage(
        "event-target-dead-letter-queue",
        t.EVENT_TARGET,
        pop("deadLetterConfig"),
        "rule target has no dead_letter_config",
    ),
    "schedule-without-dlq": Breakage(
        "schedule-dead-letter-queue",
        t.SCHEDULE,
        pop("target", "deadLetterConfig"),
        "schedule target has no dead_letter_config",
    ),
    "pipe-without-dlq": Breakage(
        "pipe-dead-letter-queue",
        t.PIPE,
        pop(*pipe_params("deadLetterConfig")),
        "pipe reads a dynamodb stream without "
        "sourceParameters.dynamodbStreamParameters.deadLetterConfig",
    ),
    "mapping-without-on-failure": Breakage(
        "event-source-mapping-on-failure-destination",
        t.EVENT_SOURCE_MAPPING,
        pop("destinationConfig"),
        "event source mapping reads kafka without destination_config.on_failure",
    ),
    "pipe-retrying-forever": Breakage(
        "stream-retries-bounded",
        t.PIPE,
        put(-1.0, *pipe_params("maximumRetryAttempts")),
        "sourceParameters.dynamodbStreamParameters.maximumRetryAttempts is -1: set a finite value",
    ),
    "pipe-record-age-beyond-stream-retention": Breakage(
        "stream-retries-bounded",
        t.PIPE,
        put(86_400.0, *pipe_params("maximumRecordAgeInSeconds")),
        "maximumRecordAgeInSeconds is 86400: keep it below 86,400",
    ),
    "pipe-without-record-age": Breakage(
        "stream-retries-bounded",
        t.PIPE,
        pop(*pipe_params("maximumRecordAgeInSeconds")),
        "maximumRecordAgeInSeconds is not set",
    ),
    "mapping-without-retry-limit": Breakage(
        "stream-retries-bounded",
        t.EVENT_SOURCE_MAPPING,
        pop("maximumRetryAttempts"),
        "maximumRetryAttempts is not set: the default (-1) retries",
    ),
    "role-policy-with-star-action": Breakage(
        "iam-no-wildcard-actions",
        t.ROLE_POLICY,
        edit_policy("policy", add_star_action),
        "allows s3:*: no `*` in actions",
    ),
    "role-policy-with-not-action": Breakage(
        "iam-no-wildcard-actions",
        t.ROLE_POLICY,
        edit_policy("policy", allow_not_action),
        "allows everything but its NotAction",
    ),
    "key-administered-by-anyone": Breakage(
        "iam-no-wildcard-actions",
        t.KMS_KEY,
        edit_policy("policy", open_key_administration),
        "statement AccountAdministers allows kms:*",
    ),
    "role-policy-on-every-resource": Breakage(
        "iam-wildcard-resources-only-where-unscopable",
        t.ROLE_POLICY,
        edit_policy("policy", grant_first_statement_everywhere),
        "on every resource: scope them to ARNs",
    ),
    "service-grant-without-source": Breakage(
        "service-grants-name-their-source",
        t.QUEUE_POLICY,
        edit_policy("policy", drop_service_conditions),
        "grants events.amazonaws.com without aws:SourceArn or aws:SourceAccount",
        select=has_service_grant,
    ),
}


def test_every_rule_has_a_breakage() -> None:
    broken = {b.rule for b in BREAKAGES.values()} | set(STACK_BREAKAGES)
    assert broken == set(RULE_NAMES)


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_resource_rule_catches(case: str, checked_stack: Stack) -> None:
    breakage = BREAKAGES[case]
    rule = RULES[breakage.rule]
    assert isinstance(rule, ResourceRule)
    resource = next(r for r in checked_stack.of_type(breakage.resource_type) if breakage.select(r))
    assert not [
        m
        for m in rule.validate(resource.type, resource.inputs)
        if not known_finding(rule.name, resource.type, m)
    ]
    inputs = copy.deepcopy(resource.inputs)
    breakage.change(inputs)
    found = rule.validate(resource.type, inputs)
    assert any(breakage.message in m for m in found), found


# --- stack rules: remove or alter the resource that satisfied them --------------------------

StackChange = Callable[[list[StackResource]], tuple[list[StackResource], str, str]]


def first_of(resources: list[StackResource], types: frozenset[str]) -> StackResource:
    return next(r for r in resources if r.type in types)


def without(resources: list[StackResource], gone: list[StackResource]) -> list[StackResource]:
    urns = {r.urn for r in gone}
    return [r for r in resources if r.urn not in urns]


def replaced(
    resources: list[StackResource], old: StackResource, **props: Any
) -> list[StackResource]:
    new = StackResource(old.type, old.urn, old.name, {**old.props, **props})
    return [new if r.urn == old.urn else r for r in resources]


def children(
    resources: list[StackResource],
    parent: StackResource,
    types: frozenset[str],
    prop: str,
    keys: tuple[str, ...],
) -> list[StackResource]:
    return [r for r in resources if r.type in types and owner(r, prop, [parent], keys) is parent]


def unencrypted_bucket(resources: list[StackResource]) -> tuple[list[StackResource], str, str]:
    bucket = first_of(resources, t.BUCKETS)
    configs = children(resources, bucket, t.BUCKET_ENCRYPTION, "bucket", ("bucket",))
    return without(resources, configs), bucket.urn, f"bucket {bucket.name} has no BucketServer"


def bucket_without_default_algorithm(
    resources: list[StackResource],
) -> tuple[list[StackResource], str, str]:
    bucket = first_of(resources, t.BUCKETS)
    (config,) = children(resources, bucket, t.BUCKET_ENCRYPTION, "bucket", ("bucket",))
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}]
    return replaced(resources, config, rules=rules), bucket.urn, "names no algorithm"


def bucket_without_public_access_block(
    resources: list[StackResource],
) -> tuple[list[StackResource], str, str]:
    bucket = first_of(resources, t.BUCKETS)
    blocks = children(
        resources, bucket, frozenset({t.BUCKET_PUBLIC_ACCESS_BLOCK}), "bucket", ("bucket",)
    )
    return without(resources, blocks), bucket.urn, "has no BucketPublicAccessBlock"


def bucket_with_partial_block(
    resources: list[StackResource],
) -> tuple[list[StackResource], str, str]:
    bucket = first_of(resources, t.BUCKETS)
    (block,) = children(
        resources, bucket, frozenset({t.BUCKET_PUBLIC_ACCESS_BLOCK}), "bucket", ("bucket",)
    )
    changed = replaced(resources, block, restrictPublicBuckets=False)
    return changed, bucket.urn, "leaves restrictPublicBuckets off"


def queue_without_policy(resources: list[StackResource]) -> tuple[list[StackResource], str, str]:
    queue = first_of(resources, frozenset({t.QUEUE}))
    policies = children(resources, queue, frozenset({t.QUEUE_POLICY}), "queueUrl", ("url",))
    return without(resources, policies), queue.urn, f"{queue.name} has no TLS-only QueuePolicy"


def function_invoked_by_a_rule(
    resources: list[StackResource],
) -> tuple[list[StackResource], str, str]:
    function = first_of(resources, frozenset({t.FUNCTION}))
    target = first_of(resources, frozenset({t.EVENT_TARGET}))
    to_function = StackResource(
        t.EVENT_TARGET,
        target.urn + "-fn",
        "fn-target",
        {**target.props, "arn": function.props["arn"]},
    )
    message = f"function {function.name} is invoked asynchronously by fn-target"
    return [*resources, to_function], function.urn, message


def queue_without_alarm(resources: list[StackResource]) -> tuple[list[StackResource], str, str]:
    queue = first_of(resources, frozenset({t.QUEUE}))
    alarms = [
        r
        for r in resources
        if r.type == t.METRIC_ALARM
        and (r.props.get("dimensions") or {}).get("QueueName") == queue.props["name"]
    ]
    assert alarms
    return without(resources, alarms), queue.urn, f"queue {queue.name} has no alarm on Approx"


STACK_BREAKAGES: dict[str, list[StackChange]] = {
    "s3-bucket-encrypted": [unencrypted_bucket, bucket_without_default_algorithm],
    "s3-public-access-blocked": [bucket_without_public_access_block, bucket_with_partial_block],
    "tls-only-buckets-and-queues": [queue_without_policy],
    "async-lambda-failure-destination": [function_invoked_by_a_rule],
    "dead-letter-queues-alarmed": [queue_without_alarm],
}


@pytest.mark.parametrize(
    ("rule_name", "change"),
    [(name, change) for name, changes in STACK_BREAKAGES.items() for change in changes],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_stack_rule_catches(rule_name: str, change: StackChange, checked_stack: Stack) -> None:
    rule = RULES[rule_name]
    assert isinstance(rule, StackRule)
    broken, urn, message = change(stack_resources(checked_stack))
    found = rule.validate(broken)
    assert [v for v in found if v.urn == urn and message in v.message], found
