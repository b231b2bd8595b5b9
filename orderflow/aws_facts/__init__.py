"""Every AWS fact orderflow relies on, each with the AWS documentation page it comes from.

Components, the Lambda runtime, the emulator, the policy pack and the bench read their
limits, quotas, required permissions, filter operators, retention values and prices here and
nowhere else: a belief about AWS is written once, next to the page that backs it, so a wrong
belief is fixed in one place and cannot hide behind a second copy that agrees with it.

A fact that could not be confirmed in AWS's documentation says so (`verified=False`, with a
`note`); code relying on it must work whichever way the truth turns out.

This module imports nothing outside the standard library: it is packaged into every Lambda
archive (as `orderflow/aws_facts/`) and imported by code that must not load Pulumi.

Layout: one section per service (DynamoDB, S3, SQS, Lambda, Lambda for MSK, Step Functions,
EventBridge, Scheduler, Pipes, CloudWatch Logs, KMS), then the IAM actions that take no
resource ARN, billing rules and prices. Names read `<SERVICE>_<WHAT>` (`PRICE_<WHAT>` for
prices); an accepted range is a `Bounds`; permissions are tuples of IAM actions, or mappings
from the kind of resource they apply to onto such tuples. `all_facts()` lists every fact, and
`tests/test_aws_facts.py` fails when one lacks its page or another tree restates it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Fact(Generic[T]):
    """One AWS fact: its value, the documentation page it comes from, whether it was confirmed."""

    value: T
    source: str
    verified: bool = True
    note: str = ""


@dataclass(frozen=True)
class Bounds:
    """An inclusive range of integers an API accepts for one parameter."""

    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.low:,}..{self.high:,}"


KIB: Final = 1024
MIB: Final = 1024 * KIB
MILLION: Final = 1_000_000
DAY_SECONDS: Final = 24 * 60 * 60


def _docs(path: str) -> str:
    """A page of AWS's documentation site."""
    return f"https://docs.aws.amazon.com/{path}"


def _authz(service: str) -> str:
    """A service's page in the Service Authorization Reference (actions and resource types)."""
    return _docs(f"service-authorization/latest/reference/list_{service}.html")


def _pricing(service: str) -> str:
    """A service's pricing page (us-east-1 list prices are the ones recorded here)."""
    return f"https://aws.amazon.com/{service}/pricing/"


# --- DynamoDB ---------------------------------------------------------------------------
_DDB_QUOTAS = _docs("amazondynamodb/latest/developerguide/ServiceQuotas.html")
_DDB_TYPES = _docs("amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html")

DYNAMODB_MAX_ITEM_BYTES: Final = Fact(400 * KIB, _DDB_QUOTAS)
DYNAMODB_MAX_NESTING_DEPTH: Final = Fact(32, _DDB_QUOTAS)
DYNAMODB_NUMBER_MAX_DIGITS: Final = Fact(38, _DDB_TYPES)
DYNAMODB_NUMBER_MAX_MAGNITUDE: Final = Fact(
    "9.9999999999999999999999999999999999999E+125", _DDB_TYPES
)
DYNAMODB_NUMBER_MIN_MAGNITUDE: Final = Fact("1E-130", _DDB_TYPES)
DYNAMODB_MAX_PARTITION_KEY_BYTES: Final = Fact(2048, _DDB_QUOTAS)
DYNAMODB_MAX_SORT_KEY_BYTES: Final = Fact(1024, _DDB_QUOTAS)
DYNAMODB_BATCH_WRITE_MAX_ITEMS: Final = Fact(
    25, _docs("amazondynamodb/latest/APIReference/API_BatchWriteItem.html")
)
DYNAMODB_TRANSACT_MAX_ITEMS: Final = Fact(
    100, _docs("amazondynamodb/latest/APIReference/API_TransactWriteItems.html")
)
DYNAMODB_TRANSACT_MAX_BYTES: Final = Fact(
    4 * MIB, _docs("amazondynamodb/latest/APIReference/API_TransactWriteItems.html")
)
DYNAMODB_PARTITION_MAX_WCU_PER_SECOND: Final = Fact(
    1000, _docs("amazondynamodb/latest/developerguide/bp-partition-key-design.html")
)
DYNAMODB_ON_DEMAND_INITIAL_WRU_PER_SECOND: Final = Fact(
    4000, _docs("amazondynamodb/latest/developerguide/on-demand-capacity-mode.html")
)
DYNAMODB_ITEM_SIZE_BYTES: Final = Fact(
    {"number": 1, "digits_per_byte": 2, "bool_or_null": 1, "list_or_map": 3, "element": 1},
    _docs("amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"),
    note="An item is the UTF-8 bytes of its attribute names plus their values: a string its "
    "UTF-8 bytes, a binary its raw bytes, a number 1 byte per two significant digits plus "
    "`number` ('approximately'), a Boolean or null `bool_or_null`, a list or map "
    "`list_or_map` plus its elements, each element `element` more (a map's keys count too).",
)

