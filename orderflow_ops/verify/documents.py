"""The documents `verify` sends to AWS: workflow definitions and policy documents.

Two sources, the same documents:
- the program: the resources `__main__.py` registers (run under the emulator's mocks),
  read from their inputs before anything is deployed;
- a deployed stack: found from its outputs through public read APIs (state machines and
  their roles, the roles of the functions, pipes, rules and schedule they reach, queue,
  topic and bucket policies, and the policies of customer managed keys).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from orderflow.aws_facts import ACCESS_ANALYZER_RESOURCE_TYPES

Kind = Literal["state-machine", "policy"]
IDENTITY = "IDENTITY_POLICY"
RESOURCE = "RESOURCE_POLICY"
_TYPES = ACCESS_ANALYZER_RESOURCE_TYPES.value
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+")


@dataclass(frozen=True)
class Document:
    """One document and how AWS validates it."""

    kind: Kind
    name: str
    """Where it comes from, e.g. `role validation-workflow-role (trust policy)`."""
    text: str
    policy_type: str | None = None
    resource_type: str | None = None
    machine_type: str | None = None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --- from the program ----------------------------------------------------------------------
class Registered(Protocol):
    """A resource the program registered (`emulator.program.Recorded`)."""

    type: str
    name: str
    inputs: dict[str, Any]


_RESOURCE_POLICIES: Mapping[str, tuple[str, str | None]] = {
    "aws:sqs/queuePolicy:QueuePolicy": ("queue policy", None),
    "aws:sqs/queue:Queue": ("queue policy", None),
    "aws:sns/topicPolicy:TopicPolicy": ("topic policy", None),
    "aws:sns/topic:Topic": ("topic policy", None),
    "aws:s3/bucketPolicy:BucketPolicy": ("bucket policy", _TYPES["bucket"]),
    "aws:kms/key:Key": ("key policy", None),
    "aws:kms/keyPolicy:KeyPolicy": ("key policy", None),
    "aws:dynamodb/resourcePolicy:ResourcePolicy": ("table policy", _TYPES["table"]),
}
_IDENTITY_POLICIES: Mapping[str, str] = {
    "aws:iam/rolePolicy:RolePolicy": "inline policy",
    "aws:iam/policy:Policy": "managed policy",
}


def documents_from_stack(resources: Iterable[Registered]) -> list[Document]:
    """Every definition and policy document in the inputs of the registered resources."""
    found: list[Document] = []
    for r in resources:
        if r.type == "aws:sfn/stateMachine:StateMachine":
            found.append(
                Document(
                    "state-machine",
                    f"state machine {r.name}",
                    _text(r.inputs["definition"]),
                    machine_type=str(r.inputs.get("type") or "STANDARD"),
                )
            )
        elif r.type == "aws:iam/role:Role":
            found.append(_trust(f"role {r.name}", r.inputs["assumeRolePolicy"]))
            for inline in r.inputs.get("inlinePolicies") or []:
                if inline.get("policy"):
                    found.append(
                        Document(
                            "policy",
                            f"role {r.name} inline policy {inline.get('name')}",
                            _text(inline["policy"]),
                            IDENTITY,
                        )
                    )
        elif r.type in _IDENTITY_POLICIES and r.inputs.get("policy"):
            found.append(
                Document(
                    "policy",
                    f"{_IDENTITY_POLICIES[r.type]} {r.name}",
                    _text(r.inputs["policy"]),
                    IDENTITY,
                )
            )
        elif r.type in _RESOURCE_POLICIES and r.inputs.get("policy"):
            label, resource_type = _RESOURCE_POLICIES[r.type]
            found.append(
                Document(
                    "policy",
                    f"{label} {r.name}",
                    _text(r.inputs["policy"]),
                    RESOURCE,
                    resource_type,
                )
            )
    return found


def _trust(owner: str, policy: Any) -> Document:
    return Document("policy", f"{owner} (trust policy)", _text(policy), RESOURCE, _TYPES["trust"])


# --- from a deployed stack -----------------------------------------------------------------
@dataclass(frozen=True)
class ReadClients:
    """The read-only clients discovery uses (a boto3 session's, or stubbed ones in tests)."""

    sfn: Any
    iam: Any
    lambda_: Any
    sqs: Any
    sns: Any
    s3: Any
    kms: Any
    events: Any
    pipes: Any
    scheduler: Any

    @classmethod
    def using(cls, make: Callable[[str], Any]) -> ReadClients:
        return cls(
            sfn=make("stepfunctions"),
            iam=make("iam"),
            lambda_=make("lambda"),
            sqs=make("sqs"),
            sns=make("sns"),
            s3=make("s3"),
            kms=make("kms"),
            events=make("events"),
            pipes=make("pipes"),
            scheduler=make("scheduler"),
        )


def _outputs_ending(outputs: Mapping[str, Any], suffix: str) -> list[str]:
    return [str(v) for k, v in sorted(outputs.items()) if k.endswith(suffix) and v]


def documents_from_outputs(clients: ReadClients, outputs: Mapping[str, Any]) -> list[Document]:
    """Every definition and policy a deployed stack's outputs lead to (each role once)."""
    found = _Roles(clients).collect(outputs)
    return found + _resource_policies(clients, outputs)


class _Roles:
    """State machines, and the roles of everything the outputs reach (each role once)."""

    def __init__(self, clients: ReadClients) -> None:
        self.clients = clients
        self.roles: dict[str, str] = {}  # role name → what uses it

    def role(self, arn: str | None, user: str) -> None:
        if arn:
            self.roles.setdefault(arn.rsplit("/", 1)[-1], user)

    def function(self, arn: str) -> None:
        config = self.clients.lambda_.get_function_configuration(FunctionName=arn)
        self.role(config.get("Role"), f"function {config.get('FunctionName', arn)}")

    def collect(self, outputs: Mapping[str, Any]) -> list[Document]:
        found = [self.state_machine(arn) for arn in _outputs_ending(outputs, "StateMachineArn")]
        clients = self.clients
        for arn in _outputs_ending(outputs, "RuleArn"):
            bus, name = _rule(arn)
            targets = clients.events.list_targets_by_rule(Rule=name, EventBusName=bus)
            for target in targets["Targets"]:
                self.role(target.get("RoleArn"), f"rule {name}")
        for arn in _outputs_ending(outputs, "PipeArn"):
            pipe = clients.pipes.describe_pipe(Name=arn.rsplit("/", 1)[-1])
            self.role(pipe.get("RoleArn"), f"pipe {pipe['Name']}")
            if _LAMBDA_ARN.match(str(pipe.get("Target", ""))):
                self.function(pipe["Target"])
        for arn in _outputs_ending(outputs, "ScheduleArn"):
            group, name = arn.split(":schedule/", 1)[1].split("/", 1)
            schedule = clients.scheduler.get_schedule(Name=name, GroupName=group)
            self.role(schedule["Target"].get("RoleArn"), f"schedule {name}")
        for uuid in _outputs_ending(outputs, "EventSourceMappingId"):
            self.function(clients.lambda_.get_event_source_mapping(UUID=uuid)["FunctionArn"])
        for name in _outputs_ending(outputs, "FunctionName"):
            self.function(name)
        for name, user in sorted(self.roles.items()):
            found += _role_documents(clients.iam, name, user)
        return found

    def state_machine(self, arn: str) -> Document:
        machine = self.clients.sfn.describe_state_machine(stateMachineArn=arn)
        self.role(machine.get("roleArn"), f"state machine {machine['name']}")
        for target in sorted(set(_lambda_arns(json.loads(machine["definition"])))):
            self.function(target)
        return Document(
            "state-machine",
            f"state machine {machine['name']}",
            machine["definition"],
            machine_type=machine.get("type"),
        )


def _resource_policies(clients: ReadClients, outputs: Mapping[str, Any]) -> list[Document]:
    """Queue, topic and bucket policies, and the policies of the customer keys they use."""
    found: list[Document] = []
    keys: set[str] = set()
    for url in _outputs_ending(outputs, "QueueUrl"):
        attributes = clients.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["Policy", "KmsMasterKeyId"]
        ).get("Attributes", {})
        if attributes.get("Policy"):
            found.append(Document("policy", f"queue policy {url}", attributes["Policy"], RESOURCE))
        if attributes.get("KmsMasterKeyId"):
            keys.add(attributes["KmsMasterKeyId"])
    for arn in _outputs_ending(outputs, "TopicArn"):
        attributes = clients.sns.get_topic_attributes(TopicArn=arn).get("Attributes", {})
        if attributes.get("Policy"):
            found.append(Document("policy", f"topic policy {arn}", attributes["Policy"], RESOURCE))
        if attributes.get("KmsMasterKeyId"):
            keys.add(attributes["KmsMasterKeyId"])
    for bucket in _outputs_ending(outputs, "BucketName"):
        policy = clients.s3.get_bucket_policy(Bucket=bucket)["Policy"]
        found.append(
            Document("policy", f"bucket policy {bucket}", policy, RESOURCE, _TYPES["bucket"])
        )
    for key in sorted(keys):
        found += _key_documents(clients.kms, key)
    return found


