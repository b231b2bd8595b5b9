"""Run a Pulumi program under mocks and record every resource it registers.

This is the one place that runs a Pulumi program in process: the component tests (through
`tests/pulumi_harness.py`, with fake provider state) and the emulator (which creates each
resource in moto) both call `run_program`. Only one set of mocks can be active per
process, so every run installs its own mocks and monitor: a harness run after an
emulator deploy (or the reverse) in one pytest session each get their own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks

ACCOUNT = "123456789012"
REGION = "us-east-1"
PROJECT = "orderflow"

Transformation = Callable[
    [pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None
]


def physical_name(logical: str) -> str:
    """Pulumi-style auto-name `<logical>-<7 hex>`, deterministic so runs are comparable."""
    return f"{logical}-{hashlib.sha256(logical.encode()).hexdigest()[:7]}"


@dataclass
class Recorded:
    """One registered resource: its type token, logical name, inputs and relations."""

    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    urn: str
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    """What a component registered as its outputs (`register_outputs`), resolved."""

    def policy(self, key: str = "policy") -> dict[str, Any]:
        """A JSON policy/definition input, parsed."""
        value = self.inputs[key]
        parsed: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
        return parsed


class Stack:
    """The resources one program run registered, with lookup helpers that fail loudly."""

    def __init__(
        self, resources: Sequence[Recorded], outputs: Mapping[str, Any] | None = None
    ) -> None:
        self.resources = list(resources)
        self.outputs: dict[str, Any] = dict(outputs or {})
        """The stack outputs (`pulumi.export`), resolved: what `pulumi stack output` shows."""

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str) -> Recorded:
        found = [r for r in self.resources if r.type == typ and r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(typ))
            raise AssertionError(
                f"expected one {typ} named {name!r}, found {len(found)}; have {names}"
            )
        return found[0]

    def by_urn(self, urn: str) -> Recorded:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise AssertionError(f"no resource with urn {urn}")

    def children_of(self, component: Recorded) -> list[Recorded]:
        return [r for r in self.resources if r.parent == component.urn]

    def descendants_of(self, component: Recorded) -> list[Recorded]:
        """Children, their children and so on, in registration order."""
        urns = {component.urn}
        found: list[Recorded] = []
        for r in self.resources:  # parents register before their children
            if r.parent in urns:
                urns.add(r.urn)
                found.append(r)
        return found

    def output_of(self, typ: str, name: str, key: str) -> Any:
        return self.one(typ, name).state[key]


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that remember every resource; subclasses decide what a resource becomes.

    The Python SDK registers resources from several threads, so `create` runs under a
    lock: provisioning (e.g. in moto) then sees one resource at a time. A resource that
    cannot be created does not fail its registration (the SDK would leave a future whose
    unretrieved exception gets reported later, from another test); the first failure is
    kept in `failure` and raised by `run_program` once the program has finished.
    """

    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.failure: Exception | None = None
        self._lock = threading.Lock()

    @abstractmethod
    def create(
        self, typ: str, name: str, inputs: dict[str, Any], custom: bool
    ) -> tuple[str, dict[str, Any]]:
        """The physical id and the output state of a new resource."""

    @abstractmethod
    def invoke(self, function: str, args: dict[str, Any]) -> dict[str, Any]:
        """The result of a provider function (camelCase keys)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        with self._lock:
            try:
                ident, state = self.create(
                    args.typ, args.name, dict(args.inputs), bool(args.custom)
                )
            except Exception as exc:  # raised after the run, see the class docstring
                self.failure = self.failure or exc
                ident, state = "", dict(args.inputs)
            self.resources.append(
                Recorded(args.typ, args.name, dict(args.inputs), state, urn="", id=ident)
            )
        return ident, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        with self._lock:
            return self.invoke(args.token, dict(args.args)), []


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records each resource's URN, parent and explicit dependencies."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorder = mocks
        self.lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            with self.lock:
                record = next(
                    r
                    for r in self.recorder.resources
                    if r.type == request.type and r.name == request.name and not r.urn
                )
                record.urn = response.urn
                record.parent = request.parent
                record.dependencies = list(request.dependencies)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = pulumi.runtime.rpc.deserialize_properties(request.outputs)
        with self.lock:
            for record in self.recorder.resources:
                if record.urn == request.urn:
                    record.outputs = dict(outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


def run_program(
    mocks: RecordingMocks,
    program: Callable[[], Any],
    config: Mapping[str, Any] | None = None,
    *,
    stack: str = "dev",
    transformations: Sequence[Transformation] = (),
) -> Stack:
    """Install `mocks` (`preview=False`: every output resolves), run `program`, return what it made.

    `transformations` are legacy stack transformations applied to every resource, e.g. to
    strip a permission from a policy; they are removed again afterwards.
    """
    mocks.resources.clear()
    mocks.failure = None
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(mocks)
    )
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    )
    root = pulumi.runtime.get_root_resource()
    assert root is not None, "set_mocks creates the root stack resource"
    # The root stack outlives a run (set_mocks reuses it): earlier exports would leak in.
    getattr(root, "outputs", {}).clear()
    saved = root._transformations

    outputs: dict[str, Any] = {}

    def body() -> pulumi.Output[None]:
        for transformation in transformations:
            pulumi.runtime.register_stack_transformation(transformation)
        program()
        exported = pulumi.Output.from_input(dict(getattr(root, "outputs", {})))
        return exported.apply(outputs.update)  # awaited by `test`: every output resolved

    loop = asyncio.get_event_loop()  # the one the SDK runs programs on
    loop.set_exception_handler(_unless_unretrieved)
    try:
        pulumi.runtime.test(body)()  # type: ignore[no-untyped-call]
    except BaseException:
        _cancel_registrations_in_flight(loop)
        raise
    finally:
        root._transformations = saved
    if mocks.failure is not None:
        raise mocks.failure
    return Stack(mocks.resources, outputs)


def _cancel_registrations_in_flight(loop: asyncio.AbstractEventLoop) -> None:
    """A failed program leaves registrations pending on the SDK's event loop; left alone
    they would run, and be recorded, during the next program run."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _unless_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop the SDK's "exception was never retrieved" reports of a failed program.

    The failure itself is raised to the caller; these are copies, reported whenever the
    futures are collected (often during a later test), and formatting their tracebacks
    trips a CPython 3.11 bug ("AST constructor recursion depth mismatch") that breaks the
    next module pytest compiles.
    """
    if "exception was never retrieved" not in str(context.get("message", "")):
        loop.default_exception_handler(context)


def stack_config(root: Path, stack: str = "dev") -> dict[str, Any]:
    """The `config:` map of `Pulumi.<stack>.yaml`."""
    config: dict[str, Any] = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def run_stack_program(
    mocks: RecordingMocks,
    root: Path,
    stack: str = "dev",
    *,
    transformations: Sequence[Transformation] = (),
) -> Stack:
    """Run `<root>/__main__.py` with the values of `Pulumi.<stack>.yaml`."""
    return run_program(
        mocks,
        lambda: runpy.run_path(str(root / "__main__.py")),
        stack_config(root, stack),
        stack=stack,
        transformations=transformations,
    )
