"""The component provider's schema, inferred in process the way `component_provider_host`
does (`ComponentProvider` → `Analyzer` → `generate_schema`), names all four components with
every argument of their Args TypedDict and every annotated output, typed and described.

Expected names and types come from the components themselves (in-repo `components`), not
from the generated hosted classes, so a field the provider lost or mistyped shows here.
"""

from __future__ import annotations

import re
from collections import abc
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pulumi
import pytest
from consumers_support import hosted, installed_components

import components
from components.settings import CommonArgs

NAMES = ("ValidationPipeline", "PremiumOrderPipe", "ConsolidationConsumer", "LateDataReconciler")
# `pulumi.Input[T]` holds the forward reference "Output[T]".
PULUMI_NAMES: dict[str, Any] = {"Output": pulumi.Output, "T": Any}


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def args_type(name: str) -> type:
    cls = getattr(components, name)
    hint = get_type_hints(cls.__init__, localns=PULUMI_NAMES)["args"]
    found = [a for a in get_args(hint) if a is not type(None)] or [hint]
    assert isinstance(found[0], type)
    return found[0]


def arg_hints(name: str) -> dict[str, Any]:
    return get_type_hints(args_type(name), localns=PULUMI_NAMES)


def output_names(name: str) -> list[str]:
    cls = getattr(components, name)
    return [n for n in cls.__annotations__ if not n.startswith("_")]


def expected_type(annotation: Any) -> dict[str, Any]:
    """The schema shape (`type`, `items`, `$ref`) of a Python annotation."""
    scalars = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in scalars:
        return {"type": scalars[annotation]}
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Union:  # pulumi.Input[T]: T | Awaitable[T] | Output[T]
        (awaited,) = [a for a in args if get_origin(a) is abc.Awaitable]
        return expected_type(get_args(awaited)[0])
    if origin is pulumi.Output:
        return expected_type(args[0])
    if origin in (list, abc.Sequence):
        return {"type": "array", "items": expected_type(args[0])}
    if origin is Literal:
        return {"$ref": "enum"}
    raise AssertionError(f"no expectation for {annotation!r}")


def shape(prop: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        return {"$ref": "enum"}
    found: dict[str, Any] = {"type": prop["type"]}
    if "items" in prop:
        found["items"] = shape(prop["items"])
    return found


def resource(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["resources"][f"orderflow:index:{name}"]
    return found


def test_schema_names_exactly_the_four_components(schema: dict[str, Any]) -> None:
    assert schema["name"] == "orderflow"
    assert sorted(schema["resources"]) == sorted(f"orderflow:index:{n}" for n in NAMES)
    assert all(r["isComponent"] for r in schema["resources"].values())


@pytest.mark.parametrize("name", NAMES)
def test_every_args_field_is_an_input_of_its_type(schema: dict[str, Any], name: str) -> None:
    hints = arg_hints(name)
    inputs = resource(schema, name)["inputProperties"]
    assert sorted(inputs) == sorted(camel(k) for k in hints)
    assert set(get_type_hints(CommonArgs)) <= set(hints), "every component takes CommonArgs"
    for key, annotation in hints.items():
        assert shape(inputs[camel(key)]) == expected_type(annotation), key


@pytest.mark.parametrize("name", NAMES)
def test_every_annotated_output_is_a_string_output(schema: dict[str, Any], name: str) -> None:
    outputs = resource(schema, name)["properties"]
    names = output_names(name)
    assert names
    assert sorted(outputs) == sorted(camel(n) for n in names)
    assert all(outputs[camel(n)] == {**outputs[camel(n)], "type": "string"} for n in names)
    assert sorted(resource(schema, name)["required"]) == sorted(camel(n) for n in names)


@pytest.mark.parametrize("name", NAMES)
def test_inputs_and_outputs_carry_the_docstrings(schema: dict[str, Any], name: str) -> None:
    entry = resource(schema, name)
    assert entry["description"] == " ".join((getattr(components, name).__doc__ or "").split())
    described = {**entry["inputProperties"], **entry["properties"]}
    assert [k for k, v in described.items() if len(v.get("description") or "") < 10] == []
    # CommonArgs' docstrings live on the base class; the provider still has them.
    assert "SNS topic" in entry["inputProperties"]["alarmTopicArn"]["description"]


def test_required_inputs_are_what_the_consumer_constructor_demands(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="needs") as refused:
        components.ConsolidationConsumer("probe", {})
    demanded = re.findall(r"[a-z][a-z_]+", str(refused.value).split("needs", 1)[1])
    assert resource(schema, "ConsolidationConsumer")["requiredInputs"] == sorted(
        camel(k) for k in demanded
    )
    for name in ("ValidationPipeline", "PremiumOrderPipe", "LateDataReconciler"):
        assert resource(schema, name)["requiredInputs"] == []


def test_workflow_type_is_an_enum_of_the_literal(schema: dict[str, Any]) -> None:
    literal = arg_hints("LateDataReconciler")["workflow_type"]
    prop = resource(schema, "LateDataReconciler")["inputProperties"]["workflowType"]
    enum = schema["types"][prop["$ref"].removeprefix("#/types/")]
    assert enum["type"] == "string"
    assert sorted(v["value"] for v in enum["enum"]) == sorted(get_args(literal))


def test_hosted_classes_are_the_installed_components() -> None:
    """The provider serves subclasses of `orderflow.components`' own classes, nothing else."""
    installed = installed_components()
    served = hosted().COMPONENTS
    assert [c.__name__ for c in served] == list(NAMES)
    for cls in served:
        assert issubclass(cls, getattr(installed, cls.__name__))
        own = {k for k, v in vars(cls).items() if callable(v) and not k.startswith("__")}
        assert own == set(), f"{cls.__name__} must not add behaviour: {own}"
