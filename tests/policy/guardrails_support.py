"""The stack the guardrail tests check, and how its recorded resources feed the rules.

The checked stack is the dev stack (`__main__.py` with `Pulumi.dev.yaml` and the emulator's
settings, so the ConsolidationConsumer is in it) plus, while the
program does not build them yet, the other pipelines under their emulator names with
placeholder settings, in the same program run (so they share the stack's alarm topic).
Once `__main__.py` builds a component, its placeholder disappears by itself.
"""

from __future__ import annotations

import functools
import importlib
import runpy
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow_policy import ResourceRule, StackResource, StackRule

from components import (
    ConsolidationConsumer,
    ConsolidationConsumerArgs,
    LateDataReconciler,
    LateDataReconcilerArgs,
    PremiumOrderPipe,
    PremiumOrderPipeArgs,
)
from components.settings import CommonArgs
from emulator.program import Recorded, Stack, stack_config
from emulator.settings import stack_settings

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policy"
MSK_CLUSTER_ARN = "arn:aws:kafka:us-east-1:123456789012:cluster/orders/0a1b2c3d-4e5f"


def _premium(common: CommonArgs) -> None:
    PremiumOrderPipe("premium", PremiumOrderPipeArgs(**common))  # type: ignore[typeddict-item]


def _late_data(common: CommonArgs) -> None:
    LateDataReconciler("late-data", LateDataReconcilerArgs(**common))  # type: ignore[typeddict-item]


def _consolidation(common: CommonArgs) -> None:
    args: dict[str, Any] = {
        **common,
        "cluster_arn": MSK_CLUSTER_ARN,
        "subnet_ids": ["subnet-0a1b2c3d4e5f60718"],
        "security_group_ids": ["sg-0a1b2c3d4e5f60718"],
        "consolidated_data_prefixes": ["s3://orderflow-consolidated/chargebacks/"],
    }
    ConsolidationConsumer("consolidation", ConsolidationConsumerArgs(**args))  # type: ignore[typeddict-item]


# Component type → how to add it to the dev program until `__main__.py` builds it.
PENDING_COMPONENTS: dict[str, Callable[[CommonArgs], None]] = {
    "orderflow:index:PremiumOrderPipe": _premium,
    "orderflow:index:LateDataReconciler": _late_data,
    "orderflow:index:ConsolidationConsumer": _consolidation,
}


def harness() -> Any:
    """A fresh `tests/pulumi_harness.PulumiHarness` (fake provider state, no AWS).

    Imported by name because `tests/` is on sys.path only under pytest: mypy, run on
    `policy tests/policy` alone, could not follow a static import (Stack and Recorded
    come from `emulator.program`, where the harness gets them too).
    """
    return importlib.import_module("pulumi_harness").PulumiHarness()


@functools.cache
def dev_stack() -> Stack:
    """The dev stack with the emulator's settings (`make demo`'s stack: all four pipelines)."""
    stack: Stack = harness().run(
        lambda: runpy.run_path(str(ROOT / "__main__.py")), stack_settings(ROOT, "dev")
    )
    return stack


def missing_components(stack: Stack) -> list[str]:
    return [typ for typ in PENDING_COMPONENTS if not stack.of_type(typ)]


@functools.cache
def checked_stack() -> Stack:
    """The dev stack, completed with the components it does not build yet."""
    missing = missing_components(dev_stack())
    if not missing:
        return dev_stack()
    warnings.warn(
        f"the dev stack does not build {missing} yet: the guardrail tests add them with "
        "placeholder settings",
        stacklevel=2,
    )

    def program() -> None:
        program_globals = runpy.run_path(str(ROOT / "__main__.py"))
        common = program_globals.get("common")
        if not isinstance(common, dict):  # the program renamed its shared settings
            common = CommonArgs()
        for component in missing:
            PENDING_COMPONENTS[component](CommonArgs(**common))

    stack: Stack = harness().run(program, stack_config(ROOT, "dev"))
    return stack


def stack_resources(stack: Stack) -> list[StackResource]:
    """Every resource as a stack policy sees it: outputs (inputs plus what AWS assigns)."""
    return [StackResource(r.type, r.urn, r.name, r.state) for r in stack]


def examined_by(rule: ResourceRule | StackRule, stack: Stack) -> list[Recorded]:
    """The resources a rule judges in `stack` (a rule judging none proves nothing)."""
    if isinstance(rule, ResourceRule):
        return [r for r in stack if rule.applies_to(r.type)]
    return [r for r in stack if r.type in rule.subject_types]


@dataclass(frozen=True)
class KnownFinding:
    """A violation the stack has today, owned by someone else; fails the test once fixed."""

    rule: str
    resource_type: str
    message_part: str
    reason: str

    def matches(self, rule: str, resource_type: str, message: str) -> bool:
        return (rule, resource_type) == (self.rule, self.resource_type) and (
            self.message_part in message
        )


# Findings in the components that a fix is pending for: each must still occur (a test
# fails once it is fixed, so the entry is removed with the fix).
KNOWN_FINDINGS: tuple[KnownFinding, ...] = ()


def known_finding(rule: str, resource_type: str, message: str) -> KnownFinding | None:
    return next((k for k in KNOWN_FINDINGS if k.matches(rule, resource_type, message)), None)
