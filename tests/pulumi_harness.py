"""Run Pulumi code under mocks and record every resource it registers.

Assertions read the recorded inputs synchronously after the program finished, so no
check hides inside an `apply` that might never run (`preview=False` resolves every
output). Helpers raise when the resource looked for does not exist.
"""

from __future__ import annotations

import hashlib
import json
import runpy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks

ACCOUNT = "123456789012"
REGION = "us-east-1"


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

    def policy(self, key: str = "policy") -> dict[str, Any]:
        """A JSON policy/definition input, parsed."""
        value = self.inputs[key]
        return json.loads(value) if isinstance(value, str) else dict(value)


def _physical_name(name: str) -> str:
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:7]}"


def fake_state(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Plausible provider state: inputs plus the names, ids and ARNs AWS would assign."""
    state = dict(inputs)
    physical = inputs.get("name") or _physical_name(name)
    arn_prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:"
    ident = physical
    match typ:
        case "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or physical
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}")
            ident = bucket
        case "aws:sqs/queue:Queue":
            url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"
            state.update(name=physical, arn=arn_prefix.format("sqs") + physical, url=url)
            ident = url
        case "aws:dynamodb/table:Table":
            arn = arn_prefix.format("dynamodb") + f"table/{physical}"
            state.update(name=physical, arn=arn, streamArn=f"{arn}/stream/2026-01-01T00:00:00.000")
        case "aws:lambda/function:Function":
            arn = arn_prefix.format("lambda") + f"function:{physical}"
            state.update(name=physical, arn=arn, invokeArn=arn)
        case "aws:iam/role:Role":
            state.update(name=physical, arn=f"arn:aws:iam::{ACCOUNT}:role/{physical}")
        case "aws:sfn/stateMachine:StateMachine":
            state.update(
                name=physical, arn=arn_prefix.format("states") + f"stateMachine:{physical}"
            )
        case "aws:cloudwatch/eventRule:EventRule":
            state.update(name=physical, arn=arn_prefix.format("events") + f"rule/{physical}")
        case "aws:cloudwatch/logGroup:LogGroup":
            physical = inputs.get("name") or (inputs.get("namePrefix", "") + "abc123")
            state.update(name=physical, arn=arn_prefix.format("logs") + f"log-group:{physical}")
        case "aws:sns/topic:Topic":
            state.update(name=physical, arn=arn_prefix.format("sns") + physical)
            ident = state["arn"]
        case "aws:kms/key:Key":
            key_id = hashlib.sha256(name.encode()).hexdigest()[:32]
            state.update(keyId=key_id, arn=arn_prefix.format("kms") + f"key/{key_id}")
            ident = key_id
        case _:
            service = typ.split(":")[1].split("/", maxsplit=1)[0]
            state.setdefault("arn", arn_prefix.format(service) + f"{name}/{physical}")
    return ident, state


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that answer like AWS would and remember what was asked."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        ident, state = fake_state(args.typ, args.name, args.inputs)
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), state, urn=""))
        return ident, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "test",
            }, []
        if token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION}, []
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        if token == "aws:ssm/getParameter:getParameter":
            name = args.args["name"]
            arch = "arm64" if "/arm64/" in name else "x86_64"
            value = (
                f"arn:aws:lambda:{REGION}:017000801446:layer:"
                f"AWSLambdaPowertoolsPythonV3-python313-{arch}:7"
            )
            return {
                "name": name,
                "value": value,
                "type": "String",
                "arn": f"arn:aws:ssm:::{name}",
            }, []
        if token == "aws:dynamodb/getTable:getTable":
            name = args.args["name"]
            return {"name": name, "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"}, []
        raise NotImplementedError(f"no mock for invoke {token}")


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


class Stack:
    """The resources one program run registered, with lookup helpers that fail loudly."""

    def __init__(self, resources: list[Recorded]) -> None:
        self.resources = list(resources)

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.resources)

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

    def output_of(self, typ: str, name: str, key: str) -> Any:
        return self.one(typ, name).state[key]


class PulumiHarness:
    """Installs the mocks once; `run` executes a program and returns what it registered."""

    def __init__(self) -> None:
        self.mocks = RecordingMocks()
        self.monitor = RecordingMonitor(self.mocks)
        pulumi.runtime.set_mocks(
            self.mocks, project="orderflow", stack="dev", preview=False, monitor=self.monitor
        )

    def run(self, program: Callable[[], Any], config: dict[str, Any] | None = None) -> Stack:
        self.mocks.resources.clear()
        pulumi.runtime.set_all_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
        )
        pulumi.runtime.test(lambda: _none(program()))()  # type: ignore[no-untyped-call]
        return Stack(self.mocks.resources)

    def run_stack_program(self, root: Path, stack: str = "dev") -> Stack:
        """Run `__main__.py` with the values of `Pulumi.<stack>.yaml`: an offline preview."""
        settings = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]
        return self.run(lambda: runpy.run_path(str(root / "__main__.py")), settings)


def _none(_: Any) -> None:
    return None
