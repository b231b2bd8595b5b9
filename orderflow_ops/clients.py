"""The boto3 clients a replay uses, made by one factory (a boto3 session or the emulator's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orderflow_ops.redrivers import (
    ConsolidationRedriver,
    DeliveryRedriver,
    LateDataRedriver,
    PipeTarget,
    PremiumRedriver,
    Redriver,
    ValidationRedriver,
)
from orderflow_ops.redrivers.late_data import Via


@dataclass(frozen=True)
class Clients:
    sqs: Any
    lambda_: Any
    sfn: Any
    s3: Any
    events: Any
    pipes: Any
    sns: Any

    @classmethod
    def using(cls, make: Callable[[str], Any]) -> Clients:
        """`make(service)` builds a client: `boto3.Session(...).client`, `Emulator.client`."""
        return cls(
            sqs=make("sqs"),
            lambda_=make("lambda"),
            sfn=make("stepfunctions"),
            s3=make("s3"),
            events=make("events"),
            pipes=make("pipes"),
            sns=make("sns"),
        )


def build_redrivers(
    clients: Clients,
    *,
    pipeline: str | None = None,
    state_machine_arn: str | None = None,
    function: str | None = None,
    event_bus: str = "default",
    via: Via = "workflow",
) -> list[Redriver]:
    """Every redriver, configured for the pipeline the queue belongs to.

    `state_machine_arn` and `function` belong to that pipeline; with no pipeline named,
    they are offered to each redriver that can use them.
    """

    def mine(name: str) -> bool:
        return pipeline is None or pipeline == name

    return [
        ValidationRedriver(
            lambda_client=clients.lambda_,
            sfn=clients.sfn,
            s3=clients.s3,
            state_machine_arn=state_machine_arn if mine("validation") else None,
            validate_function=function if mine("validation") else None,
        ),
        PremiumRedriver(
            lambda_client=clients.lambda_,
            pipes=clients.pipes,
            targets=[PipeTarget(function)] if function and mine("premium") else None,
        ),
        ConsolidationRedriver(
            lambda_client=clients.lambda_,
            consumer_function=function if mine("consolidation") else None,
        ),
        LateDataRedriver(
            sfn=clients.sfn,
            lambda_client=clients.lambda_,
            events=clients.events,
            state_machine_arn=state_machine_arn if mine("late-data") else None,
            event_bus=event_bus,
            via=via,
            reconcile_function=function if mine("late-data") else None,
        ),
        DeliveryRedriver(
            sfn=clients.sfn,
            lambda_client=clients.lambda_,
            events=clients.events,
            sqs=clients.sqs,
            sns=clients.sns,
            function=function,
        ),
    ]
