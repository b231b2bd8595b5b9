"""Deploying one pipeline into an emulator, feeding it, and reading what it left behind.

The fault and replay suites deploy each component alone (with the dev stack's settings
from `Pulumi.dev.yaml`, overridable per test module) rather than the whole dev stack:
a deploy then takes a fraction of a second, and one pipeline's suite does not depend on
the others being deployable.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import conservation_tally
import pulumi

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.program import Transformation
from emulator.report import Mark, build_report
from emulator.scenarios import SCENARIOS
from emulator.settings import stack_settings
from orderflow_ops.clients import Clients
from orderflow_ops.scenarios.base import Outcome

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
BUCKET = "aws:s3/bucket:Bucket"


def _validation_program() -> None:
    from components import ValidationPipeline, ValidationPipelineArgs
    from components.settings import CommonArgs
    from components.stack_config import component_args

    config = pulumi.Config("orderflow")
    common = CommonArgs(log_retention_days=14, architecture="arm64", log_level="INFO")
    ValidationPipeline(
        "validation",
        component_args(
            ValidationPipelineArgs, common, config.get_object("validation"), "validation"
        ),
    )


def _component_program(pipeline: str) -> Callable[[], None]:
    def program() -> None:
        import components
        from components.settings import CommonArgs
        from components.stack_config import component_args

        kind, args_type, section = {
            "premium": (components.PremiumOrderPipe, components.PremiumOrderPipeArgs, "premium"),
            "late-data": (
                components.LateDataReconciler,
                components.LateDataReconcilerArgs,
                "lateData",
            ),
            "consolidation": (
                components.ConsolidationConsumer,
                components.ConsolidationConsumerArgs,
                "consolidation",
            ),
        }[pipeline]
        config = pulumi.Config("orderflow")
        common = CommonArgs(log_retention_days=14, architecture="arm64", log_level="INFO")
        kind(pipeline, component_args(args_type, common, config.get_object(section), section))

    return program


PROGRAMS: dict[str, Callable[[], None]] = {
    "validation": _validation_program,
    "premium": _component_program("premium"),
    "late-data": _component_program("late-data"),
    "consolidation": _component_program("consolidation"),
}
SECTIONS = {
    "validation": "orderflow:validation",
    "premium": "orderflow:premium",
    "late-data": "orderflow:lateData",
    "consolidation": "orderflow:consolidation",
}


def dev_config(pipeline: str, **overrides: Any) -> dict[str, Any]:
    """The dev stack's config (with the emulator's settings) plus `overrides` in the section."""
    config = copy.deepcopy(stack_settings(ROOT, "dev"))
    section = dict(config.get(SECTIONS[pipeline]) or {})
    section.update(overrides)
    config[SECTIONS[pipeline]] = section
    return config


@contextmanager
def deployed(
    pipeline: str,
    *,
    transformations: Sequence[Transformation] = (),
    **overrides: Any,
) -> Iterator[Emulator]:
    """An emulator holding just `pipeline`'s component, deployed with the dev settings."""
    with Emulator() as emulator:
        emulator.deploy_program(
            PROGRAMS[pipeline],
            dev_config(pipeline, **overrides),
            transformations=transformations,
        )
        yield emulator


@dataclass(frozen=True)
class Run:
    """One scenario run: the report (`run --json` shape) and the scenario's own outcome."""

    report: dict[str, Any]
    outcome: Any


def run_input(emulator: Emulator, pipeline: str, path: Path) -> Run:
    """Feed one input through the pipeline's scenario, as `python -m emulator run` does."""
    report, outcome = run_scenario(emulator, SCENARIOS[pipeline], path)
    if pipeline in TALLIED_BY_SCENARIO:
        tally_outcome(pipeline, outcome)
    return Run(report, outcome)


# Validation and late-data runs are tallied by `conservation.conserve`, which their tests
# call; premium and consolidation tests rely on the scenario's own accounting.
TALLIED_BY_SCENARIO = frozenset({"premium", "consolidation"})
_DUPLICATE_WORDS = ("twice", "places", "names no record")


def tally_outcome(pipeline: str, outcome: Outcome) -> None:
    """Add a scenario's accounting to the suite's conservation lines.

    A problem naming a record twice, in several places or invented counts as duplicated;
    any other problem is a record that did not end where it should: lost.
    """
    duplicated = sum(any(w in p for w in _DUPLICATE_WORDS) for p in outcome.problems)
    conservation_tally.add(
        pipeline,
        records=outcome.records_in,
        stored=outcome.stored,
        dead_lettered=outcome.dead_lettered,
        lost=len(outcome.problems) - duplicated,
        duplicated=duplicated,
    )


def snapshot(emulator: Emulator, pipeline: str) -> dict[str, Any]:
    """The pipeline's tables and queues right now (nothing consumed)."""
    scenario = SCENARIOS[pipeline]
    return build_report(emulator, pipeline, scenario.component(emulator), Mark.now(emulator))


def output(emulator: Emulator, typ: str, name: str, key: str) -> str:
    value: str = emulator.stack.output_of(typ, name, key)
    return value


def clients(emulator: Emulator) -> Clients:
    """orderflow_ops' clients, moto-backed (the emulator's own, unchecked by IAM)."""
    return Clients.using(emulator.client)


def write(tmp: Path, name: str, content: bytes | str | Any) -> Path:
    """A file named `name` holding bytes, text, or (anything else) its JSON."""
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def sales_record(
    order_id: Any, *, contact: bool = True, desc: str | None = None, **order: Any
) -> dict[str, Any]:
    """A seed-shaped sales record; `contact=False` drops contact-info (a rejected record)."""
    record: dict[str, Any] = {
        "order-info": {"orderId": order_id, "item-id": "101", "qty": "2", **order}
    }
    if desc is not None:
        record["order-info"]["item-desc"] = desc
    if contact:
        record["contact-info"] = {"name": "Ada Lovelace", "email": "ada@example.com"}
    return record


def strip_action(policy_name: str, action: str) -> Transformation:
    """A transformation removing `action` from the RolePolicy `policy_name` (a missing grant)."""

    def drop(document: str) -> str:
        parsed = json.loads(document)
        for statement in parsed["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            statement["Action"] = [a for a in actions if a != action] or ["none:NoAction"]
        return json.dumps(parsed)

    def transformation(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != "aws:iam/rolePolicy:RolePolicy" or args.name != policy_name:
            return None
        props = dict(args.props)
        props["policy"] = pulumi.Output.from_input(props["policy"]).apply(drop)
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transformation


def grant(emulator: Emulator, role_policy: str, action: str, resource: str) -> None:
    """Add `action` on `resource` back to the RolePolicy `role_policy` (the operator's fix)."""
    recorded = emulator.stack.one("aws:iam/rolePolicy:RolePolicy", role_policy)
    document = recorded.policy()
    document["Statement"].append(
        {"Sid": "RestoredGrant", "Effect": "Allow", "Action": action, "Resource": resource}
    )
    emulator.client("iam").put_role_policy(
        RoleName=str(recorded.inputs["role"]),
        PolicyName=str(recorded.state["name"]),
        PolicyDocument=json.dumps(document),
    )


def items_of(report: Mapping[str, Any], table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = report["tables"][table]
    return items
