"""The example projects in examples/ work as users would run them.

python-sales-intake runs with its own stack settings under Pulumi mocks, importing the
components by their installed name. yaml-consumer cannot run here (Pulumi YAML needs the
CLI), so it is checked against the provider's schema: every type, property and reference
it uses exists there.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from typing import Any

import pulumi_aws as aws
import pytest
import yaml
from consumers_support import EXAMPLES, PROVIDER_DIR, ROOT, installed_components
from pulumi_harness import PulumiHarness, Stack

SALES = EXAMPLES / "python-sales-intake"
YAML_CONSUMER = EXAMPLES / "yaml-consumer"
REFERENCE = re.compile(r"\$\{([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\}")


@pytest.fixture(scope="module")
def sales(pulumi_harness: PulumiHarness) -> Stack:
    installed_components()  # a clear message when orderflow is not installed
    return pulumi_harness.run_stack_program(SALES, "dev")


def sales_settings() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((SALES / "Pulumi.dev.yaml").read_text())["config"]
    return config


def test_sales_intake_builds_its_own_pipelines_from_the_installed_package(sales: Stack) -> None:
    components = {(r.type, r.name) for r in sales if r.type.startswith("orderflow:")}
    assert components == {
        ("orderflow:index:AlarmTopic", "sales-alarms"),
        ("orderflow:index:ValidationPipeline", "sales-intake"),
        ("orderflow:index:LateDataReconciler", "sales-late"),
    }
    # The program ran the installed modules, not the repository's `components` package.
    assert "orderflow.components.validation_pipeline" in sys.modules
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse((SALES / "__main__.py").read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert "orderflow.components" in imported
    assert not any(str(name).split(".")[0] in ("components", "runtime") for name in imported)


def test_sales_intake_takes_files_under_its_own_prefix(sales: Stack) -> None:
    prefix = sales_settings()["sales-intake:uploadPrefix"]
    rule = sales.one("aws:cloudwatch/eventRule:EventRule", "sales-intake-rule")
    keys = json.loads(rule.inputs["eventPattern"])["detail"]["object"]["key"]
    assert keys == [{"prefix": prefix}]  # the suffix (any case) is InspectFile's to check
    inspect = sales.one("aws:lambda/function:Function", "sales-intake-inspect")
    assert inspect.inputs["environment"]["variables"]["KEY_SUFFIXES"] == ".jsonl"
    table = sales.one("aws:dynamodb/table:Table", "sales-intake-orders")
    assert table.inputs["deletionProtectionEnabled"] is False


def test_late_sales_are_reconciled_from_the_projects_own_bus(sales: Stack) -> None:
    bus = sales.one("aws:cloudwatch/eventBus:EventBus", "sales-events")
    rule = sales.one("aws:cloudwatch/eventRule:EventRule", "sales-late-rule")
    assert rule.inputs["eventBusName"] == bus.state["name"]
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["sales.intake"]
    assert pattern["detail-type"] == ["late.sale"]
    schedule = sales.one("aws:scheduler/schedule:Schedule", "sales-late-sweep-schedule")
    assert schedule.inputs["scheduleExpression"] == "rate(30 minutes)"


def test_sales_intake_applies_its_settings_to_every_pipeline(sales: Stack) -> None:
    retention = sales_settings()["sales-intake:logRetentionDays"]
    groups = sales.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert groups
    assert {g.inputs["retentionInDays"] for g in groups} == {retention}
    topic_arn = sales.output_of("aws:sns/topic:Topic", "sales-alarms-topic", "arn")
    alarms = sales.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms
    assert [a.name for a in alarms if a.inputs.get("alarmActions") != [topic_arn]] == []


def test_sales_intake_installs_this_repository_with_the_repositorys_pins() -> None:
    lines = [
        line.strip()
        for line in (SALES / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    local = [line for line in lines if line.startswith((".", "-e"))]
    assert len(local) == 1
    assert (SALES / local[0].removeprefix("-e").strip()).resolve() == ROOT
    pins = {line for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line}
    assert {line for line in lines if line.startswith("pulumi")} <= pins
    project = yaml.safe_load((SALES / "Pulumi.yaml").read_text())
    assert project["runtime"]["options"] == {"toolchain": "pip", "virtualenv": "venv"}
    assert all(k.split(":")[0] in ("aws", project["name"]) for k in sales_settings())


def yaml_project() -> dict[str, Any]:
    project: dict[str, Any] = yaml.safe_load((YAML_CONSUMER / "Pulumi.yaml").read_text())
    return project


def test_yaml_consumer_uses_the_provider_in_this_repository() -> None:
    project = yaml_project()
    assert project["runtime"] == "yaml"
    source = (YAML_CONSUMER / project["packages"]["orderflow"]).resolve()
    assert source == PROVIDER_DIR
    assert yaml.safe_load((source / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}


def test_yaml_consumer_uses_only_what_the_schema_declares(schema: dict[str, Any]) -> None:
    resources: dict[str, Any] = yaml_project()["resources"]
    used = [r for r in resources.values() if r["type"].startswith("orderflow:")]
    assert {r["type"] for r in used} >= {
        "orderflow:index:ValidationPipeline",
        "orderflow:index:LateDataReconciler",
    }
    for name, declared in resources.items():
        if not declared["type"].startswith("orderflow:"):
            continue
        spec = schema["resources"].get(declared["type"])
        assert spec is not None, f"{name}: {declared['type']} is not in the schema"
        properties = declared.get("properties", {})
        assert sorted(set(properties) - set(spec["inputProperties"])) == [], name
        assert sorted(set(spec["requiredInputs"]) - set(properties)) == [], name
        for key, value in properties.items():
            check_value(schema, spec["inputProperties"][key], value, f"{name}.{key}")


def test_yaml_consumer_references_only_existing_outputs(schema: dict[str, Any]) -> None:
    project = yaml_project()
    resources: dict[str, Any] = project["resources"]
    text = yaml.safe_dump({"resources": resources, "outputs": project.get("outputs", {})})
    references = REFERENCE.findall(text)
    assert references
    for resource_name, prop in references:
        assert resource_name in resources, f"${{{resource_name}.{prop}}}: no such resource"
        token = resources[resource_name]["type"]
        if token.startswith("orderflow:"):
            assert prop in schema["resources"][token]["properties"], f"{token} has no {prop}"
        else:
            assert hasattr(aws_class(token), snake(prop)), f"{token} has no {prop}"


def check_value(schema: dict[str, Any], prop: dict[str, Any], value: Any, where: str) -> None:
    """A literal must fit the property's schema type; an interpolation is checked elsewhere."""
    if isinstance(value, str) and REFERENCE.fullmatch(value):
        return
    if "$ref" in prop:
        enum = schema["types"][prop["$ref"].removeprefix("#/types/")]
        assert value in [v["value"] for v in enum["enum"]], where
        return
    kind = prop["type"]
    if kind == "array":
        assert isinstance(value, list), where
        for item in value:
            check_value(schema, prop["items"], item, where)
        return
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
    }
    assert isinstance(value, expected[kind]), f"{where}: {value!r} is not {kind}"


def aws_class(token: str) -> type:
    """`aws:cloudwatch:EventBus` → `pulumi_aws.cloudwatch.EventBus`."""
    _, module, name = token.split(":")
    cls = getattr(getattr(aws, module), name)
    assert isinstance(cls, type)
    return cls


def snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def test_aws_resources_in_the_yaml_consumer_exist() -> None:
    for declared in yaml_project()["resources"].values():
        if declared["type"].startswith("aws:"):
            assert aws_class(declared["type"])


def test_examples_are_documented() -> None:
    guide = (ROOT / "docs" / "examples.md").read_text()
    for example in (SALES, YAML_CONSUMER):
        assert f"examples/{example.name}" in guide
