"""Deploy a stack into the emulator: the program's own resources, created in moto.

The stack program runs under Pulumi mocks (`emulator.program`) whose `new_resource`
hands each resource to the provisioner of its type. Component resources
(`orderflow:index:*`) are recorded, not provisioned. Invokes the program makes
(caller identity, region, the Powertools layer parameter, a brought table) are answered
from the emulated account.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.program import (
    ACCOUNT,
    REGION,
    Recorded,
    RecordingMocks,
    Stack,
    Transformation,
    run_program,
)
from emulator.provision import provision
from emulator.settings import stack_settings

if TYPE_CHECKING:
    from emulator.engine import Emulator

POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 7  # stands for "the latest"; Powertools comes from the local install


class EmulatorMocks(RecordingMocks):
    """Mocks whose resources are real (in moto)."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator

    def create(
        self, typ: str, name: str, inputs: dict[str, Any], custom: bool
    ) -> tuple[str, dict[str, Any]]:
        if not custom:
            return "", dict(inputs)
        return provision(self.emulator, typ, name, inputs)

    def invoke(self, function: str, args: dict[str, Any]) -> dict[str, Any]:
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "userId": ACCOUNT}
        if function == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION}
        if function == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if function == "aws:ssm/getParameter:getParameter":
            return self._parameter(args["name"])
        if function == "aws:dynamodb/getTable:getTable":
            table = self.emulator.client("dynamodb").describe_table(TableName=args["name"])["Table"]
            return {
                "name": table["TableName"],
                "arn": table["TableArn"],
                "streamArn": table.get("LatestStreamArn", ""),
            }
        raise NotImplementedError(f"the emulator does not answer the invoke {function}")

    def _parameter(self, name: str) -> dict[str, Any]:
        """AWS's public Powertools parameters, else the account's own parameter."""
        if name.startswith("/aws/service/powertools/python/"):
            arch, runtime = name.split("/")[5:7]
            value = (
                f"arn:aws:lambda:{REGION}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
                f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}:"
                f"{POWERTOOLS_LAYER_VERSION}"
            )
            return {
                "name": name,
                "value": value,
                "type": "String",
                "insecureValue": value,
                "arn": f"arn:aws:ssm:{REGION}::parameter{name}",
                "version": 1,
            }
        parameter = self.emulator.client("ssm").get_parameter(Name=name, WithDecryption=True)[
            "Parameter"
        ]
        return {
            "name": name,
            "value": parameter["Value"],
            "type": parameter["Type"],
            "arn": parameter["ARN"],
            "version": parameter["Version"],
        }


def deploy_stack(
    emulator: Emulator, root: Path, stack: str, *, transformations: Sequence[Transformation] = ()
) -> Stack:
    """Run `<root>/__main__.py` for `stack`, creating every resource in the emulator.

    The settings are the stack file's plus the emulator's own for what only exists here
    (`emulator.settings`: the MSK cluster the committed dev stack does not name).
    """
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # the program imports `components` from its root
    return run_program(
        EmulatorMocks(emulator),
        lambda: runpy.run_path(str(root / "__main__.py")),
        stack_settings(root, stack),
        stack=stack,
        transformations=transformations,
    )


def deploy_program(
    emulator: Emulator,
    program: Callable[[], Any],
    config: Mapping[str, Any] | None = None,
    *,
    transformations: Sequence[Transformation] = (),
) -> Stack:
    """Run any Pulumi program function, creating every resource in the emulator."""
    return run_program(EmulatorMocks(emulator), program, config, transformations=transformations)


def describe(stack: Stack) -> list[str]:
    """The created resources grouped under their components, like a `pulumi preview`."""
    by_parent: dict[str, list[Recorded]] = {}
    for resource in stack:
        by_parent.setdefault(resource.parent, []).append(resource)
    roots = [r for r in stack if r.parent not in {x.urn for x in stack}]
    lines: list[str] = []

    def show(resource: Recorded, depth: int) -> None:
        indent = "    " * depth
        if resource.type.startswith("orderflow:"):
            lines.append(f"{indent}+ {resource.type} {resource.name}")
        else:
            physical = resource.state.get("name") or resource.state.get("bucket") or resource.id
            lines.append(f"{indent}+ {resource.type:<60} {resource.name:<40} {physical}")
        for child in by_parent.get(resource.urn, []):
            show(child, depth + 1)

    for resource in roots:
        show(resource, 0)
    return lines
