"""What each component accepts and returns, read from its code.

The one model behind the documentation tables and the component provider's hosted classes,
so neither can describe an argument the code does not have. Inputs come from the Args
TypedDict (CommonArgs included) and the attribute docstrings under each field; outputs from
the component's annotated class attributes. A field without a docstring, or of a type no
Pulumi schema can express, is an error here rather than a silent gap in a generated file.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
import types
from collections import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pulumi

PACKAGE = "orderflow"
"""The Pulumi package name: resource tokens are `orderflow:index:<Class>`."""
COMPONENT_NAMES = (
    "ValidationPipeline",
    "PremiumOrderPipe",
    "ConsolidationConsumer",
    "LateDataReconciler",
)
REQUIRED_INPUTS: Mapping[str, frozenset[str]] = {
    # The Args TypedDict is total=False, but the constructor refuses to run without these;
    # tests/consumers checks this table against the constructor's own error.
    "ConsolidationConsumer": frozenset(
        {"cluster_arn", "subnet_ids", "security_group_ids", "consolidated_data_prefixes"}
    ),
}

Kind = Literal["str", "int", "float", "bool", "input", "output", "list", "map", "enum"]
_SCALARS: Mapping[type, Kind] = {str: "str", int: "int", float: "float", bool: "bool"}
_SCHEMA_SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
# `pulumi.Input[T]` holds the forward reference "Output[T]", which the components' modules
# cannot evaluate on their own.
_PULUMI_NAMES: dict[str, Any] = {"Output": pulumi.Output, "T": Any}


@dataclass(frozen=True)
class TypeRef:
    """A field's type, reduced to what a Pulumi schema can say about it."""

    kind: Kind
    item: TypeRef | None = None
    """Element of an input, output, list or map."""
    enum_name: str = ""
    enum_values: tuple[str, ...] = ()

    def python(self) -> str:
        """How a Python user reads the type, e.g. `Input[str]`."""
        match self.kind:
            case "input" | "output":
                return f"{self.kind.capitalize()}[{self._item.python()}]"
            case "list":
                return f"Sequence[{self._item.python()}]"
            case "map":
                return f"Mapping[str, {self._item.python()}]"
            case "enum":
                return "Literal[" + ", ".join(f'"{v}"' for v in self.enum_values) + "]"
            case _:
                return self.kind

    def source(self) -> str:
        """The annotation the hosted class declares (evaluated by the schema inference)."""
        match self.kind:
            case "input" | "output":
                return f"pulumi.{self.kind.capitalize()}[{self._item.source()}]"
            case "list":
                return f"Sequence[{self._item.source()}]"
            case "map":
                return f"Mapping[str, {self._item.source()}]"
            case "enum":
                return self.enum_name
            case _:
                return self.kind

    def schema(self) -> str:
        """The schema type, e.g. `string`, `array<string>`, `enum WorkflowType`."""
        match self.kind:
            case "input" | "output":
                return self._item.schema()
            case "list":
                return f"array<{self._item.schema()}>"
            case "map":
                return f"map<{self._item.schema()}>"
            case "enum":
                return f"enum {self.enum_name}"
            case _:
                return _SCHEMA_SCALARS[self.kind]

    def plain_kind(self) -> Kind:
        """The kind under any Input/Output wrapper."""
        return self._item.plain_kind() if self.kind in ("input", "output") else self.kind

    def enums(self) -> list[TypeRef]:
        found = [self] if self.kind == "enum" else []
        return found + (self.item.enums() if self.item else [])

    @property
    def _item(self) -> TypeRef:
        assert self.item is not None, f"{self.kind} without an element type"
        return self.item


@dataclass(frozen=True)
class Field:
    """One input or output of a component."""

    name: str
    type: TypeRef
    doc: str
    required: bool = False

    @property
    def schema_name(self) -> str:
        return camel_case(self.name)

    @property
    def default(self) -> str:
        """The default the docstring states, `required`, or an em dash."""
        if self.required:
            return "required"
        for pattern in _DEFAULT_PATTERNS:
            match = pattern.search(self.doc)
            if match:
                return match.group("value").strip()
        return "—"


@dataclass(frozen=True)
class ComponentApi:
    """A component's inputs and outputs as the provider and the docs present them."""

    name: str
    doc: str
    args_name: str
    args_doc: str
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]

    @property
    def token(self) -> str:
        return f"{PACKAGE}:index:{self.name}"

    def enums(self) -> list[TypeRef]:
        return [enum for field in self.inputs for enum in field.type.enums()]


# Docstrings say "`arm64` (default, cheaper …)", "TRIM_HORIZON (default: …)", "(default 30)",
# "(default: AWS managed)" or "…; default: a new one."; the first pattern that matches gives
# the table's default column.
_DEFAULT_PATTERNS = (
    re.compile(r"(?P<value>`[^`]+`|\b[A-Z][A-Z_]+\b) \(default[,;)]"),
    re.compile(r"(?P<value>\b[A-Z][A-Z_]+\b) \(default:"),
    re.compile(r"\(default:? (?P<value>[^;)]+)[;)]"),
    re.compile(r"\bdefault: (?P<value>[^.;]+)"),
    re.compile(r"\((?P<value>none)[:;)]"),
)


