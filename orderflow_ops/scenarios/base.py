"""What a pipeline scenario is, for every place that runs one: on AWS (`smoke`) and on the
embedded emulator (`python -m emulator run`).

A scenario feeds one input to a deployed pipeline and accounts for every record of it,
through boto3 clients and the stack's outputs only: the same code whether AWS or the
emulator is behind the clients. It never rebuilds a resource's name; what it needs is a
stack output (`PipelineOutputs`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from orderflow_ops.stack import OUTPUT_PREFIX, ResolutionError


class ScenarioInputError(ValueError):
    """An input file that is not of the shape its pipeline's scenario documents."""


@dataclass
class Outcome:
    """Where the records of one input ended up, and what does not add up."""

    label: str
    records_in: int
    stored: int
    dead_lettered: int
    reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    """Extra summary lines a pipeline wants shown (e.g. per-pipe counts)."""

    @property
    def settled(self) -> bool:
        """Every record is somewhere, once: nothing more to wait for."""
        return not self.problems and self.stored + self.dead_lettered >= self.records_in

    def lines(self) -> list[str]:
        """The accounting lines every summary prints (emulator `run`/`demo`, `smoke`)."""
        lines = [f"  records in      {self.records_in}"]
        lines.append(f"  stored          {self.stored}")
        lines.append(f"  dead-lettered   {self.dead_lettered}")
        lines += [f"      {reason}: {count}" for reason, count in sorted(self.reasons.items())]
        lines += [f"  {detail}" for detail in self.details]
        return lines


def camel(name: str) -> str:
    """`delivery_dead_letter_queue_url` → `DeliveryDeadLetterQueueUrl`."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


class PipelineOutputs:
    """One pipeline's stack outputs, by the component's output name.

    The stack exports each component output `name` as `<prefix><Name>` (e.g.
    `validation` + `delivery_dead_letter_queue_url` → `validationDeliveryDeadLetterQueueUrl`);
    the emulator builds the same keys from the component's registered outputs.
    """

    def __init__(self, pipeline: str, outputs: Mapping[str, Any]) -> None:
        self.prefix = OUTPUT_PREFIX[pipeline]
        self.outputs = outputs

    @classmethod
    def of_component(cls, pipeline: str, component: Mapping[str, Any]) -> PipelineOutputs:
        """From a component's own outputs (what `register_outputs` gave)."""
        prefix = OUTPUT_PREFIX[pipeline]
        return cls(pipeline, {prefix + camel(k): v for k, v in component.items()})

    def __getitem__(self, name: str) -> str:
        key = self.prefix + camel(name)
        value = self.outputs.get(key)
        if not isinstance(value, str) or not value:
            raise ResolutionError(f"the stack outputs have no {key} (export it from the stack)")
        return value


@dataclass(frozen=True)
class ScenarioClients:
    """The boto3 clients a scenario uses (a session's, or the emulator's moto-backed ones)."""

    s3: Any
    dynamodb: Any
    sqs: Any
    sfn: Any
    events: Any
    scheduler: Any
    wait_seconds: int = 1
    """SQS long-poll wait when reading a queue (0 on the emulator, which has no sampling)."""

    @classmethod
    def using(cls, make: Callable[[str], Any], *, wait_seconds: int = 1) -> ScenarioClients:
        return cls(
            s3=make("s3"),
            dynamodb=make("dynamodb"),
            sqs=make("sqs"),
            sfn=make("stepfunctions"),
            events=make("events"),
            scheduler=make("scheduler"),
            wait_seconds=wait_seconds,
        )


class Scenario(ABC):
    """One pipeline's input format and accounting."""

    name: ClassVar[str]
    """The pipeline's name on the command line (`run <name> ...`, `smoke --pipeline`)."""
    samples: ClassVar[str]
    """Folder under the repository root holding the demo inputs."""

    def demo_inputs(self, root: Path) -> list[Path]:
        return sorted(p for p in (root / self.samples).iterdir() if p.is_file())

    @abstractmethod
    def feed(self, clients: ScenarioClients, outputs: PipelineOutputs, path: Path) -> Any:
        """Put the input into the deployed pipeline; return what `outcome` needs."""

    @abstractmethod
    def outcome(self, clients: ScenarioClients, outputs: PipelineOutputs, fed: Any) -> Outcome:
        """Account for every record of the input, from what the stack holds now."""
