"""The registry of provisioners: one small function per Pulumi resource type.

A provisioner creates its resource in moto from the program's own inputs (camelCase,
as the Pulumi engine passes them) and returns the physical id and the outputs AWS would
report (ARN, name, URL, ...); the state Pulumi sees is the inputs plus those outputs.
Adding a type is one decorated function in the module of its service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.program import physical_name

if TYPE_CHECKING:
    from emulator.engine import Emulator


class UnsupportedResourceError(RuntimeError):
    """The program declares a resource type the emulator cannot create."""

    def __init__(self, typ: str, name: str) -> None:
        super().__init__(f"emulator cannot create {typ} (resource '{name}')")
        self.type = typ
        self.name = name


@dataclass(frozen=True)
class Request:
    """One resource to create: its type token, logical name and inputs."""

    type: str
    name: str
    inputs: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.inputs.get(key)
        return default if value is None else int(value)

    def physical(self, key: str = "name", *, lower: bool = False) -> str:
        """The explicit name, else `namePrefix` + a unique suffix, else Pulumi's auto-name."""
        if self.inputs.get(key):
            return str(self.inputs[key])
        prefix = self.inputs.get(f"{key}Prefix")
        if prefix:
            # Terraform's prefixed unique ids are 26 characters; deterministic here.
            return (
                f"{prefix}{int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 10**26:026d}"
            )
        name = physical_name(self.name)
        return name.lower() if lower else name


Provisioned = tuple[str, dict[str, Any]]
Provisioner = Callable[["Emulator", Request], Provisioned]
PROVISIONERS: dict[str, Provisioner] = {}


def provisioner(*types: str) -> Callable[[Provisioner], Provisioner]:
    """Register the decorated function as the provisioner of `types`."""

    def register(function: Provisioner) -> Provisioner:
        for typ in types:
            if typ in PROVISIONERS:
                raise ValueError(f"{typ} already has a provisioner")
            PROVISIONERS[typ] = function
        return function

    return register


def provision(emulator: Emulator, typ: str, name: str, inputs: dict[str, Any]) -> Provisioned:
    """Create one resource; its state is its inputs plus what AWS reports."""
    function = PROVISIONERS.get(typ)
    if function is None:
        raise UnsupportedResourceError(typ, name)
    ident, outputs = function(emulator, Request(typ, name, inputs))
    return ident, {**inputs, **outputs}


def tags(request: Request) -> dict[str, str]:
    return dict(request.get("tags") or {})


def pascal(value: Any, renames: dict[str, str] | None = None) -> Any:
    """Pulumi's camelCase inputs as the PascalCase API shape (`id` → `ID`, 3.0 → 3)."""
    renames = {"id": "ID", **(renames or {})}
    if isinstance(value, dict):
        return {renames.get(k, k[:1].upper() + k[1:]): pascal(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v, renames) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@provisioner("pulumi:providers:aws")
def explicit_provider(emulator: Emulator, request: Request) -> Provisioned:
    """An explicit provider instance: nothing to create, every region is this emulator's."""
    return physical_name(request.name), {}
