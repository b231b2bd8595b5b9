"""Helpers for the emulator tests: sales files, permission stripping, small programs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from emulator.program import Transformation

ROOT = Path(__file__).resolve().parents[2]
SEED_FILE = ROOT / "samples" / "validation" / "mock-data.json"

LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: str | list[str], resources: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def sales_records(count: int, *, invalid_every: int = 4) -> list[dict[str, Any]]:
    """`count` seed-shaped records; every `invalid_every`-th one lacks its contact info."""
    records: list[dict[str, Any]] = []
    for index in range(count):
        record: dict[str, Any] = {
            "order-info": {
                "orderId": f"order-{index}",
                "item-id": "101",
                "item-desc": "Mug",
                "qty": "2",
            }
        }
        if index % invalid_every:
            record["contact-info"] = {"name": "Ada Lovelace", "email": "ada@example.com"}
        records.append(record)
    return records


def strip_action(policy_name: str, action: str) -> Transformation:
    """A stack transformation removing `action` from the RolePolicy `policy_name`."""

    def drop(document: str) -> str:
        parsed = json.loads(document)
        for statement in parsed["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
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
