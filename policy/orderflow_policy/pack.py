"""The thin layer between the pure rules and pulumi-policy.

Resource rules judge a resource's inputs as the engine registers it; stack rules judge the
outputs of the whole stack, with each input's dependencies so they can match a policy to
its bucket even while ids are unknown. A value a rule reads that is still unknown raises
pulumi-policy's UnknownValueError, which the SDK reports as an advisory "can't run during
preview" (the rule then runs for real during `pulumi up`).
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .catalog import RESOURCE_RULES, STACK_RULES
from .model import ResourceRule, StackResource, StackRule

PACK_NAME = "orderflow"


def resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.validate(args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(
                type=r.resource_type,
                urn=r.urn,
                name=r.name,
                props=r.props,
                property_dependencies={
                    prop: tuple(d.urn for d in dependencies)
                    for prop, dependencies in r.property_dependencies.items()
                },
            )
            for r in args.resources
        ]
        for violation in rule.validate(resources):
            report_violation(violation.message, violation.urn)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def orderflow_policies() -> list[Policy]:
    """Every orderflow rule as a MANDATORY pulumi-policy policy."""
    return [
        *(resource_policy(rule) for rule in RESOURCE_RULES),
        *(stack_policy(rule) for rule in STACK_RULES),
    ]