# --- DynamoDB Streams -----------------------------------------------------------------------
DYNAMODB_STREAM_RETENTION_SECONDS: Final = Fact(
    DAY_SECONDS,
    _docs("amazondynamodb/latest/developerguide/Streams.html"),
    note="Stream records are removed after 24 hours; a record older than that is lost.",
)
DYNAMODB_STREAMS_GET_RECORDS_MAX: Final = Fact(
    1000, _docs("amazondynamodb/latest/APIReference/API_streams_GetRecords.html")
)
DYNAMODB_STREAMS_PER_ITEM_ORDER: Final = Fact(
    True,
    _docs("amazondynamodb/latest/developerguide/Streams.html"),
    note=(
        "Each stream record appears once; for each item, its records appear in the order of "
        "its modifications. Across items there is no order: a stream has several shards, "
        "read concurrently. How records are dealt into shards is not documented; the "
        "emulator keeps an item's records in one virtual shard (by its key), which gives "
        "this order and nothing more."
    ),
)

# --- S3, Glue -------------------------------------------------------------------------------
S3_MAX_KEY_BYTES: Final = Fact(
    1024,
    _docs("AmazonS3/latest/userguide/object-keys.html"),
    note="An object key is at most 1,024 bytes of UTF-8.",
)
GLUE_MAX_JOB_NAME_LENGTH: Final = Fact(255, _docs("glue/latest/webapi/API_CreateJob.html"))

# --- SQS --------------------------------------------------------------------------------
SQS_MAX_MESSAGE_BYTES: Final = Fact(
    256 * KIB,
    _docs("AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"),
    note="A queue's default MaximumMessageSize, which orderflow's queues keep. SendMessage "
    "itself now takes up to 1 MiB on a queue raised to it (SDK docs of SendMessage).",
)
_SQS_SEND_BATCH = _docs("AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html")
SQS_MAX_BATCH_ENTRIES: Final = Fact(
    10,
    _SQS_SEND_BATCH,
    note="SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch.",
)
SQS_MAX_RECEIVE_MESSAGES: Final = Fact(
    10,
    _docs("AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html"),
    note="ReceiveMessage's MaxNumberOfMessages: 1 to 10.",
)
SQS_MAX_RETENTION_SECONDS: Final = Fact(
    14 * DAY_SECONDS,
    _docs("AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"),
    note="MessageRetentionPeriod: 60 seconds to 14 days.",
)
SQS_MAX_BATCH_BYTES: Final = Fact(
    1 * MIB,
    _SQS_SEND_BATCH,
    note="The sum of every message of one SendMessageBatch request ('both 1 MiB 1,048,576 "
    "bytes', AWS's SQS API model as botocore ships it); each message still within its queue's "
    "MaximumMessageSize. It was 256 KiB, as this table said before.",
)

# --- Lambda -------------------------------------------------------------------------------
_LAMBDA_QUOTAS = _docs("lambda/latest/dg/gettingstarted-limits.html")
LAMBDA_SYNC_PAYLOAD_BYTES: Final = Fact(
    6 * MIB, _LAMBDA_QUOTAS, note="Request and response of a synchronous invocation."
)
LAMBDA_ASYNC_PAYLOAD_BYTES: Final = Fact(
    1 * MIB,
    _docs("lambda/latest/dg/API_Invoke.html"),
    note="Invoke: 'For asynchronous invocations, the maximum payload size is 1 MB' (it was "
    "256 KB, which AWS-FACTS.md still says; InvokeAsync keeps 256 KB). Counted as 2**20 bytes "
    "like the 6 MB synchronous limit.",
)
LAMBDA_TIMEOUT_SECONDS: Final = Fact(Bounds(1, 900), _LAMBDA_QUOTAS, note="Function timeout.")
LAMBDA_ONE_VCPU_MEMORY_MB: Final = Fact(
    1769,
    _docs("lambda/latest/dg/configuration-memory.html"),
    note="CPU is allocated in proportion to memory; at 1,769 MB a function has one vCPU.",
)
LAMBDA_XRAY_ACTIONS: Final = Fact(
    ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
    _docs("lambda/latest/dg/services-xray.html"),
)
LAMBDA_VPC_NETWORK_ACTIONS: Final = Fact(
    (
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:UnassignPrivateIpAddresses",
    ),
    _docs("lambda/latest/dg/configuration-vpc.html"),
    note="What AWSLambdaVPCAccessExecutionRole grants a function attached to a VPC, on `*`.",
)

