"""The ValidationPipeline scenario on the emulator: the shared runner's, unchanged.

Feeding and accounting are `orderflow_ops.scenarios.validation`'s, through the
emulator's boto3 clients and the component's outputs: exactly what `smoke` runs on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.scenarios.base import Outcome, Scenario
from orderflow_ops.scenarios.validation import KEY_PREFIX, Upload, count_records
from orderflow_ops.scenarios.validation import ValidationScenario as Runner

if TYPE_CHECKING:
    from emulator.engine import Emulator

__all__ = ["KEY_PREFIX", "Fed", "ValidationScenario", "count_records"]


@dataclass(frozen=True)
class Fed:
    """The upload, and the emulator it went to (accounting reads it through its clients)."""

    emulator: Emulator
    upload: Upload

    @property
    def key(self) -> str:
        return self.upload.key


class ValidationScenario(Scenario):
    name = "validation"
    component_type = "orderflow:index:ValidationPipeline"
    component_name = "validation"
    samples = "samples/validation"
    runner = Runner()

    def feed(self, emulator: Emulator, path: Path) -> Fed:
        return Fed(emulator, self.runner.feed(self.clients(emulator), self.outputs(emulator), path))

    def outcome(self, report: dict[str, Any], fed: Fed) -> Outcome:
        emulator = fed.emulator
        return self.runner.outcome(self.clients(emulator), self.outputs(emulator), fed.upload)
