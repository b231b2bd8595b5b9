"""One redriver per pipeline (plus AWS services' own DLQs); `pick` finds the one for a letter."""

from __future__ import annotations

from collections.abc import Sequence

from orderflow_ops.messages import Letter
from orderflow_ops.redrivers.base import Plan, Redriver, Result, skip
from orderflow_ops.redrivers.consolidation import ConsolidationRedriver
from orderflow_ops.redrivers.delivery import DeliveryRedriver
from orderflow_ops.redrivers.late_data import LateDataRedriver
from orderflow_ops.redrivers.premium import PipeTarget, PremiumRedriver
from orderflow_ops.redrivers.validation import ValidationRedriver


def plan_for(letter: Letter, redrivers: Sequence[Redriver], *, force: bool = False) -> Plan:
    """The first redriver that knows the letter plans it; none knowing it is a skip."""
    for redriver in redrivers:
        if redriver.accepts(letter):
            return redriver.plan(letter, force=force)
    return skip(f"no redriver for a {letter.kind.value} letter with source {dict(letter.source)}")


__all__ = [
    "ConsolidationRedriver",
    "DeliveryRedriver",
    "LateDataRedriver",
    "PipeTarget",
    "Plan",
    "PremiumRedriver",
    "Redriver",
    "Result",
    "ValidationRedriver",
    "plan_for",
    "skip",
]
