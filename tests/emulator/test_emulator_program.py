"""One way to run a Pulumi program, shared by the component harness and the emulator."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from emulator_support import ROOT
from pulumi_harness import PulumiHarness

from emulator.engine import Emulator


def _queue() -> None:
    aws.sqs.Queue("orders-dlq", message_retention_seconds=1_209_600)


def _rename(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    props = {**args.props, "message_retention_seconds": 60}
    return pulumi.ResourceTransformationResult(props, args.opts)


def test_harness_runs_and_emulator_deploys_share_one_session(pulumi_harness: PulumiHarness) -> None:
    before = pulumi_harness.run(_queue)
    with Emulator() as emulator:
        deployed = emulator.deploy_program(_queue)
        url = deployed.output_of("aws:sqs/queue:Queue", "orders-dlq", "url")
        assert emulator.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
    after = pulumi_harness.run(_queue)
    # The harness's fake state both times: its own mocks were back in place.
    assert (
        before.one("aws:sqs/queue:Queue", "orders-dlq").state
        == after.one("aws:sqs/queue:Queue", "orders-dlq").state
    )
    stack = pulumi_harness.run_stack_program(ROOT)
    assert stack.one("orderflow:index:ValidationPipeline", "validation").urn


def test_transformations_apply_to_their_run_only(pulumi_harness: PulumiHarness) -> None:
    with Emulator() as emulator:
        transformed = emulator.deploy_program(_queue, transformations=[_rename])
    assert (
        transformed.one("aws:sqs/queue:Queue", "orders-dlq").inputs["messageRetentionSeconds"] == 60
    )
    plain = pulumi_harness.run(_queue)
    assert (
        plain.one("aws:sqs/queue:Queue", "orders-dlq").inputs["messageRetentionSeconds"]
        == 1_209_600
    )


def test_urns_parents_and_dependencies_are_recorded(pulumi_harness: PulumiHarness) -> None:
    stack = pulumi_harness.run_stack_program(ROOT)
    component = stack.one("orderflow:index:ValidationPipeline", "validation")
    function = stack.one("aws:lambda/function:Function", "validation-validate")
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", "validation-validate-policy")
    assert function.parent == component.urn
    assert policy.urn in function.dependencies
    assert function in stack.descendants_of(component)
    assert stack.by_urn(function.urn) is function
