"""`verify`: the exact requests sent to AWS's validators, and how their answers are judged.

botocore's Stubber pins every request (operation and parameters, in order) and answers
it; a request the code did not make, or made differently, fails the test.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pulumi_harness import PulumiHarness

from orderflow.aws_facts import ACCESS_ANALYZER_RESOURCE_TYPES
from orderflow_ops.cli import main, parser
from orderflow_ops.verify import Document, documents_from_stack, verify_documents
from orderflow_ops.verify import command as verify_command
from orderflow_ops.verify.checks import API_ERROR

ROOT = Path(__file__).resolve().parents[2]
TRUST = ACCESS_ANALYZER_RESOURCE_TYPES.value["trust"]
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}],
    }
)
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def client(service: str) -> Any:
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


class Stubs:
    """One stubbed client per service; `make` is what the command builds clients with."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}

    def make(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = client(service)
            self.stubbers[service] = Stubber(self.clients[service])
            self.stubbers[service].activate()
        return self.clients[service]

    def __getitem__(self, service: str) -> Stubber:
        self.make(service)
        return self.stubbers[service]

    def assert_all_called(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    made = Stubs()
    yield made
    for stubber in made.stubbers.values():
        stubber.deactivate()


def machine(name: str = "wf", machine_type: str = "EXPRESS") -> Document:
    return Document("state-machine", f"state machine {name}", DEFINITION, machine_type=machine_type)


def finding(finding_type: str, code: str = "CODE") -> dict[str, Any]:
    return {
        "findingDetails": f"{finding_type.lower()} details",
        "findingType": finding_type,
        "issueCode": code,
        "learnMoreLink": "https://docs.aws.amazon.com/",
        "locations": [{"path": [{"value": "Statement"}, {"index": 0}], "span": _span()}],
    }


def _span() -> dict[str, Any]:
    point = {"line": 1, "column": 1, "offset": 0}
    return {"start": point, "end": point}


def test_an_error_diagnostic_fails_and_names_the_document(stubs: Stubs) -> None:
    stubs["stepfunctions"].add_response(
        "validate_state_machine_definition",
        {
            "result": "FAIL",
            "diagnostics": [
                {
                    "severity": "ERROR",
                    "code": "SCHEMA_VALIDATION_FAILED",
                    "message": "unknown field ItemsPointer",
                    "location": "/States/Fanout/ItemReader/ReaderConfig",
                }
            ],
            "truncated": False,
        },
        {"definition": DEFINITION, "severity": "WARNING", "type": "EXPRESS"},
    )
    verdict = verify_documents([machine()], sfn=stubs.make("stepfunctions"), analyzer=None)
    assert not verdict.ok
    (line, summary) = verdict.lines()
    assert "state machine wf: SCHEMA_VALIDATION_FAILED at /States/Fanout/" in line
    assert line.startswith("ERROR")
    assert "FAILED (1 blocking finding(s))" in summary
    stubs.assert_all_called()


def test_a_warning_diagnostic_passes_and_is_printed(stubs: Stubs) -> None:
    stubs["stepfunctions"].add_response(
        "validate_state_machine_definition",
        {
            "result": "OK",
            "diagnostics": [
                {"severity": "WARNING", "code": "NO_DOLLAR", "message": "field without .$"}
            ],
        },
        {"definition": DEFINITION, "severity": "WARNING", "type": "STANDARD"},
    )
    verdict = verify_documents(
        [machine(machine_type="STANDARD")], sfn=stubs.make("stepfunctions"), analyzer=None
    )
    assert verdict.ok
    assert verdict.lines()[0].startswith("WARNING")
    assert verdict.lines()[-1].endswith("1 finding(s): OK")


@pytest.mark.parametrize(
    ("finding_type", "ok"),
    [("SUGGESTION", True), ("WARNING", True), ("SECURITY_WARNING", False), ("ERROR", False)],
)
def test_policy_findings_fail_only_on_error_or_security_warning(
    stubs: Stubs, finding_type: str, ok: bool
) -> None:
    stubs["accessanalyzer"].add_response(
        "validate_policy",
        {"findings": [finding(finding_type)]},
        {"policyDocument": POLICY, "policyType": "IDENTITY_POLICY"},
    )
    document = Document("policy", "role r inline policy p", POLICY, "IDENTITY_POLICY")
    verdict = verify_documents([document], sfn=None, analyzer=stubs.make("accessanalyzer"))
    assert verdict.ok is ok
    assert verdict.findings[0].location == "Statement.0"
    stubs.assert_all_called()


def test_trust_policies_are_validated_as_assume_role_documents_over_every_page(
    stubs: Stubs,
) -> None:
    analyzer = stubs["accessanalyzer"]
    request = {
        "policyDocument": TRUST_POLICY,
        "policyType": "RESOURCE_POLICY",
        "validatePolicyResourceType": "AWS::IAM::AssumeRolePolicyDocument",
    }
    analyzer.add_response(
        "validate_policy", {"findings": [finding("SUGGESTION")], "nextToken": "t1"}, request
    )
    analyzer.add_response(
        "validate_policy",
        {"findings": [finding("SECURITY_WARNING", "PASS_ROLE")]},
        {**request, "nextToken": "t1"},
    )
    document = Document("policy", "role r (trust policy)", TRUST_POLICY, "RESOURCE_POLICY", TRUST)
    verdict = verify_documents([document], sfn=None, analyzer=stubs.make("accessanalyzer"))
    assert [f.code for f in verdict.findings] == ["CODE", "PASS_ROLE"]
    assert not verdict.ok
    stubs.assert_all_called()


def test_an_api_error_is_reported_clearly_fails_and_the_rest_is_still_checked(
    stubs: Stubs,
) -> None:
    stubs["accessanalyzer"].add_client_error(
        "validate_policy",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform access-analyzer:ValidatePolicy",
        http_status_code=403,
    )
    stubs["accessanalyzer"].add_response(
        "validate_policy",
        {"findings": []},
        {"policyDocument": POLICY, "policyType": "IDENTITY_POLICY"},
    )
    documents = [
        Document("policy", "first", POLICY, "IDENTITY_POLICY"),
        Document("policy", "second", POLICY, "IDENTITY_POLICY"),
    ]
    verdict = verify_documents(documents, sfn=None, analyzer=stubs.make("accessanalyzer"))
    assert not verdict.ok
    (error,) = verdict.findings
    assert (error.document, error.severity, error.code) == (
        "first",
        API_ERROR,
        "AccessDeniedException",
    )
    assert "could not be validated: not authorized" in error.message
    assert len(verdict.checked) == 2
    stubs.assert_all_called()


def test_the_program_s_documents_are_every_definition_and_policy_it_builds(
    pulumi_harness: PulumiHarness,
) -> None:
    stack = pulumi_harness.run_stack_program(ROOT, "dev")
    documents = documents_from_stack(stack)
    by_name = {d.name: d for d in documents}
    assert len(by_name) == len(documents)
    for machine_resource in stack.of_type("aws:sfn/stateMachine:StateMachine"):
        found = by_name[f"state machine {machine_resource.name}"]
        assert found.machine_type == machine_resource.inputs.get("type", "STANDARD")
    for role in stack.of_type("aws:iam/role:Role"):
        trust = by_name[f"role {role.name} (trust policy)"]
        assert (trust.policy_type, trust.resource_type) == ("RESOURCE_POLICY", TRUST)
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        assert by_name[f"inline policy {policy.name}"].policy_type == "IDENTITY_POLICY"
    for bucket_policy in stack.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        found = by_name[f"bucket policy {bucket_policy.name}"]
        assert found.resource_type == ACCESS_ANALYZER_RESOURCE_TYPES.value["bucket"]
    queue_policies = stack.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert queue_policies
    for queue_policy in queue_policies:
        found = by_name[f"queue policy {queue_policy.name}"]
        assert (found.policy_type, found.resource_type) == ("RESOURCE_POLICY", None)


ROLE_ARN = "arn:aws:iam::123456789012:role/wf-role"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:wf-step"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:wf"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/wf-dlq"
INVOKING = json.dumps(
    {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FUNCTION_ARN, "Payload.$": "$"},
                "End": True,
            }
        },
    }
)