def _rule(arn: str) -> tuple[str, str]:
    path = arn.split(":rule/", 1)[1]
    bus, _, name = path.rpartition("/")
    return bus or "default", name


def _lambda_arns(value: Any) -> Iterator[str]:
    """Function ARNs a definition invokes (in `Resource` or a `FunctionName` argument)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _lambda_arns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _lambda_arns(item)
    elif isinstance(value, str):
        match = _LAMBDA_ARN.match(value)
        if match:
            yield match.group(0)


def _role_documents(iam: Any, name: str, user: str) -> list[Document]:
    """A role's trust policy, inline policies and customer managed policies."""
    owner = f"role {name} ({user})"
    found = [_trust(owner, iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])]
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            found.append(
                Document("policy", f"{owner} inline policy {policy}", _text(document), IDENTITY)
            )
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            if ":iam::aws:policy/" in arn:
                continue  # AWS managed: AWS's to validate
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                "Document"
            ]
            found.append(
                Document(
                    "policy",
                    f"{owner} managed policy {attached['PolicyName']}",
                    _text(document),
                    IDENTITY,
                )
            )
    return found


def _key_documents(kms: Any, key: str) -> list[Document]:
    """The policy of a customer managed key (AWS managed keys' policies are AWS's)."""
    metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
    if metadata.get("KeyManager") == "AWS":
        return []
    policy = kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"]
    return [Document("policy", f"key policy {metadata['Arn']}", policy, RESOURCE)]
