"""Run Pulumi code under mocks with fake provider state, for the component tests.

The generic part (installing mocks, recording URNs, parents and dependencies, running the
stack program with its config) lives in `emulator.program`; this module only supplies
plausible provider state without creating anything. Assertions read the recorded inputs
synchronously after the program finished, so no check hides inside an `apply` that might
never run (`preview=False` resolves every output). Helpers raise when the resource
looked for does not exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.program import (
    ACCOUNT,
    REGION,
    Recorded,
    RecordingMocks,
    Stack,
    physical_name,
    run_program,
    run_stack_program,
)

__all__ = ["ACCOUNT", "REGION", "PulumiHarness", "Recorded", "Stack", "fake_state"]


def fake_state(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:  # noqa: PLR0912
    """Plausible provider state: inputs plus the names, ids and ARNs AWS would assign."""
    state = dict(inputs)
    physical = inputs.get("name") or physical_name(name)
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
        case "aws:cloudwatch/eventBus:EventBus":
            state.update(name=physical, arn=arn_prefix.format("events") + f"event-bus/{physical}")
        case "aws:pipes/pipe:Pipe":
            state.update(name=physical, arn=arn_prefix.format("pipes") + f"pipe/{physical}")
        case "aws:scheduler/schedule:Schedule":
            arn = arn_prefix.format("scheduler") + f"schedule/default/{physical}"
            state.update(name=physical, arn=arn)
        case "aws:lambda/eventSourceMapping:EventSourceMapping":
            uuid = hashlib.sha256(name.encode()).hexdigest()[:32]
            state.update(
                uuid=uuid, arn=arn_prefix.format("lambda") + f"event-source-mapping:{uuid}"
            )
            ident = uuid
        case _:
            service = typ.split(":")[1].split("/", maxsplit=1)[0]
            state.setdefault("name", physical)
            state.setdefault("arn", arn_prefix.format(service) + f"{name}/{physical}")
    return ident, state


class FakeStateMocks(RecordingMocks):
    """Mocks that answer like AWS would, creating nothing."""

    def create(
        self, typ: str, name: str, inputs: dict[str, Any], custom: bool
    ) -> tuple[str, dict[str, Any]]:
        return fake_state(typ, name, inputs)

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "test",
            }
        if token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        if token == "aws:ssm/getParameter:getParameter":
            name = args["name"]
            arch = "arm64" if "/arm64/" in name else "x86_64"
            value = (
                f"arn:aws:lambda:{REGION}:017000801446:layer:"
                f"AWSLambdaPowertoolsPythonV3-python313-{arch}:7"
            )
            return {"name": name, "value": value, "type": "String", "arn": f"arn:aws:ssm:::{name}"}
        if token == "aws:dynamodb/getTable:getTable":
            # A brought table named "*-no-stream" has no stream; any other streams both images.
            name = args["name"]
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
            streamed = not name.endswith("-no-stream")
            return {
                "name": name,
                "arn": arn,
                "streamArn": f"{arn}/stream/2026-01-01T00:00:00.000" if streamed else "",
                "streamViewType": "NEW_AND_OLD_IMAGES" if streamed else "",
                "streamEnabled": streamed,
            }
        raise NotImplementedError(f"no mock for invoke {token}")


class PulumiHarness:
    """`run` executes a program under fake-state mocks and returns what it registered.

    Mocks are (re)installed on every run, so emulator deploys in the same session, which
    install their own, do not leak into these runs.
    """

    def __init__(self) -> None:
        self.mocks = FakeStateMocks()

    def run(self, program: Callable[[], Any], config: dict[str, Any] | None = None) -> Stack:
        return run_program(self.mocks, program, config)

    def run_stack_program(self, root: Path, stack: str = "dev") -> Stack:
        """Run `__main__.py` with the values of `Pulumi.<stack>.yaml`: an offline preview."""
        return run_stack_program(self.mocks, root, stack)
