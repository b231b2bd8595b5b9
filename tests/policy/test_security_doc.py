"""SECURITY.md cannot drift from the stack: its role and grant tables are generated from the
recorded dev stack, every Sid needs a written reason, and every guardrail is named.

After a deliberate permission change, regenerate the tables with
`ORDERFLOW_UPDATE_SECURITY_MD=1 .venv/bin/python -m pytest tests/policy/test_security_doc.py`
and review the diff like code.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from guardrails_support import ROOT
from orderflow_policy import RULE_NAMES
from orderflow_policy import tokens as t
from orderflow_policy.documents import actions, parse
from security_tables import (
    GRANTS_BLOCK,
    ROLES_BLOCK,
    block,
    grants_table,
    justifications,
    replace_block,
    roles_table,
    statement_ids,
)

from emulator.program import Stack

SECURITY_MD = ROOT / "SECURITY.md"
UPDATE = os.environ.get("ORDERFLOW_UPDATE_SECURITY_MD") == "1"


@pytest.mark.parametrize(
    ("markers", "render"),
    [(ROLES_BLOCK, roles_table), (GRANTS_BLOCK, grants_table)],
    ids=["roles", "grants"],
)
def test_generated_tables_match_the_stack(
    markers: tuple[str, str], render: Callable[[Stack], str], checked_stack: Stack
) -> None:
    text = SECURITY_MD.read_text()
    expected = render(checked_stack)
    if UPDATE and block(text, markers) != expected:
        SECURITY_MD.write_text(replace_block(text, markers, expected))
        text = SECURITY_MD.read_text()
    assert block(text, markers) == expected, (
        "SECURITY.md no longer describes the stack's permissions: regenerate with "
        "ORDERFLOW_UPDATE_SECURITY_MD=1 and review the diff"
    )


def test_every_role_is_described(checked_stack: Stack) -> None:
    text = SECURITY_MD.read_text()
    roles = checked_stack.of_type(t.ROLE)
    assert roles
    assert [r.name for r in roles if f"`{r.name}`" not in text] == []


def test_every_sid_has_a_reason_and_no_reason_is_stale(checked_stack: Stack) -> None:
    reasons = justifications(SECURITY_MD.read_text())
    sids = statement_ids(checked_stack)
    assert sorted(sids - set(reasons)) == [], "give these Sids a reason in SECURITY.md"
    assert sorted(set(reasons) - sids) == [], "no statement has these Sids any more"
    assert [sid for sid, why in reasons.items() if len(why) < 30] == []


def test_no_role_may_change_iam_or_assume_other_roles(checked_stack: Stack) -> None:
    """SECURITY.md claims it (privilege escalation); this keeps the claim true."""
    granted = {
        action.lower()
        for policy in checked_stack.of_type(t.ROLE_POLICY)
        for statement in parse("policy", "identity", policy.inputs["policy"]).statements
        for action in actions(statement)
    }
    assert granted
    assert sorted(a for a in granted if a.startswith(("iam:", "sts:", "organizations:"))) == []


def test_every_guardrail_and_the_reporting_process_are_documented() -> None:
    text = SECURITY_MD.read_text()
    assert [name for name in RULE_NAMES if f"`{name}`" not in text] == []
    assert "## Reporting a vulnerability" in text
