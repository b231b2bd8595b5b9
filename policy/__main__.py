"""The orderflow policy pack, as the Pulumi CLI runs it: `pulumi preview --policy-pack policy`.

The CLI runs this file with the pack directory on `sys.path`; constructing the PolicyPack
starts the analyzer server and blocks, so nothing may follow it. The rules themselves live in
`orderflow_policy` (pure functions, tested without the CLI). The rules read AWS's facts
(actions without a resource ARN, retention values, retry limits) from `orderflow.aws_facts`,
the table the components use: installed with orderflow, or else this repository's copy.
"""

import sys
from pathlib import Path

try:
    import orderflow.aws_facts  # noqa: F401  (installed with orderflow)
except ModuleNotFoundError:
    sys.path.append(str(Path(__file__).resolve().parent.parent))

from orderflow_policy.pack import PACK_NAME, orderflow_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    PACK_NAME,
    policies=orderflow_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="orderflow guardrails: secure and failure-safe by default, enforced.",
)
