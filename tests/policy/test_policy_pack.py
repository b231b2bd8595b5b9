"""The pulumi-policy wiring, as the CLI would drive it, without the CLI.

Constructing a PolicyPack starts a gRPC server and blocks until interrupted, so
`policy/__main__.py` runs here with the server stubbed and the wait interrupted the way
pulumi-policy itself handles it (KeyboardInterrupt). The analyzer it would have served is
kept and asked what the CLI asks: which policies exist (GetAnalyzerInfo), and what each
resource (Analyze, inputs) and the whole stack (AnalyzeStack, outputs) violate.
"""

from __future__ import annotations

import io
import json
import runpy
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import pulumi_policy.policy as sdk
import pytest
from guardrails_support import POLICY_DIR, known_finding
from orderflow_policy import RESOURCE_RULES, RULE_NAMES
from orderflow_policy import tokens as t
from pulumi.runtime import proto
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from emulator.program import Recorded, Stack

RESOURCE_POLICIES = {rule.name for rule in RESOURCE_RULES}


@pytest.fixture(scope="module")
def analyzer() -> Any:
    """The analyzer `policy/__main__.py` builds, captured instead of served."""
    captured: dict[str, Any] = {}
    port_output = io.BytesIO()

    class StubServer:
        def add_insecure_port(self, address: str) -> int:
            assert address == "127.0.0.1:0"
            return 0

        def start(self) -> None:
            captured["started"] = True

        def stop(self, grace: float | None) -> None:
            captured["stopped"] = True

    def register(servicer: Any, server: StubServer) -> None:
        captured["servicer"] = servicer

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt  # PolicyPack stops serving on ^C and returns

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sdk, "grpc", SimpleNamespace(server=lambda *_, **__: StubServer()))
        patch.setattr(
            sdk, "analyzer_pb2_grpc", SimpleNamespace(add_AnalyzerServicer_to_server=register)
        )
        patch.setattr(sdk, "time", SimpleNamespace(sleep=interrupt))
        patch.setattr(sdk, "sys", SimpleNamespace(stdout=SimpleNamespace(buffer=port_output)))
        runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    assert captured.get("started")
    assert captured.get("stopped")
    assert port_output.getvalue() == b"0\n"  # the handshake line the CLI reads
    return captured["servicer"]


def struct(props: Mapping[str, Any]) -> dict[str, Any]:
    """Props as the engine sends them, a protobuf Struct (assets, read by no rule, as text)."""
    plain: dict[str, Any] = json.loads(json.dumps(props, default=repr))
    return plain


def analyze(analyzer: Any, resource: Recorded, inputs: Mapping[str, Any] | None = None) -> Any:
    request = proto.AnalyzeRequest(
        type=resource.type,
        properties=struct(resource.inputs if inputs is None else inputs),
        urn=resource.urn,
        name=resource.name,
    )
    return analyzer.Analyze(request, None)


def stack_request(resources: Iterable[Recorded]) -> Any:
    return proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type, properties=struct(r.state), urn=r.urn, name=r.name, parent=r.parent
            )
            for r in resources
        ]
    )


def unexpected(diagnostics: Iterable[Any], types: Mapping[str, str]) -> list[tuple[str, str]]:
    return [
        (d.policyName, d.message)
        for d in diagnostics
        if not known_finding(d.policyName, types.get(d.urn, ""), d.message)
    ]