def camel_case(snake: str) -> str:
    """Schema property names, as the SDK's schema inference spells them."""
    head, *rest = snake.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def describe(component: type[pulumi.ComponentResource]) -> ComponentApi:
    """The inputs (from `__init__`'s `args` TypedDict) and outputs of `component`."""
    hints = get_type_hints(component.__init__, localns=_PULUMI_NAMES)
    args_type = _without_none(hints["args"])
    if not isinstance(args_type, type) or not hasattr(args_type, "__optional_keys__"):
        raise TypeError(f"{component.__name__}.__init__'s `args` must be a TypedDict")
    declared: frozenset[str] = getattr(args_type, "__required_keys__", frozenset())
    required = set(declared) | REQUIRED_INPUTS.get(component.__name__, set())
    raw = _raw_annotations(args_type)
    docs = attribute_docs(args_type)
    inputs = tuple(
        Field(
            name,
            resolve(annotation, owner=args_type.__name__, field=name, raw=raw.get(name, "")),
            _doc(docs, args_type, name),
            required=name in required,
        )
        for name, annotation in get_type_hints(args_type, localns=_PULUMI_NAMES).items()
    )
    unknown_required = required - {f.name for f in inputs}
    if unknown_required:
        raise ValueError(f"{component.__name__}: required inputs {unknown_required} are no fields")
    out_docs = attribute_docs(component)
    outputs = tuple(
        Field(
            name,
            resolve(annotation, owner=component.__name__, field=name),
            _doc(out_docs, component, name),
        )
        for name, annotation in _output_hints(component).items()
    )
    return ComponentApi(
        name=component.__name__,
        doc=_clean(component.__doc__ or ""),
        args_name=args_type.__name__,
        args_doc=_clean(args_type.__doc__ or ""),
        inputs=inputs,
        outputs=outputs,
    )


def describe_all(module: types.ModuleType) -> list[ComponentApi]:
    """The four components of `module` (`components` here, `orderflow.components` installed)."""
    return [describe(getattr(module, name)) for name in COMPONENT_NAMES]


def resolve(annotation: Any, *, owner: str, field: str, raw: str = "") -> TypeRef:
    """Reduce an evaluated annotation to a `TypeRef`, or explain why no schema can hold it."""
    annotation = _without_none(annotation)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation in _SCALARS:
        return TypeRef(_SCALARS[annotation])
    if origin in (Union, types.UnionType):
        awaited = [a for a in args if get_origin(a) is abc.Awaitable]
        if awaited:  # pulumi.Input[T] = T | Awaitable[T] | Output[T]
            return TypeRef("input", resolve(get_args(awaited[0])[0], owner=owner, field=field))
    elif origin is pulumi.Output:
        return TypeRef("output", resolve(args[0], owner=owner, field=field))
    elif origin is Literal and args and all(isinstance(a, str) for a in args):
        name = raw if raw.isidentifier() else _pascal(field)
        return TypeRef("enum", enum_name=name, enum_values=tuple(args))
    elif origin in (list, abc.Sequence) and len(args) == 1:
        return TypeRef("list", resolve(args[0], owner=owner, field=field))
    elif origin in (dict, abc.Mapping) and len(args) == 2 and args[0] is str:
        return TypeRef("map", resolve(args[1], owner=owner, field=field))
    raise TypeError(
        f"{owner}.{field}: {annotation!r} has no Pulumi schema type; use str, int, float, bool, "
        "pulumi.Input[T], Sequence[T], Mapping[str, T] or a Literal of strings"
    )


def attribute_docs(cls: type) -> dict[str, str]:
    """Docstrings under annotated attributes, of `cls` and of its bases in the same package.

    TypedDicts keep no base classes at run time, so bases are read from the source.
    """
    module = sys.modules[cls.__module__]
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    docs: dict[str, str] = {}
    for base in node.bases:
        if isinstance(base, ast.Name):
            base_cls = getattr(module, base.id, None)
            if isinstance(base_cls, type) and _same_package(base_cls, cls):
                docs.update(attribute_docs(base_cls))
    for statement, following in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = _clean(following.value.value)
    return docs


def _doc(docs: Mapping[str, str], owner: type, name: str) -> str:
    if not docs.get(name):
        raise ValueError(f"{owner.__name__}.{name} has no docstring: say what it is for")
    return docs[name]


def _clean(text: str) -> str:
    return " ".join(text.split())


def _pascal(snake: str) -> str:
    return "".join(word.capitalize() for word in snake.split("_"))


def _without_none(annotation: Any) -> Any:
    """`X | None` → `X`: optionality is the TypedDict's business, not the type's."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        if len(rest) < len(get_args(annotation)):
            return rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return annotation


def _raw_annotations(cls: type) -> dict[str, str]:
    """Annotations as written (`WorkflowType`), to name the enums after the code's aliases."""
    raw: dict[str, str] = {}
    for name, value in cls.__annotations__.items():
        text = getattr(value, "__forward_arg__", value)
        raw[name] = text if isinstance(text, str) else getattr(text, "__name__", "")
    return raw


def _output_hints(component: type) -> dict[str, Any]:
    """Evaluated annotations of the component and its bases in the same package.

    Pulumi's own base classes annotate private attributes with names their module alone can
    evaluate, so each of our classes is evaluated on its own.
    """
    hints: dict[str, Any] = {}
    for klass in reversed(component.__mro__):
        if _same_package(klass, component):
            own = inspect.get_annotations(klass)
            probe = type("_Own", (), {"__annotations__": own, "__module__": klass.__module__})
            hints.update(get_type_hints(probe, localns=_PULUMI_NAMES))
    return {name: hint for name, hint in hints.items() if not name.startswith("_")}


def _same_package(a: type, b: type) -> bool:
    return a.__module__.rpartition(".")[0] == b.__module__.rpartition(".")[0]