# --- Lambda event source mapping for Amazon MSK -------------------------------------------
_ESM_API = _docs("lambda/latest/api/API_CreateEventSourceMapping.html")
_MSK_PERMISSIONS = _docs("lambda/latest/dg/with-msk-permissions.html")
LAMBDA_ESM_BATCH_SIZE: Final = Fact(Bounds(1, 10_000), _ESM_API, note="Amazon MSK; default 100.")
LAMBDA_ESM_MAX_RETRY_ATTEMPTS: Final = Fact(
    Bounds(-1, 10_000), _ESM_API, note="-1 (the default) retries until the record expires."
)
LAMBDA_ESM_MAX_RECORD_AGE_SECONDS: Final = Fact(
    Bounds(60, 604_800), _ESM_API, note="Or -1 (the default): records never expire."
)
LAMBDA_MSK_DESCRIBE_CLUSTER_ACTION: Final = Fact(
    "kafka:DescribeClusterV2",
    _MSK_PERMISSIONS,
    note="kafka:DescribeCluster also serves provisioned clusters; MSK Serverless needs V2.",
)
LAMBDA_MSK_BOOTSTRAP_ACTION: Final = Fact("kafka:GetBootstrapBrokers", _MSK_PERMISSIONS)
LAMBDA_MSK_NETWORK_ACTIONS: Final = Fact(
    (
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    ),
    _docs("aws-managed-policy/latest/reference/AWSLambdaMSKExecutionRole.html"),
    note="The event source mapping reaches the cluster through interfaces in its VPC, on `*`.",
)
LAMBDA_MSK_IAM_AUTH_ACTIONS: Final = Fact(
    {
        "cluster": ("kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"),
        "topic": ("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"),
        "group": ("kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"),
    },
    _docs("lambda/latest/dg/with-msk-cluster-auth.html"),
    note=(
        "What the execution role of an IAM-authenticated MSK event source mapping needs, keyed "
        "by the MSK resource each action applies to (MSK's kafka-actions.html). Read in the "
        "page's source (section 'IAM role-based authentication', "
        "github.com/awsdocs/aws-lambda-developer-guide, doc_source/with-msk.md at c5f6ee4, "
        "2023-10-30)."
    ),
)
LAMBDA_MSK_BATCHES_IN_FLIGHT_PER_PARTITION: Final = Fact(
    1,
    _docs("lambda/latest/dg/msk-scaling-modes.html"),
    note=(
        "Lambda reads each partition's messages in order (with-msk-process.html) and, to keep "
        "that order, never runs more pollers than the topic has partitions: one batch per "
        "partition at a time, batches of different partitions concurrently (what the "
        "emulator's MSK mapping does when it interleaves)."
    ),
)

# --- Step Functions -----------------------------------------------------------------------
_SFN_QUOTAS = _docs("step-functions/latest/dg/service-quotas.html")