def test_the_pack_registers_every_rule_as_mandatory(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(None, None)
    assert info.name == "orderflow"
    assert [p.name for p in info.policies] == list(RULE_NAMES)
    for policy in info.policies:
        assert policy.enforcementLevel == proto.MANDATORY, policy.name
        assert policy.description
        expected = (
            proto.PolicyType.POLICY_TYPE_RESOURCE
            if policy.name in RESOURCE_POLICIES
            else proto.PolicyType.POLICY_TYPE_STACK
        )
        assert policy.policy_type == expected, policy.name


def test_every_recorded_resource_passes_through_the_analyzer(
    analyzer: Any, checked_stack: Stack
) -> None:
    found: list[tuple[str, str]] = []
    for resource in checked_stack:
        response = analyze(analyzer, resource)
        found += [
            (d.policyName, d.message)
            for d in response.diagnostics
            if not known_finding(d.policyName, resource.type, d.message)
        ]
    assert found == []


def test_a_broken_resource_is_a_mandatory_violation(analyzer: Any, checked_stack: Stack) -> None:
    queue = checked_stack.of_type(t.QUEUE)[0]
    inputs = {k: v for k, v in queue.inputs.items() if k != "sqsManagedSseEnabled"}
    (diagnostic,) = analyze(analyzer, queue, inputs).diagnostics
    assert diagnostic.policyName == "sqs-queue-encrypted"
    assert diagnostic.policyPackName == "orderflow"
    assert diagnostic.enforcementLevel == proto.MANDATORY
    assert "queue is not encrypted at rest" in diagnostic.message


def test_unknown_values_in_a_preview_are_advisory_not_violations(
    analyzer: Any, checked_stack: Stack
) -> None:
    policy = checked_stack.of_type(t.ROLE_POLICY)[0]
    response = analyze(analyzer, policy, {**policy.inputs, "policy": UNKNOWN_STRING_VALUE})
    assert response.diagnostics
    for diagnostic in response.diagnostics:
        assert diagnostic.enforcementLevel == proto.ADVISORY
        assert "can't run policy" in diagnostic.message
        assert "during preview" in diagnostic.message


def test_the_stack_passes_the_stack_policies(analyzer: Any, checked_stack: Stack) -> None:
    response = analyzer.AnalyzeStack(stack_request(checked_stack), None)
    assert unexpected(response.diagnostics, {r.urn: r.type for r in checked_stack}) == []


def test_a_missing_alarm_is_reported_against_its_queue(analyzer: Any, checked_stack: Stack) -> None:
    queue = checked_stack.of_type(t.QUEUE)[0]
    alarmed = [
        r
        for r in checked_stack.of_type(t.METRIC_ALARM)
        if r.inputs.get("dimensions", {}).get("QueueName") == queue.state["name"]
    ]
    assert alarmed
    rest = [r for r in checked_stack if r not in alarmed]
    response = analyzer.AnalyzeStack(stack_request(rest), None)
    assert [(d.policyName, d.urn) for d in response.diagnostics] == [
        ("dead-letter-queues-alarmed", queue.urn)
    ]
    (diagnostic,) = response.diagnostics
    assert diagnostic.enforcementLevel == proto.MANDATORY
    assert f"queue {queue.name} has no alarm" in diagnostic.message


def test_stack_policies_follow_dependencies_while_ids_are_unknown(analyzer: Any) -> None:
    """A new bucket's id is unknown in a preview; its public access block still counts."""
    bucket_urn = "urn:pulumi:dev::orderflow::aws:s3/bucket:Bucket::b"
    flags = dict.fromkeys(
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
    )

    def request(dependencies: dict[str, Any]) -> Any:
        return proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(
                    type=t.BUCKET,
                    properties=struct({"bucket": "b-1a2b3c4"}),
                    urn=bucket_urn,
                    name="b",
                ),
                proto.AnalyzerResource(
                    type=t.BUCKET_PUBLIC_ACCESS_BLOCK,
                    properties=struct({**flags, "bucket": UNKNOWN_STRING_VALUE}),
                    urn=bucket_urn + "-block",
                    name="b-block",
                    propertyDependencies=dependencies,
                ),
            ]
        )

    def about_public_access(response: Any) -> list[Any]:
        return [d for d in response.diagnostics if d.policyName == "s3-public-access-blocked"]

    known = {"bucket": proto.AnalyzerPropertyDependencies(urns=[bucket_urn])}
    assert about_public_access(analyzer.AnalyzeStack(request(known), None)) == []
    (unknown,) = about_public_access(analyzer.AnalyzeStack(request({}), None))
    assert unknown.enforcementLevel == proto.ADVISORY
    assert "can't run policy" in unknown.message
