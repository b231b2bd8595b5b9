"""Least privilege: no `*` actions, `*` resources only where AWS allows nothing narrower, and
every grant to an AWS service bound to the resource or account it acts for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow.aws_facts import actions_without_resource_arn

from . import tokens
from .documents import (
    DOCUMENT_TYPES,
    Document,
    actions,
    condition_keys,
    documents,
    is_allow,
    is_every_resource,
    resources,
    service_principals,
    statement_id,
)
from .model import Props, ResourceRule, as_list, has_text

# Actions that take no resource ARN: "*" is the only resource they take (the facts table).
UNSCOPABLE_ACTIONS = frozenset(action.lower() for action in actions_without_resource_arn())

# AWS managed policies that grant `*` actions; attaching one defeats every inline scope.
BROAD_MANAGED_POLICIES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})

# Condition keys that tie a service's use of a grant to one source resource or account.
SOURCE_CONDITION_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
    }
)


def is_key_root_administration(document: Document, statement: Mapping[str, Any]) -> bool:
    """AWS's default key policy statement: the account root may administer the key.

    It delegates access to IAM (policies in the account decide), so `kms:*` here grants no
    principal anything by itself; it is the one reasoned exception to "no `*` actions".
    """
    principal = statement.get("Principal")
    roots = as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []
    return (
        document.kind == "key"
        and is_allow(statement)
        and actions(statement) == ["kms:*"]
        and resources(statement) == ["*"]
        and len(roots) == 1
        and str(roots[0]).startswith("arn:")
        and str(roots[0]).endswith(":root")
    )


def check_wildcard_actions(resource_type: str, props: Props) -> list[str]:
    """No Allow may name an action with `*` (or allow everything but some, via NotAction)."""
    found: list[str] = []
    for document in documents(resource_type, props):
        if document.error is not None:
            found.append(f"{document.label} {document.error}")
        for index, statement in enumerate(document.statements):
            if not is_allow(statement):
                continue  # a Deny with `*` only takes more away
            sid = statement_id(statement, index)
            if "NotAction" in statement:
                found.append(
                    f"{document.label} statement {sid} allows everything but its NotAction: "
                    "list the actions instead"
                )
            starred = [a for a in actions(statement) if "*" in a]
            if starred and not is_key_root_administration(document, statement):
                found.append(
                    f"{document.label} statement {sid} allows {', '.join(starred)}: "
                    "no `*` in actions; name each action the code calls"
                )
    if resource_type == tokens.PERMISSION and "*" in str(props.get("action") or ""):
        found.append(
            f"permission allows {props.get('action')}: name the action (lambda:InvokeFunction)"
        )
    if resource_type in tokens.POLICY_ATTACHMENTS:
        arn = str(props.get("policyArn") or "")
        name = arn.rsplit("/", 1)[-1]
        if ":iam::aws:policy/" in arn and (
            name in BROAD_MANAGED_POLICIES or name.endswith("FullAccess")
        ):
            found.append(
                f"attaches {name}, an AWS managed policy with `*` actions: write a scoped policy"
            )
    return found


def check_wildcard_resources(resource_type: str, props: Props) -> list[str]:
    """An identity policy may use `*` as resource only for actions that cannot be scoped."""
    found: list[str] = []
    for document in documents(resource_type, props):
        if document.kind != "identity":
            continue
        for index, statement in enumerate(document.statements):
            if not is_allow(statement):
                continue
            sid = statement_id(statement, index)
            if "NotResource" in statement:
                found.append(
                    f"{document.label} statement {sid} allows its actions on everything but its "
                    "NotResource: list the resources instead"
                )
            if not any(is_every_resource(r) for r in resources(statement)):
                continue
            scopable = sorted(a for a in actions(statement) if a.lower() not in UNSCOPABLE_ACTIONS)
            if scopable:
                found.append(
                    f"{document.label} statement {sid} grants {', '.join(scopable)} on every "
                    "resource: scope them to ARNs (`*` is only for X-Ray, CloudWatch Logs "
                    "delivery, Lambda's VPC network interfaces and cloudwatch:PutMetricData)"
                )
    return found


def check_service_sources(resource_type: str, props: Props) -> list[str]:
    """A resource or key policy granting an AWS service must say on whose behalf.

    Without aws:SourceArn / aws:SourceAccount, the service acting for another account can
    be steered into using the grant (the confused-deputy problem).
    """
    found: list[str] = []
    for document in documents(resource_type, props):
        if document.kind not in ("resource", "key"):
            continue  # trust policies: see SECURITY.md (not enforced for Lambda's principal)
        for index, statement in enumerate(document.statements):
            services = service_principals(statement)
            if not is_allow(statement) or not services:
                continue
            keys = condition_keys(statement)
            if not keys & SOURCE_CONDITION_KEYS and not any(
                k.startswith("kms:encryptioncontext:") for k in keys
            ):
                found.append(
                    f"{document.label} statement {statement_id(statement, index)} grants "
                    f"{', '.join(services)} without aws:SourceArn or aws:SourceAccount: bind it "
                    "to the resource or account it acts for"
                )
    if resource_type == tokens.PERMISSION:
        principal = str(props.get("principal") or "")
        scoped = has_text(props.get("sourceArn")) or has_text(props.get("sourceAccount"))
        if principal.endswith(".amazonaws.com") and not scoped:
            found.append(
                f"permission lets {principal} invoke the function without source_arn or "
                "source_account: bind it to the resource that invokes it"
            )
    return found


IAM_TYPES = DOCUMENT_TYPES | {tokens.PERMISSION} | tokens.POLICY_ATTACHMENTS

NO_WILDCARD_ACTIONS = ResourceRule(
    name="iam-no-wildcard-actions",
    description=(
        "IAM, resource and key policies allow no action containing `*` (the account-root "
        "`kms:*` statement of a key policy excepted): every grant names what the code calls."
    ),
    resource_types=frozenset(IAM_TYPES),
    check=check_wildcard_actions,
)

WILDCARD_RESOURCES_ONLY_WHERE_UNSCOPABLE = ResourceRule(
    name="iam-wildcard-resources-only-where-unscopable",
    description=(
        "Identity policies use `*` resources only for actions AWS offers no resource-level "
        "permissions for (X-Ray, CloudWatch Logs delivery, VPC network interfaces, PutMetricData)."
    ),
    resource_types=frozenset(DOCUMENT_TYPES),
    check=check_wildcard_resources,
)

SERVICE_GRANTS_NAME_THEIR_SOURCE = ResourceRule(
    name="service-grants-name-their-source",
    description=(
        "Resource and key policies (and Lambda permissions) granting an AWS service carry "
        "aws:SourceArn or aws:SourceAccount, so no other account can use the grant."
    ),
    resource_types=frozenset(DOCUMENT_TYPES | {tokens.PERMISSION}),
    check=check_service_sources,
)
