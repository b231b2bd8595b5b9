"""Evaluate identity and resource policies the way AWS combines them (same account).

Action and resource matching is moto's evaluator
(`moto.iam.access_control.IAMPolicy.is_action_permitted`). Two things it does not do are
done here first: principals (moto only understands `{"AWS": ...}`, not service
principals such as `events.amazonaws.com`) and conditions (moto turns an unmet
condition into a deny, even on an Allow statement). Each statement is checked for its
principal and condition against the request; the ones that apply are passed to moto
without those elements. Actions are compared case-insensitively, as IAM does.

Decision: an explicit Deny in any policy wins; otherwise an Allow in an identity policy
or in the resource policy (naming this principal) is needed.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult


class Decision(Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


class UnsupportedPolicyError(RuntimeError):
    """A policy uses a condition operator the emulator cannot evaluate faithfully."""


@dataclass(frozen=True)
class Principal:
    """Who makes a call: an IAM role (Lambda, Step Functions, rule targets) or a service.

    `source_arn` is the resource a service acts for (the rule, for EventBridge), which
    resource policies check with `aws:SourceArn`.
    """

    arn: str
    service: str | None = None
    source_arn: str | None = None

    @classmethod
    def role(cls, role_arn: str) -> Principal:
        return cls(arn=role_arn)

    @classmethod
    def for_service(cls, service: str, source_arn: str) -> Principal:
        return cls(arn=service, service=service, source_arn=source_arn)

    @property
    def account(self) -> str:
        if self.service is not None:
            return (self.source_arn or "::::").split(":")[4]
        return self.arn.split(":")[4]

    def context(self) -> dict[str, str]:
        """Global condition keys AWS sets for a request from this principal (lower-cased)."""
        values = {"aws:securetransport": "true", "aws:sourceaccount": self.account}
        if self.service is None:
            values["aws:principalarn"] = self.arn
            values["aws:principalaccount"] = self.account
        if self.source_arn is not None:
            values["aws:sourcearn"] = self.source_arn
        return values


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


_STRING_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda actual, expected: actual == expected,
    "stringequalsignorecase": lambda actual, expected: actual.lower() == expected.lower(),
    "stringlike": fnmatch.fnmatchcase,
    "arnequals": lambda actual, expected: actual == expected,
    "arnlike": fnmatch.fnmatchcase,
    "bool": lambda actual, expected: actual.lower() == str(expected).lower(),
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


def condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    """Every operator block must hold; within one, any listed value may match (OR)."""
    for raw_operator, keys in condition.items():
        operator = raw_operator.lower()
        if_exists = operator.endswith("ifexists")
        operator = operator.removesuffix("ifexists")
        negated = operator in _NEGATED
        compare = _STRING_OPERATORS.get(_NEGATED.get(operator, operator))
        if compare is None or ":" in operator:
            raise UnsupportedPolicyError(
                f"condition operator {raw_operator!r} is not evaluated by the emulator"
            )
        for key, expected in keys.items():
            actual = context.get(key.lower())
            if actual is None:
                if not (if_exists or negated):
                    return False
                continue
            matched = any(compare(actual, str(value)) for value in _as_list(expected))
            if matched == negated:
                return False
    return True


def _principal_matches(element: Any, principal: Principal, effect: str) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    if principal.service is not None:
        return principal.service in _as_list(element.get("Service", []))
    names = _as_list(element.get("AWS", []))
    account_root = f"arn:aws:iam::{principal.account}:root"
    # An account principal delegates to the account's identity policies: it never grants
    # by itself, but a Deny naming the account applies to everyone in it.
    return "*" in names or principal.arn in names or (effect == "Deny" and account_root in names)


def _applicable(
    document: str,
    principal: Principal,
    *,
    resource_policy: bool,
    request_context: tuple[tuple[str, str], ...] = (),
) -> str:
    """The statements of `document` that apply to this request, for moto to match.

    Identity policies hold no Principal element; a resource policy's statements apply
    only to the principals they name. `request_context` adds the request's own condition
    keys (`s3:prefix` of a listing) to the principal's global ones.
    """
    context = {**principal.context(), **{k.lower(): v for k, v in request_context}}
    kept = []
    for statement in _as_list(json.loads(document).get("Statement", [])):
        effect = statement.get("Effect", "Allow")
        if resource_policy and not _principal_matches(
            statement.get("Principal"), principal, effect
        ):
            continue
        if "Condition" in statement and not condition_holds(statement["Condition"], context):
            continue
        clean = {k: v for k, v in statement.items() if k not in ("Principal", "Condition", "Sid")}
        for key in ("Action", "NotAction"):
            if key in clean:
                clean[key] = [a.lower() for a in _as_list(clean[key])]
        kept.append(clean)
    return json.dumps({"Version": "2012-10-17", "Statement": kept})


@functools.lru_cache(maxsize=4096)
def _evaluate(
    document: str,
    principal: Principal,
    action: str,
    resource: str,
    resource_policy: bool,
    *,
    request_context: tuple[tuple[str, str], ...] = (),
) -> PermissionResult:
    applicable = _applicable(
        document, principal, resource_policy=resource_policy, request_context=request_context
    )
    return IAMPolicy(applicable).is_action_permitted(action.lower(), resource)


def resource_policy_result(
    document: str,
    principal: Principal,
    action: str,
    resource: str,
    request_context: tuple[tuple[str, str], ...] = (),
) -> PermissionResult:
    """What one resource policy alone says about a request (moto's result type)."""
    return _evaluate(document, principal, action, resource, True, request_context=request_context)


def decide(
    action: str,
    resource: str,
    *,
    principal: Principal,
    identity_policies: Sequence[str],
    resource_policy: str | None,
    request_context: tuple[tuple[str, str], ...] = (),
) -> Decision:
    """Combine the caller's identity policies and the resource's policy for one request."""
    context = request_context
    results = [
        _evaluate(doc, principal, action, resource, False, request_context=context)
        for doc in identity_policies
    ]
    if resource_policy:
        results.append(
            _evaluate(resource_policy, principal, action, resource, True, request_context=context)
        )
    if PermissionResult.DENIED in results:
        return Decision.EXPLICIT_DENY
    if PermissionResult.PERMITTED in results:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY
