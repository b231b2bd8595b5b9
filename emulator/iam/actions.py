"""Which IAM actions on which resources one AWS API call needs.

The map is explicit per operation: an operation that is not listed raises
`UnmappedOperationError` instead of being allowed, so code that starts calling a new API
fails in the emulator's tests until someone states what it needs here (the same way it
would fail in AWS without the permission). Operations that need no permission (STS
GetCallerIdentity) map to an empty list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.arns import function_arn, queue_arn_from_url
from emulator.program import ACCOUNT
from orderflow.aws_facts import actions_without_resource_arn


@dataclass(frozen=True)
class Need:
    """One permission a call needs: an IAM action on one resource ARN."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()
    """Request-specific condition keys (e.g. `s3:prefix` of a listing), lower-case names."""


class UnmappedOperationError(RuntimeError):
    """The emulator does not know which permission an operation needs."""


Params = Mapping[str, Any]
Mapper = Callable[[Params, str], list[Need]]

# botocore service name → IAM service prefix, where they differ.
IAM_PREFIX = {"stepfunctions": "states", "dynamodbstreams": "dynamodb", "monitoring": "cloudwatch"}


def _table(name: str, region: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def _s3_object(action: str, versioned_action: str | None = None) -> Mapper:
    def needs(p: Params, region: str) -> list[Need]:
        chosen = versioned_action if versioned_action and p.get("VersionId") else action
        return [Need(chosen, f"arn:aws:s3:::{p['Bucket']}/{p['Key']}")]

    return needs


def _s3_bucket(action: str) -> Mapper:
    return lambda p, region: [Need(action, f"arn:aws:s3:::{p['Bucket']}")]


def _s3_listing(p: Params, region: str) -> list[Need]:
    """ListBucket, with the `s3:prefix`/`s3:delimiter` keys a policy condition may test."""
    keys = (("s3:prefix", "Prefix"), ("s3:delimiter", "Delimiter"))
    context = tuple((key, str(p[param])) for key, param in keys if param in p)
    return [Need("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}", context)]


def _s3_copy(p: Params, region: str) -> list[Need]:
    source = p["CopySource"]
    if isinstance(source, Mapping):
        source_arn = f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
    else:
        path = str(source).lstrip("/").split("?versionId=")
        source_arn = f"arn:aws:s3:::{path[0]}"
        read = "s3:GetObjectVersion" if len(path) > 1 else "s3:GetObject"
    return [Need(read, source_arn), Need("s3:PutObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}")]


def _table_op(action: str) -> Mapper:
    def needs(p: Params, region: str) -> list[Need]:
        arn = _table(p["TableName"], region)
        if p.get("IndexName"):
            arn = f"{arn}/index/{p['IndexName']}"
        return [Need(action, arn)]

    return needs


def _each_table(action: str) -> Mapper:
    return lambda p, region: [Need(action, _table(t, region)) for t in p["RequestItems"]]


_TRANSACT_WRITE = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def _transact_write(p: Params, region: str) -> list[Need]:
    needs = []
    for item in p["TransactItems"]:
        for kind, request in item.items():
            needs.append(Need(_TRANSACT_WRITE[kind], _table(request["TableName"], region)))
    return needs


def _transact_get(p: Params, region: str) -> list[Need]:
    return [
        Need("dynamodb:GetItem", _table(i["Get"]["TableName"], region)) for i in p["TransactItems"]
    ]


def _stream(action: str) -> Mapper:
    return lambda p, region: [Need(action, p["StreamArn"])]


def _stream_records(p: Params, region: str) -> list[Need]:
    """GetRecords names only the iterator; moto's (like AWS's) starts with the stream ARN."""
    iterator = str(p["ShardIterator"])
    stream = iterator.split("|", 1)[0] if iterator.startswith("arn:") else "*"
    return [Need("dynamodb:GetRecords", stream)]


def _queue(action: str) -> Mapper:
    return lambda p, region: [Need(action, queue_arn_from_url(p["QueueUrl"]))]


def _queue_by_name(p: Params, region: str) -> list[Need]:
    owner = p.get("QueueOwnerAWSAccountId") or ACCOUNT
    return [Need("sqs:GetQueueUrl", f"arn:aws:sqs:{region}:{owner}:{p['QueueName']}")]


def _function(action: str) -> Mapper:
    def needs(p: Params, region: str) -> list[Need]:
        arn = function_arn(p["FunctionName"], region)
        if p.get("Qualifier"):
            arn = f"{arn}:{p['Qualifier']}"
        return [Need(action, arn)]

    return needs


def _state_machine(action: str) -> Mapper:
    return lambda p, region: [Need(action, p["stateMachineArn"])]


def _execution(action: str) -> Mapper:
    return lambda p, region: [Need(action, p["executionArn"])]


def _put_events(p: Params, region: str) -> list[Need]:
    buses = {entry.get("EventBusName") or "default" for entry in p["Entries"]}
    return [
        Need(
            "events:PutEvents",
            b if b.startswith("arn:") else f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{b}",
        )
        for b in sorted(buses)
    ]


def _publish(p: Params, region: str) -> list[Need]:
    return [Need("sns:Publish", p.get("TopicArn") or p["TargetArn"])]


def _log_stream(action: str) -> Mapper:
    def needs(p: Params, region: str) -> list[Need]:
        group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{p['logGroupName']}"
        return [Need(action, f"{group}:log-stream:{p['logStreamName']}")]

    return needs


def _kms(action: str) -> Mapper:
    def needs(p: Params, region: str) -> list[Need]:
        key = p.get("KeyId")
        if key is None:
            return [Need(action, "*")]  # Decrypt names the key inside the ciphertext
        if not key.startswith("arn:"):
            name = key if key.startswith("alias/") else f"key/{key}"
            key = f"arn:aws:kms:{region}:{ACCOUNT}:{name}"
        return [Need(action, key)]

    return needs


def _anywhere(service: str, operation: str) -> Mapper:
    """An action AWS defines without a resource ARN (in the facts table): the policy says `*`."""
    action = f"{IAM_PREFIX.get(service, service)}:{operation}"
    if action not in actions_without_resource_arn():
        raise ValueError(f"{action} is not an action without a resource ARN in orderflow.aws_facts")
    return lambda p, region: [Need(action, "*")]


# Operations whose action takes no resource ARN (botocore service, operation).
_WITHOUT_RESOURCE_ARN = (
    ("dynamodbstreams", "ListStreams"),
    ("stepfunctions", "SendTaskSuccess"),
    ("stepfunctions", "SendTaskFailure"),
    ("stepfunctions", "SendTaskHeartbeat"),
    ("cloudwatch", "PutMetricData"),
    ("xray", "PutTraceSegments"),
    ("xray", "PutTelemetryRecords"),
    ("xray", "GetSamplingRules"),
    ("xray", "GetSamplingTargets"),
)


def _parameter(p: Params, region: str) -> list[Need]:
    names = p["Names"] if "Names" in p else [p["Name"]]
    return [
        Need(
            "ssm:GetParameters" if "Names" in p else "ssm:GetParameter",
            f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{n.lstrip('/')}",
        )
        for n in names
    ]


OPERATIONS: dict[tuple[str, str], Mapper] = {
    # S3: object actions on arn:aws:s3:::bucket/key, listing on the bucket.
    ("s3", "GetObject"): _s3_object("s3:GetObject", "s3:GetObjectVersion"),
    ("s3", "HeadObject"): _s3_object("s3:GetObject", "s3:GetObjectVersion"),
    ("s3", "PutObject"): _s3_object("s3:PutObject"),
    ("s3", "DeleteObject"): _s3_object("s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3", "GetObjectTagging"): _s3_object("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    ("s3", "PutObjectTagging"): _s3_object("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    ("s3", "CreateMultipartUpload"): _s3_object("s3:PutObject"),
    ("s3", "UploadPart"): _s3_object("s3:PutObject"),
    ("s3", "CompleteMultipartUpload"): _s3_object("s3:PutObject"),
    ("s3", "AbortMultipartUpload"): _s3_object("s3:AbortMultipartUpload"),
    ("s3", "CopyObject"): _s3_copy,
    ("s3", "ListObjects"): _s3_listing,
    ("s3", "ListObjectsV2"): _s3_listing,
    ("s3", "ListObjectVersions"): _s3_bucket("s3:ListBucketVersions"),
    ("s3", "HeadBucket"): _s3_bucket("s3:ListBucket"),
    ("s3", "GetBucketLocation"): _s3_bucket("s3:GetBucketLocation"),
    # DynamoDB: table (or index) ARNs; batch and transaction calls per table.
    **{
        ("dynamodb", op): _table_op(f"dynamodb:{op}")
        for op in (
            "PutItem",
            "GetItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "Scan",
            "DescribeTable",
        )
    },
    ("dynamodb", "BatchWriteItem"): _each_table("dynamodb:BatchWriteItem"),
    ("dynamodb", "BatchGetItem"): _each_table("dynamodb:BatchGetItem"),
    ("dynamodb", "TransactWriteItems"): _transact_write,
    ("dynamodb", "TransactGetItems"): _transact_get,
    **{
        ("dynamodbstreams", op): _stream(f"dynamodb:{op}")
        for op in ("DescribeStream", "GetShardIterator")
    },
    ("dynamodbstreams", "GetRecords"): _stream_records,
    # SQS: the queue ARN derived from the URL; batch calls need the single-message action.
    ("sqs", "SendMessage"): _queue("sqs:SendMessage"),
    ("sqs", "SendMessageBatch"): _queue("sqs:SendMessage"),
    ("sqs", "ReceiveMessage"): _queue("sqs:ReceiveMessage"),
    ("sqs", "DeleteMessage"): _queue("sqs:DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): _queue("sqs:DeleteMessage"),
    ("sqs", "ChangeMessageVisibility"): _queue("sqs:ChangeMessageVisibility"),
    ("sqs", "ChangeMessageVisibilityBatch"): _queue("sqs:ChangeMessageVisibility"),
    ("sqs", "GetQueueAttributes"): _queue("sqs:GetQueueAttributes"),
    ("sqs", "PurgeQueue"): _queue("sqs:PurgeQueue"),
    ("sqs", "GetQueueUrl"): _queue_by_name,
    # Lambda
    ("lambda", "Invoke"): _function("lambda:InvokeFunction"),
    ("lambda", "GetFunction"): _function("lambda:GetFunction"),
    # Step Functions
    ("stepfunctions", "StartExecution"): _state_machine("states:StartExecution"),
    ("stepfunctions", "StartSyncExecution"): _state_machine("states:StartSyncExecution"),
    ("stepfunctions", "ListExecutions"): _state_machine("states:ListExecutions"),
    ("stepfunctions", "DescribeStateMachine"): _state_machine("states:DescribeStateMachine"),
    ("stepfunctions", "DescribeExecution"): _execution("states:DescribeExecution"),
    ("stepfunctions", "StopExecution"): _execution("states:StopExecution"),
    ("stepfunctions", "GetExecutionHistory"): _execution("states:GetExecutionHistory"),
    # EventBridge, SNS
    ("events", "PutEvents"): _put_events,
    ("sns", "Publish"): _publish,
    ("sns", "PublishBatch"): _publish,
    # Observability: CloudWatch metrics and X-Ray take no resource ARN (below).
    ("logs", "PutLogEvents"): _log_stream("logs:PutLogEvents"),
    ("logs", "CreateLogStream"): _log_stream("logs:CreateLogStream"),
    # KMS, SSM, STS
    ("kms", "Decrypt"): _kms("kms:Decrypt"),
    ("kms", "Encrypt"): _kms("kms:Encrypt"),
    ("kms", "GenerateDataKey"): _kms("kms:GenerateDataKey"),
    ("ssm", "GetParameter"): _parameter,
    ("ssm", "GetParameters"): _parameter,
    ("sts", "GetCallerIdentity"): lambda p, region: [],
    **{(service, op): _anywhere(service, op) for service, op in _WITHOUT_RESOURCE_ARN},
}


def needs_for(service: str, operation: str, params: Params, region: str) -> list[Need]:
    """The permissions `operation` of botocore service `service` needs for `params`."""
    mapper = OPERATIONS.get((service, operation))
    if mapper is None:
        raise UnmappedOperationError(
            f"the emulator does not know which IAM permission {service}:{operation} needs; "
            f"add it to emulator/iam/actions.py"
        )
    return mapper(params, region)
