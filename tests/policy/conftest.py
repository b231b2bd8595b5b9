"""The guardrail tests import the policy pack's rules the way the Pulumi CLI does: from policy/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from emulator.program import Stack

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))


@pytest.fixture(scope="session")
def checked_stack() -> Stack:
    """The dev stack, plus the components it does not build yet (see guardrails_support)."""
    from guardrails_support import checked_stack as build

    return build()
