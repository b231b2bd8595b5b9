"""orderflow's guardrails as pure rules over Pulumi property maps (see `catalog.py`).

`pack.py` turns them into pulumi-policy policies; tests import the rules directly.
"""

from .catalog import RESOURCE_RULES, RULE_NAMES, STACK_RULES
from .model import ResourceRule, StackResource, StackRule, Violation

__all__ = [
    "RESOURCE_RULES",
    "RULE_NAMES",
    "STACK_RULES",
    "ResourceRule",
    "StackResource",
    "StackRule",
    "Violation",
]
