"""`Construct` as the provider serves it to a program in another language, under mocks:
inputs arrive in their wire form (schema names, integers as floats, enum values as strings)
and must reach the component as the Python values it expects."""

from __future__ import annotations

import json
from typing import Any

import pytest
from consumers_support import PACKAGE, hosted
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.component import ComponentProvider
from pulumi_harness import PulumiHarness, Stack


def provider() -> ComponentProvider:
    return ComponentProvider(hosted().COMPONENTS, PACKAGE, version="0.1.0")


def construct(
    harness: PulumiHarness, name: str, token: str, inputs: dict[str, Any]
) -> tuple[Stack, dict[str, Any]]:
    """What `Construct` registers, and the outputs it returns."""
    state: dict[str, Any] = {}

    def program() -> None:
        result = provider().construct(name, f"{PACKAGE}:index:{token}", inputs, None)
        state.update(result.state)

    stack = harness.run(program)
    assert state, "construct returned no outputs"
    return stack, state


def find(value: Any, key: str) -> list[Any]:
    """Every value of `key` anywhere in a parsed JSON document."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == key] + [
            x for v in value.values() for x in find(v, key)
        ]
    if isinstance(value, list):
        return [x for v in value for x in find(v, key)]
    return []


def test_validation_pipeline_gets_integers_where_the_wire_carried_floats(
    pulumi_harness: PulumiHarness,
) -> None:
    stack, state = construct(
        pulumi_harness,
        "intake",
        "ValidationPipeline",
        {
            "keyPrefix": "drop/",
            "keySuffixes": [".jsonl"],
            "batchSize": 500.0,
            "maxConcurrency": 4.0,
            "logRetentionDays": 14.0,
        },
    )
    assert [r.name for r in stack.of_type("orderflow:index:ValidationPipeline")] == ["intake"]
    workflow = stack.one("aws:sfn/stateMachine:StateMachine", "intake-workflow")
    definition = json.loads(workflow.inputs["definition"])
    batch_sizes = find(definition, "MaxItemsPerBatch")
    assert batch_sizes
    assert set(batch_sizes) == {500}
    assert all(type(v) is int for v in batch_sizes + find(definition, "MaxConcurrency"))
    assert 4 in find(definition, "MaxConcurrency")
    retention = {
        g.inputs["retentionInDays"] for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    }
    assert retention == {14}
    rule = stack.one("aws:cloudwatch/eventRule:EventRule", "intake-rule")
    assert json.loads(rule.inputs["eventPattern"])["detail"]["object"]["key"] == [
        {"prefix": "drop/"}
    ]
    inspect = stack.one("aws:lambda/function:Function", "intake-inspect")
    assert inspect.inputs["environment"]["variables"]["KEY_SUFFIXES"] == ".jsonl"
    assert sorted(state) == sorted(
        [
            "bucketName",
            "tableName",
            "deadLetterQueueUrl",
            "deadLetterQueueArn",
            "deliveryDeadLetterQueueArn",
            "deliveryDeadLetterQueueUrl",
            "stateMachineArn",
            "ruleArn",
        ]
    )


def test_late_data_reconciler_gets_the_enum_as_its_plain_value(
    pulumi_harness: PulumiHarness,
) -> None:
    stack, _ = construct(
        pulumi_harness,
        "late",
        "LateDataReconciler",
        {"workflowType": "STANDARD", "sweepThresholdSeconds": 600.0},
    )
    workflow = stack.one("aws:sfn/stateMachine:StateMachine", "late-workflow")
    assert workflow.inputs["type"] == "STANDARD"


def test_an_unknown_enum_value_is_refused_before_anything_is_built() -> None:
    with pytest.raises(InputPropertyError, match="WorkflowType"):
        provider().construct(
            "late", f"{PACKAGE}:index:LateDataReconciler", {"workflowType": "FAST"}, None
        )


def test_a_missing_required_input_is_refused_by_name() -> None:
    with pytest.raises(InputPropertyError, match="clusterArn"):
        provider().construct("consolidation", f"{PACKAGE}:index:ConsolidationConsumer", {}, None)
