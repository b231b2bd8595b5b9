"""Every policy document of the dev stack through parliament, with no findings.

The one reasoned suppression: a KMS key policy's `Resource` can only be `"*"` (it means
"this key"), which parliament, reading it as an identity policy, reports as RESOURCE_STAR.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from parliament import analyze_policy_string
from pulumi_harness import PulumiHarness, Stack

ROOT = Path(__file__).resolve().parents[2]
POLICY_INPUTS = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:kms/key:Key": "policy",
}


@pytest.fixture(scope="module")
def dev_stack(pulumi_harness: PulumiHarness) -> Stack:
    return pulumi_harness.run_stack_program(ROOT, "dev")


def test_parliament_finds_nothing_in_any_policy(dev_stack: Stack) -> None:
    checked = 0
    for typ, key in POLICY_INPUTS.items():
        for resource in dev_stack.of_type(typ):
            findings = analyze_policy_string(resource.inputs[key]).findings
            issues = [(f.issue, f.detail) for f in findings]
            if typ == "aws:kms/key:Key":
                issues = [i for i in issues if i[0] != "RESOURCE_STAR"]
            assert issues == [], (resource.name, issues)
            checked += 1
    assert checked >= 10