STEP_FUNCTIONS_MAX_PAYLOAD_BYTES: Final = Fact(256 * KIB, _SFN_QUOTAS)
STEP_FUNCTIONS_STANDARD_MAX_HISTORY_EVENTS: Final = Fact(25_000, _SFN_QUOTAS)
STEP_FUNCTIONS_EXPRESS_MAX_SECONDS: Final = Fact(
    300,
    _docs("step-functions/latest/dg/choosing-workflow-type.html"),
    note="Counts every Retry attempt and backoff of every state in the execution.",
)
STEP_FUNCTIONS_SYNC_START_TYPES: Final = Fact(
    ("EXPRESS",),
    _docs("step-functions/latest/apireference/API_StartSyncExecution.html"),
    note=(
        "StartSyncExecution is not available for STANDARD workflows; it answers 200 with "
        "the execution's status and output even when the execution fails."
    ),
)
_SFN_ERRORS = _docs("step-functions/latest/dg/concepts-error-handling.html")
STEP_FUNCTIONS_RETRY_DEFAULTS: Final = Fact(
    {"IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0},
    _SFN_ERRORS,
    note=(
        "A retrier counts its own attempts; the n-th retry (0-based) waits IntervalSeconds x "
        "BackoffRate^n, capped at MaxDelaySeconds when given; JitterStrategy FULL draws the "
        "wait from [0, that value), never more."
    ),
)
STEP_FUNCTIONS_TASK_DEFAULT_TIMEOUT_SECONDS: Final = Fact(
    99_999_999,
    _docs("step-functions/latest/dg/state-task.html"),
    note="A Task without TimeoutSeconds is bounded only by what it calls (e.g. a Lambda timeout).",
)
_SFN_RESULT_WRITER = _docs("step-functions/latest/dg/input-output-resultwriter.html")
STEP_FUNCTIONS_RESULT_WRITER_RESOURCE: Final = Fact(
    "arn:aws:states:::s3:putObject",
    _SFN_RESULT_WRITER,
    note=(
        "Without a ResultWriter a Distributed Map's result is the array of every child's "
        "output, held in state (256 KiB); with one, the children's results go to "
        "<Prefix>/<map run id>/ (one file per status plus manifest.json) and the state's "
        'result is {"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}. The bucket must '
        "be in the state machine's account and Region (else States.ResultWriterFailed)."
    ),
)
STEP_FUNCTIONS_RESULT_WRITER_ACTIONS: Final = Fact(
    ("s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"),
    _SFN_RESULT_WRITER + "#resultwriter-iam-policies",
    verified=False,
    note=(
        "On the objects under the export prefix. The page's IAM section was not readable "
        "here; these four are what AWS CDK's ResultWriter.providePolicyStatements grants. "
        "Granting all four works whether AWS needs each or only PutObject."
    ),
)
STEP_FUNCTIONS_READER_ITEMS_POINTER: Final = Fact(
    "ItemsPointer",
    "https://aws.amazon.com/blogs/compute/"
    "optimizing-nested-json-array-processing-using-aws-step-functions-distributed-map/",
    verified=False,
    note=(
        "An AWS Compute Blog post names an ItemsPointer feature that selects an array nested "
        "in a JSON object read from S3, but the ItemReader page reachable here does not show "
        "the field or where it goes (ReaderConfig?). orderflow does not depend on it: "
        'InspectFile copies a {"orders": [...]} file\'s array to the work bucket and the Map '
        "reads that copy as a bare JSON array."
    ),
)
STEP_FUNCTIONS_STANDARD_MAX_SECONDS: Final = Fact(365 * DAY_SECONDS, _SFN_QUOTAS)
STEP_FUNCTIONS_DISTRIBUTED_MAP_MAX_CONCURRENCY: Final = Fact(
    10_000,
    _docs("step-functions/latest/dg/state-map-distributed.html"),
    note="MaxConcurrency 0 (the default) runs up to this many child executions at once.",
)
STEP_FUNCTIONS_MAX_INPUT_BYTES_PER_BATCH: Final = Fact(
    256 * KIB,
    _docs("step-functions/latest/dg/input-output-itembatcher.html"),
    note="ItemBatcher.MaxInputBytesPerBatch: a batch is one child's input, so the payload quota.",
)
STEP_FUNCTIONS_LOG_DELIVERY_ACTIONS: Final = Fact(
    (
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
    ),
    _docs("step-functions/latest/dg/cw-logs.html"),
    note="What the state machine's role needs to log to CloudWatch Logs, granted on `*`.",
)
STEP_FUNCTIONS_XRAY_ACTIONS: Final = Fact(
    (
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ),
    _docs("step-functions/latest/dg/xray-iam.html"),
)
STEP_FUNCTIONS_DISTRIBUTED_MAP_ACTIONS: Final = Fact(
    {
        "state-machine": ("states:StartExecution",),
        "execution": ("states:DescribeExecution", "states:StopExecution"),
    },
    _docs("step-functions/latest/dg/iam-policies-eg-dist-map.html"),
    note="A Distributed Map starts its children as executions of its own state machine.",
)

STEP_FUNCTIONS_ITEM_READER_UNDOCUMENTED_INPUTS: Final = Fact(
    frozenset({"utf8_bom", "blank_jsonl_line"}),
    _docs("step-functions/latest/dg/input-output-itemreader.html"),
    verified=False,
    note=(
        "What an s3:getObject ItemReader does with a JSON or JSON Lines file starting with "
        "a UTF-8 byte-order mark, or a JSON Lines file holding a blank line, is not on the "
        "ItemReader page reachable here (a BOM is not JSON whitespace; JSON Lines makes "
        "every line a value). Both are assumed to fail the read: the validation pipeline "
        "copies such files, cleaned, before its Map reads them (runtime/validation/exports)."
    ),
)
# --- EventBridge ----------------------------------------------------------------------------
_PATTERN_OPERATORS = _docs("eventbridge/latest/userguide/eb-create-pattern-operators.html")
EVENTBRIDGE_MAX_ENTRY_BYTES: Final = Fact(
    256 * KIB,
    _docs("eventbridge/latest/userguide/eb-putevent-size.html"),
    note="One PutEvents entry; `Detail` must be a JSON object.",
)
EVENTBRIDGE_ENTRY_TIME_BYTES: Final = Fact(
    14,
    _docs("eventbridge/latest/userguide/eb-putevent-size.html"),
    note="An entry's size: this for a `Time` when given, plus the UTF-8 bytes of Source, "
    "DetailType, Detail and each Resource ('The total entry size must be less than 256KB'). "
    "The error AWS answers over it was not read here: the emulator fails the request with "
    "ValidationException 'Total size of the entries in the request is over the limit.'",
)
EVENT_BUS_FILTER_OPERATORS: Final = Fact(
    frozenset(
        {
            "anything-but",
            "cidr",
            "equals-ignore-case",
            "exists",
            "numeric",
            "prefix",
            "suffix",
            "wildcard",
        }
    ),
    _PATTERN_OPERATORS,
)
EVENT_BUS_ANYTHING_BUT_FORMS: Final = Fact(
    frozenset({"equals-ignore-case", "prefix", "suffix", "wildcard"}),
    _PATTERN_OPERATORS,
    note='Operators `anything-but` may wrap on a bus: {"anything-but": {"prefix": "us-"}}.',
)
FILTER_CASE_FOLDING_OPERATORS: Final = Fact(
    frozenset({"prefix", "suffix"}),
    _PATTERN_OPERATORS,
    note='May take {"equals-ignore-case": "..."} instead of a string, on buses and in pipes.',
)
EVENT_BUS_PREFIX_AND_SUFFIX_OF_ONE_FIELD: Final = Fact(
    "wildcard",
    _PATTERN_OPERATORS,
    verified=False,
    note=(
        "The operators page shows prefix, suffix and equals-ignore-case each on its own, and "
        "a wildcard (e.g. dir/*.png) as the way to require a beginning and an end of one "
        "value; no case-insensitive wildcard is listed. So a key under a prefix AND ending "
        "in .json in any case cannot be one rule pattern; the validation rule matches the "
        "prefix and InspectFile checks the suffix ignoring case."
    ),
)
EVENTBRIDGE_SERVICE_PRINCIPAL: Final = Fact(
    "events.amazonaws.com",
    _docs("eventbridge/latest/userguide/eb-rule-dlq.html"),
    note="Sends a rule's undeliverable events to its DLQ: the queue policy allows it, "
    "bound by aws:SourceArn to the rule.",
)
EVENTBRIDGE_STEP_FUNCTIONS_TARGET_ACTIONS: Final = Fact(
    ("states:StartExecution",),
    _docs("eventbridge/latest/userguide/eb-use-identity-based.html"),
    note="A rule starts a state machine as the target's role, which needs this on it.",
)

_TARGET_RETRY = _docs("eventbridge/latest/APIReference/API_RetryPolicy.html")
EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS: Final = Fact(
    Bounds(0, 185), _TARGET_RETRY, note="A rule target's RetryPolicy; the default is 185."
)
EVENTBRIDGE_TARGET_MAX_EVENT_AGE_SECONDS: Final = Fact(
    Bounds(60, DAY_SECONDS), _TARGET_RETRY, note="A rule target's RetryPolicy; default 24 h."
)

# --- EventBridge Scheduler ------------------------------------------------------------------
_SCHEDULER_RETRY = _docs("scheduler/latest/APIReference/API_RetryPolicy.html")
SCHEDULER_MAX_RETRY_ATTEMPTS: Final = Fact(
    Bounds(0, 185), _SCHEDULER_RETRY, note="A schedule's RetryPolicy; the default is 185."
)
SCHEDULER_MAX_EVENT_AGE_SECONDS: Final = Fact(
    Bounds(60, DAY_SECONDS), _SCHEDULER_RETRY, note="A schedule's RetryPolicy; default 24 h."
)
SCHEDULER_STEP_FUNCTIONS_TARGET_ACTIONS: Final = Fact(
    ("states:StartExecution",),
    _docs("scheduler/latest/UserGuide/setting-up.html"),
    note="The schedule's execution role starts the state machine it targets.",
)
SCHEDULER_SCHEDULE_ARN_PREFIX: Final = Fact(
    ":schedule/",
    _docs("scheduler/latest/APIReference/API_ScheduleSummary.html"),
    note=(
        "A schedule's ARN is arn:<partition>:scheduler:<region>:<account>:schedule/<group>/"
        "<name>; group and name take only [0-9a-zA-Z-_.], so neither holds a slash."
    ),
)
SCHEDULER_DEAD_LETTER_ACTIONS: Final = Fact(
    ("sqs:SendMessage",),
    _docs("scheduler/latest/UserGuide/configuring-schedule-dlq.html"),
    note="Scheduler sends to a schedule's DLQ as its execution role, not as a service "
    "principal: the role needs this on the queue (and the queue's key, if encrypted).",
)

# --- EventBridge Pipes ------------------------------------------------------------------------
_PIPE_DDB = _docs("eventbridge/latest/pipes-reference/API_PipeSourceDynamoDBStreamParameters.html")
PIPES_STREAM_BATCH_SIZE: Final = Fact(Bounds(1, 10_000), _PIPE_DDB)
PIPES_STREAM_BATCHING_WINDOW_SECONDS: Final = Fact(Bounds(0, 300), _PIPE_DDB)
PIPES_STREAM_MAX_RETRY_ATTEMPTS: Final = Fact(
    Bounds(-1, 10_000), _PIPE_DDB, note="-1 (the default) retries until the record expires."
)
PIPES_STREAM_MAX_RECORD_AGE_SECONDS: Final = Fact(
    Bounds(-1, 604_800), _PIPE_DDB, note="-1 (the default): records never expire."
)
PIPES_STREAM_PARALLELIZATION_FACTOR: Final = Fact(Bounds(1, 10), _PIPE_DDB)
PIPES_STREAM_BATCHES_IN_FLIGHT_PER_SHARD: Final = Fact(
    1,
    _PIPE_DDB,
    note=(
        "ParallelizationFactor, 'the number of batches to process concurrently from each "
        "shard', defaults to 1: one batch per shard at a time, batches of different shards "
        "concurrently. Pipes keep the stream's record order towards the target "
        "(eventbridge/latest/userguide/eb-pipes-dynamodb.html). The emulator's pipe runs "
        "one batch per virtual shard whatever the factor (orderflow's pipes use 1)."
    ),
)
PIPES_STREAM_STARTING_POSITIONS: Final = Fact(("TRIM_HORIZON", "LATEST"), _PIPE_DDB)
PIPES_MAX_FILTERS: Final = Fact(
    5,
    _docs("eventbridge/latest/userguide/eb-pipes-event-filtering.html"),
    note="A pipe's filters are ORed.",
)
PIPES_FILTER_OPERATORS: Final = Fact(
    frozenset({"anything-but", "equals-ignore-case", "exists", "numeric", "prefix", "suffix"}),
    _PATTERN_OPERATORS,
    note="The operators table's 'Pipe support' column: no `wildcard`; see PIPES_ACCEPT_CIDR.",
)
PIPES_ANYTHING_BUT_FORMS: Final = Fact(
    frozenset[str](),
    _PATTERN_OPERATORS,
    note="In a pipe `anything-but` takes plain values only (a string, number or list).",
)
PIPES_ACCEPT_CIDR: Final = Fact(
    False,
    _PATTERN_OPERATORS,
    verified=False,
    note="The operators table has no IP-address row; `cidr` is treated as refused in pipes "
    "(the stricter reading). orderflow's filters use no `cidr`, so either answer works.",
)


def pipes_filter_operators() -> frozenset[str]:
    """The operators a pipe's filter may use: the confirmed ones, `cidr` if pipes take it."""
    cidr = frozenset({"cidr"}) if PIPES_ACCEPT_CIDR.value else frozenset()
    return PIPES_FILTER_OPERATORS.value | cidr


PIPES_DYNAMODB_SOURCE_ACTIONS: Final = Fact(
    {
        "stream": ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"),
        "*": ("dynamodb:ListStreams",),
    },
    _docs("eventbridge/latest/userguide/eb-pipes-permissions.html"),
    note="The pipe's role reads the stream with these (and needs sqs:SendMessage on its DLQ).",
)

# --- CloudWatch Logs --------------------------------------------------------------------
CLOUDWATCH_LOGS_VENDED_PREFIX: Final = Fact(
    "/aws/vendedlogs/",
    _docs("step-functions/latest/dg/bp-cwl.html"),
    note=(
        "A service delivering logs (Step Functions; EventBridge Pipes too, per "
        "AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html) adds each log group "
        "to the account's CloudWatch Logs resource policy, limited to 5,120 characters; "
        "groups named under this prefix do not need an entry."
    ),
)
CLOUDWATCH_LOGS_RETENTION_DAYS: Final = Fact(
    frozenset(
        {
            1,
            3,
            5,
            7,
            14,
            30,
            60,
            90,
            120,
            150,
            180,
            365,
            400,
            545,
            731,
            1096,
            1827,
            2192,
            2557,
            2922,
            3288,
            3653,
        }
    ),
    _docs("AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html"),
    note="The only values PutRetentionPolicy accepts; no retention means never expire.",
)

# --- KMS key policies: service principals that must be allowed to use a customer key -----
KMS_LOGS_KEY_POLICY: Final = Fact(
    {
        "principal": "logs.{region}.amazonaws.com",
        "actions": (
            "kms:Decrypt*",
            "kms:Describe*",
            "kms:Encrypt*",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        ),
        "context_key": "kms:EncryptionContext:aws:logs:arn",
    },
    _docs("AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"),
    note="A log group cannot be created with (or associated to) a key whose policy does not "
    "allow the regional CloudWatch Logs principal.",
)
KMS_EVENTBRIDGE_KEY_POLICY: Final = Fact(
    {
        "principal": "events.amazonaws.com",
        "actions": ("kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"),
        "context_key": "kms:EncryptionContext:aws:events:event-bus:arn",
    },
    _docs("eventbridge/latest/userguide/eb-encryption-key-policy.html"),
    note=(
        "For a bus encrypted with the key. A rule target's DLQ encrypted with the key is "
        "sent to by events.amazonaws.com too, which needs kms:Decrypt and kms:GenerateDataKey "
        "(SQS SSE-KMS: every sender needs both)."
    ),
)
KMS_SQS_SENDER_ACTIONS: Final = Fact(
    ("kms:GenerateDataKey", "kms:Decrypt"),
    _docs("AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"),
    note="A producer to an SSE-KMS queue needs both; a consumer needs kms:Decrypt. An AWS "
    "service sending as itself (an EventBridge rule's DLQ) needs them in the key policy; an "
    "IAM policy must name the key's full ARN (checked in the page, 2026-12-05).",
)
KMS_SNS_PUBLISHER_ACTIONS: Final = Fact(
    ("kms:GenerateDataKey", "kms:Decrypt"),
    _docs("sns/latest/dg/sns-key-management.html"),
    note="A publisher (a role, or a service principal through the key policy) needs both. "
    "Read here in AWS's pages for services publishing to encrypted topics (GameLift "
    "'Set up an SNS topic with server-side encryption', End User Messaging SMS access "
    "policies); the SNS page itself was not reachable.",
)
KMS_SNS_CONTEXT_KEY: Final = Fact(
    "kms:EncryptionContext:aws:sns:topicArn",
    _docs("gamelift/latest/flexmatchguide/queue-notification-sns-sse.html"),
    note="The encryption context SNS passes to KMS for an encrypted topic.",
)
KMS_SQS_CONTEXT_KEY: Final = Fact(
    "kms:EncryptionContext:aws:sqs:arn",
    _docs("AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"),
    verified=False,
    note="The encryption context SQS passes to KMS (the queue's ARN), as recalled; the "
    "excerpt read here stops before it. The emulator sets it; orderflow's statements never "
    "test it, so either way nothing depends on it.",
)
KMS_PIPES_KEY_POLICY: Final = Fact(
    {
        "principal": "the pipe's execution role",
        "actions": ("kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"),
        "context_key": "kms:EncryptionContext:aws:pipes:arn",
    },
    _docs("eventbridge/latest/userguide/eb-encryption-pipes-cmkey.html"),
    note="Pipes uses the key as the pipe's execution role (the key policy example names it).",
)
KMS_SCHEDULER_KEY_USE: Final = Fact(
    ("kms:Decrypt",),
    _docs("scheduler/latest/UserGuide/encryption-rest.html"),
    verified=False,
    note=(
        "Scheduler decrypts a schedule's target with the key on each invocation; it sends "
        "to the schedule's DLQ as the execution role, so that role needs the SQS sender "
        "actions on a DLQ encrypted with the key. Which principal decrypts the target "
        "(role or service) was not confirmed here: the role gets kms:Decrypt either way."
    ),
)

# --- IAM: actions that take no resource ARN -------------------------------------------------
# A policy must grant these on `*`; a scoped grant of them is a grant of nothing.
_SAR_UNREAD = (
    "The Service Authorization Reference rows could not be read here (the search excerpts "
    "stop before the table); granted on `*` either way, so only the policy pack's acceptance "
    "of `*` for them rests on this."
)
ACTIONS_WITHOUT_RESOURCE_ARN: Final[Mapping[str, Fact[frozenset[str]]]] = {
    "xray": Fact(
        frozenset(
            {
                "xray:GetSamplingRules",
                "xray:GetSamplingStatisticSummaries",
                "xray:GetSamplingTargets",
                "xray:PutTelemetryRecords",
                "xray:PutTraceSegments",
            }
        ),
        _authz("awsx-ray"),
        verified=False,
        note=_SAR_UNREAD,
    ),
    "logs": Fact(
        frozenset(STEP_FUNCTIONS_LOG_DELIVERY_ACTIONS.value),
        _authz("amazoncloudwatchlogs"),
        verified=False,
        note="Vended log delivery. The delivery actions have no resource type; "
        "PutResourcePolicy, DescribeResourcePolicies and DescribeLogGroups may accept an "
        "account-wide logs ARN (CloudWatch Logs' own example), not checked: `*` works either way.",
    ),
    "dynamodb": Fact(
        frozenset({"dynamodb:ListStreams"}),
        _authz("amazondynamodb"),
        verified=False,
        note="DynamoDB's own Lambda example policy grants ListStreams on `table/<t>/stream/*`, "
        "which suggests it may accept a stream ARN; the reference row could not be read here. "
        "`*` works either way.",
    ),
    "kafka": Fact(
        frozenset({"kafka:GetBootstrapBrokers"}),
        _authz("amazonmanagedstreamingforapachekafka"),
        verified=False,
        note="AWSLambdaMSKExecutionRole grants it on `*`; whether it also accepts a cluster "
        "ARN was not checked: `*` works either way.",
    ),
    "ec2": Fact(
        frozenset(LAMBDA_VPC_NETWORK_ACTIONS.value) | frozenset(LAMBDA_MSK_NETWORK_ACTIONS.value),
        _docs("lambda/latest/dg/configuration-vpc.html"),
        note="Some of these define EC2 resource types, but Lambda manages the interfaces "
        "itself and its documented policies grant them on `*`.",
    ),
    "cloudwatch": Fact(
        frozenset({"cloudwatch:PutMetricData"}),
        _authz("amazoncloudwatch"),
        verified=False,
        note="Scope it with the cloudwatch:namespace condition key instead. " + _SAR_UNREAD,
    ),
    "states": Fact(
        frozenset({"states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"}),
        _authz("awsstepfunctions"),
        verified=False,
        note="A task token names no resource. " + _SAR_UNREAD,
    ),
}


def actions_without_resource_arn() -> frozenset[str]:
    """Every action in `ACTIONS_WITHOUT_RESOURCE_ARN`, as IAM spells it."""
    return frozenset().union(*(fact.value for fact in ACTIONS_WITHOUT_RESOURCE_ARN.values()))


# --- IAM Access Analyzer policy validation (read by `orderflow_ops verify`) ---------------
_VALIDATE_POLICY = _docs("access-analyzer/latest/APIReference/API_ValidatePolicy.html")
ACCESS_ANALYZER_RESOURCE_TYPES: Final = Fact(
    {
        "trust": "AWS::IAM::AssumeRolePolicyDocument",
        "bucket": "AWS::S3::Bucket",
        "table": "AWS::DynamoDB::Table",
    },
    _VALIDATE_POLICY,
    note="validatePolicyResourceType, with policyType RESOURCE_POLICY (a role's trust policy"
    " is validated as a resource policy of this type). Queue, topic and key policies have no"
    " type of their own: the checks that apply to every resource policy run for them.",
)

# --- Billing: how usage turns into billed units (read by emulator.metering, bench) ----------
_DDB_RW = _docs("amazondynamodb/latest/developerguide/read-write-operations.html")
_DDB_GSI_WRITES = _docs(
    "amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes"
)
_SFN_PRICING = "https://aws.amazon.com/step-functions/pricing/"

DYNAMODB_WRITE_UNIT_BYTES: Final = Fact(
    KIB,
    _DDB_RW,
    note="A write of a larger item takes one unit per started KB of the larger of the item "
    "before and after the write (PutItem, UpdateItem, DeleteItem, each BatchWriteItem entry).",
)
DYNAMODB_READ_UNIT_BYTES: Final = Fact(
    4 * KIB, _DDB_RW, note="Eventually consistent reads take half; transactional reads twice."
)
DYNAMODB_TRANSACTION_UNIT_FACTOR: Final = Fact(
    2, _DDB_RW, note="TransactWriteItems/TransactGetItems: two units per unit of item size."
)
DYNAMODB_FAILED_CONDITIONAL_WRITE_BILLED: Final = Fact(
    True,
    _DDB_RW,
    note="A write whose condition fails still consumes write units, sized by the larger of "
    "the existing item and the item the request would write (at least one unit).",
)
DYNAMODB_CANCELLED_TRANSACTION_BILLED: Final = Fact(
    True,
    _docs("amazondynamodb/latest/developerguide/transaction-apis.html"),
    verified=False,
    note="Assumed: a cancelled TransactWriteItems consumes the units of its prepare phase, "
    "metered like failed conditional writes at the transactional factor. Not confirmed in "
    "the text reachable here; a bill computed either way differs only by cancelled "
    "transactions.",
)
DYNAMODB_GSI_WRITES_PER_KEY_CHANGE: Final = Fact(
    2,
    _DDB_GSI_WRITES,
    note="A write that adds an item to a GSI, removes it, or changes its projected "
    "attributes costs one index write (units by the size of the index entry); one that "
    "changes an index key attribute costs two (delete the old entry, put the new one); an "
    "item in the index neither before nor after costs nothing.",
)
STEP_FUNCTIONS_EXPRESS_BILLING_INCREMENT_MS: Final = Fact(
    100, _SFN_PRICING, note="Express duration is rounded up to the nearest 100 ms."
)
STEP_FUNCTIONS_EXPRESS_MEMORY_CHUNK_MB: Final = Fact(
    64,
    _SFN_PRICING,
    note="Express memory is billed in 64 MB chunks (50 MB + definition + payload per "
    "Map/Parallel step): orderflow's Express workflows fit in one chunk.",
)
STEP_FUNCTIONS_TRANSITIONS_PER_DISTRIBUTED_MAP_CHILD: Final = Fact(
    1,
    _docs("step-functions/latest/dg/concepts-transitions.html"),
    note="A Distributed Map is billed one state transition for each child execution it starts.",
)
SQS_BILLING_CHUNK_BYTES: Final = Fact(
    64 * KIB, "https://aws.amazon.com/sqs/pricing/", note="Each 64 KB chunk is one request."
)
SNS_BILLING_CHUNK_BYTES: Final = Fact(
    64 * KIB, "https://aws.amazon.com/sns/pricing/", note="Each 64 KB chunk is one request."
)
PIPES_BILLING_CHUNK_BYTES: Final = Fact(
    64 * KIB,
    "https://aws.amazon.com/eventbridge/pricing/",
    note="Each 64 KB chunk of an event that passed the filters is one request.",
)

# --- Prices (us-east-1, list, no free tier) -------------------------------------------------
PRICE_STANDARD_TRANSITION: Final = Fact(0.025 / 1_000, _SFN_PRICING)
PRICE_EXPRESS_REQUEST: Final = Fact(1.00 / MILLION, _SFN_PRICING)
PRICE_EXPRESS_GB_SECOND: Final = Fact(
    0.00001667, _SFN_PRICING, note="The first 1,000 GB-hours a month; lower tiers beyond."
)
_LAMBDA_PRICING = _pricing("lambda")
PRICE_LAMBDA_REQUEST: Final = Fact(0.20 / MILLION, _LAMBDA_PRICING)
PRICE_LAMBDA_GB_SECOND_ARM64: Final = Fact(0.0000133334, _LAMBDA_PRICING)
PRICE_LAMBDA_GB_SECOND_X86_64: Final = Fact(0.0000166667, _LAMBDA_PRICING)
_DDB_PRICING = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
PRICE_DYNAMODB_WRITE_UNIT: Final = Fact(0.625 / MILLION, _DDB_PRICING)
PRICE_DYNAMODB_READ_UNIT: Final = Fact(0.125 / MILLION, _DDB_PRICING)
PRICE_SQS_REQUEST: Final = Fact(0.40 / MILLION, _pricing("sqs"))
_EVENTBRIDGE_PRICING = _pricing("eventbridge")
PRICE_EVENTBRIDGE_CUSTOM_EVENT: Final = Fact(1.00 / MILLION, _EVENTBRIDGE_PRICING)
PRICE_PIPES_REQUEST: Final = Fact(
    0.40 / MILLION, _EVENTBRIDGE_PRICING, note="Requests after filtering."
)
PRICE_SNS_PUBLISH_REQUEST: Final = Fact(
    0.50 / MILLION,
    "https://aws.amazon.com/sns/pricing/",
    note="Standard topics: $0.50 per million publish requests (64 KB chunks). Deliveries to "
    "SQS and Lambda subscribers are not charged; other protocols are, and are not used.",
)
PRICE_CLOUDWATCH_LOGS_INGESTED_GB: Final = Fact(
    0.50,
    "https://aws.amazon.com/cloudwatch/pricing/",
    note="Standard log class, data ingested (Collect). Priced per GB = 2**30 bytes, AWS's "
    "billing gigabyte.",
)


def all_facts() -> Iterator[tuple[str, Fact[Any]]]:
    """Every fact of this table with its name (`NAME` or `NAME[key]`), for checks over all."""
    for name, value in globals().items():
        if isinstance(value, Fact):
            yield name, value
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(item, Fact):
                    yield f"{name}[{key}]", item