def _role(stubs: Stubs, name: str, inline: list[str]) -> None:
    iam = stubs["iam"]
    iam.add_response(
        "get_role",
        {
            "Role": {
                "Path": "/",
                "RoleName": name,
                "RoleId": "AROAEXAMPLEEXAMPLE1",
                "Arn": f"arn:aws:iam::123456789012:role/{name}",
                "CreateDate": "2026-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": TRUST_POLICY,
            }
        },
        {"RoleName": name},
    )
    iam.add_response("list_role_policies", {"PolicyNames": inline}, {"RoleName": name})
    for policy in inline:
        iam.add_response(
            "get_role_policy",
            {"RoleName": name, "PolicyName": policy, "PolicyDocument": POLICY},
            {"RoleName": name, "PolicyName": policy},
        )
    iam.add_response("list_attached_role_policies", {"AttachedPolicies": []}, {"RoleName": name})


def test_stack_outputs_lead_to_the_deployed_documents_and_a_finding_fails_the_command(
    stubs: Stubs, tmp_path: Path
) -> None:
    outputs = tmp_path / "out.json"
    outputs.write_text(
        json.dumps({"wfStateMachineArn": MACHINE_ARN, "wfDeadLetterQueueUrl": QUEUE_URL})
    )
    stubs["stepfunctions"].add_response(
        "describe_state_machine",
        {
            "stateMachineArn": MACHINE_ARN,
            "name": "wf",
            "definition": INVOKING,
            "roleArn": ROLE_ARN,
            "type": "EXPRESS",
            "creationDate": "2026-01-01T00:00:00Z",
        },
        {"stateMachineArn": MACHINE_ARN},
    )
    stubs["lambda"].add_response(
        "get_function_configuration",
        {"FunctionName": "wf-step", "Role": "arn:aws:iam::123456789012:role/wf-step-role"},
        {"FunctionName": FUNCTION_ARN},
    )
    _role(stubs, "wf-role", ["states"])
    _role(stubs, "wf-step-role", [])
    stubs["sqs"].add_response(
        "get_queue_attributes",
        {"Attributes": {"Policy": POLICY}},
        {"QueueUrl": QUEUE_URL, "AttributeNames": ["Policy", "KmsMasterKeyId"]},
    )
    stubs["stepfunctions"].add_response(
        "validate_state_machine_definition",
        {"result": "OK", "diagnostics": []},
        {"definition": INVOKING, "severity": "WARNING", "type": "EXPRESS"},
    )
    analyzer = stubs["accessanalyzer"]
    trust = {
        "policyDocument": TRUST_POLICY,
        "policyType": "RESOURCE_POLICY",
        "validatePolicyResourceType": TRUST,
    }
    analyzer.add_response("validate_policy", {"findings": []}, trust)
    analyzer.add_response(
        "validate_policy",
        {"findings": [finding("SECURITY_WARNING", "MISSING_RESOURCE_CONSTRAINT")]},
        {"policyDocument": POLICY, "policyType": "IDENTITY_POLICY"},
    )
    analyzer.add_response("validate_policy", {"findings": [finding("SUGGESTION")]}, trust)
    analyzer.add_response(
        "validate_policy",
        {"findings": []},
        {"policyDocument": POLICY, "policyType": "RESOURCE_POLICY"},
    )
    out = io.StringIO()
    code = main(
        ["verify", "--stack-outputs", str(outputs)], client_maker=lambda _: stubs.make, out=out
    )
    text = out.getvalue()
    assert code == 1, text
    assert (
        "SECURITY_WARNING role wf-role (state machine wf) inline policy states: "
        "MISSING_RESOURCE_CONSTRAINT"
    ) in text
    assert "SUGGESTION       role wf-step-role (function wf-step) (trust policy)" in text
    assert "1 state machine(s), 4 policy document(s) checked" in text
    stubs.assert_all_called()


def test_verify_needs_a_source_of_documents() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify"], client_maker=lambda _: client)
    assert exited.value.code == 2


def test_from_program_checks_the_program_s_documents_and_reports_json(stubs: Stubs) -> None:
    stubs["stepfunctions"].add_response(
        "validate_state_machine_definition",
        {"result": "OK", "diagnostics": []},
        {"definition": DEFINITION, "severity": "WARNING", "type": "EXPRESS"},
    )
    args = parser().parse_args(["verify", "--from-program", "--stack", "dev", "--json"])
    asked: list[str] = []

    def program(stack: str) -> list[Document]:
        asked.append(stack)
        return [machine()]

    out = io.StringIO()
    assert verify_command.run(args, stubs.make, out, from_program=program) == 0
    assert asked == ["dev"]
    report = json.loads(out.getvalue())
    assert report == {"ok": True, "checked": ["state machine wf"], "findings": []}
    stubs.assert_all_called()
