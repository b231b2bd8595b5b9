"""ValidationPipeline: sales files land in S3, every record is stored or dead-lettered.

S3 (EventBridge notifications) → rule (prefix/suffix, retry, DLQ) → Step Functions
(InspectFile, then a Distributed Map reading the file in batches) → validation Lambda →
valid records to DynamoDB, invalid ones (verbatim, with a reason) to an SQS
dead-letter queue. See `components/validation_workflow.py` for why the workflow is shaped
as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from orderflow.aws_facts import (
    LAMBDA_ONE_VCPU_MEMORY_MB,
    LAMBDA_TIMEOUT_SECONDS,
    STEP_FUNCTIONS_DISTRIBUTED_MAP_ACTIONS,
    STEP_FUNCTIONS_DISTRIBUTED_MAP_MAX_CONCURRENCY,
)

from .bucket import BucketSpec, build_private_bucket
from .dashboard import (
    build_dashboard,
    custom_panel,
    function_panels,
    queue_panel,
    workflow_panel,
)
from .dead_letter_queue import build_dead_letter_queue
from .express_budget import (
    PLACEHOLDER_QUEUE_URL,
    check_express_budget,
    check_task_settings,
    placeholder_arn,
)
from .iam import (
    Statement,
    kms_statements,
)
from .lambda_function import FunctionSpec, build_python_function, invoke_statement
from .map_results import WORK_FILE_DAYS, export_map_results, map_results_statement
from .settings import CommonArgs, reject_conflicts, resolve_common
from .state_machine import build_state_machine, map_run_child_arns
from .table import TableSpec, build_table
from .validation_workflow import (
    DEFAULT_BATCH_RETRY_ATTEMPTS,
    DEFAULT_BATCH_TIMEOUT_SECONDS,
    validation_definition,
)
from .workflow_trigger import build_rule_trigger

DEFAULT_KEY_PREFIX = "incoming/"
DEFAULT_KEY_SUFFIXES = (".json", ".jsonl")
DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_CONCURRENCY = 10
NONCURRENT_VERSION_DAYS = 30
# InspectFile sniffs a file in milliseconds, but copies a {"orders": [...]} file's array
# (`runtime.validation.normalize`, about 10 MB/s on one vCPU): it runs in the Standard
# parent, so it may take Lambda's full 15 minutes (files of several GB).
INSPECT_TIMEOUT_SECONDS = LAMBDA_TIMEOUT_SECONDS.value.high
INSPECT_MEMORY_MB = LAMBDA_ONE_VCPU_MEMORY_MB.value
NORMALIZED_PREFIX = "normalized/"  # runtime.validation.normalize.NORMALIZED_PREFIX


class ValidationPipelineArgs(CommonArgs, total=False):
    """Arguments of a ValidationPipeline; every field is optional."""

    bucket_name: pulumi.Input[str]
    """Bring your own bucket (its encryption, TLS policy, versioning and EventBridge
    notifications are then yours to keep on); default: a new, locked-down bucket."""
    table_name: pulumi.Input[str]
    """Bring your own orders table (partition key `orderId`, string); default: a new one."""
    key_prefix: str
    """Only objects under this prefix are processed (default `incoming/`)."""
    key_suffixes: Sequence[str]
    """Only objects ending with one of these, in any case, are processed (default `.json`,
    `.jsonl`); other keys under the prefix end their execution as `ignored`."""
    batch_size: int
    """Records per validation Lambda invocation (default 1000, at most 10,000)."""
    max_concurrency: int
    """Batches validated at once per file (default 10); bounds DynamoDB write bursts."""
    batch_timeout_seconds: int
    """Timeout of the validation function (default 40). Each batch runs in an Express
    child, which ends after 5 minutes retries included: a timeout and retry count whose
    worst case (timeout x attempts + backoff) cannot fit is refused."""
    batch_retry_attempts: int
    """Retries of a batch whose validation failed or timed out (default 3, then the file
    is dead-lettered), besides up to 2 retries of transient Lambda service errors."""
    deletion_protection: bool
    """Deletion protection of the created table (default true)."""
    force_destroy_bucket: bool
    """Let `pulumi destroy` delete a created bucket that still holds files (default false)."""


class ValidationPipeline(pulumi.ComponentResource):
    """Validates sales files dropped in S3, storing each record or dead-lettering it."""

    bucket_name: pulumi.Output[str]
    """Bucket to upload sales files to (under `key_prefix`)."""
    table_name: pulumi.Output[str]
    """DynamoDB table holding valid records, keyed by `orderId`."""
    dead_letter_queue_url: pulumi.Output[str]
    """Queue of rejected records and files, each with the payload and a reason."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the record dead-letter queue."""
    delivery_dead_letter_queue_arn: pulumi.Output[str]
    """Queue of S3 events the rule could not deliver to the workflow."""
    delivery_dead_letter_queue_url: pulumi.Output[str]
    """URL of the delivery dead-letter queue (for replays and smoke runs)."""
    state_machine_arn: pulumi.Output[str]
    """The validation workflow."""
    rule_arn: pulumi.Output[str]
    """The EventBridge rule matching new files."""

    def __init__(
        self,
        name: str,
        args: ValidationPipelineArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Arguments are checked before anything is registered: a rejected call leaves no trace.
        args = args or ValidationPipelineArgs()
        common = resolve_common(args)
        key_prefix = args.get("key_prefix", DEFAULT_KEY_PREFIX)
        suffixes = list(args.get("key_suffixes", DEFAULT_KEY_SUFFIXES))
        batch_size = args.get("batch_size", DEFAULT_BATCH_SIZE)
        max_concurrency = args.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
        _check_args(key_prefix, suffixes, batch_size, max_concurrency)
        workflow_settings = _workflow_settings(name, args, batch_size, max_concurrency)
        reject_conflicts(
            args, [("bucket_name", "force_destroy_bucket"), ("table_name", "deletion_protection")]
        )
        super().__init__("orderflow:index:ValidationPipeline", name, None, opts)

        bucket_name = (
            pulumi.Output.from_input(args["bucket_name"])
            if "bucket_name" in args
            else build_private_bucket(
                f"{name}-bucket",
                BucketSpec(
                    force_destroy=args.get("force_destroy_bucket", False),
                    eventbridge_notifications=True,
                ),
                common,
                self,
            ).bucket
        )
        bucket_arn = pulumi.Output.concat("arn:aws:s3:::", bucket_name)
        objects_arn = pulumi.Output.concat(bucket_arn, "/", key_prefix, "*")
        table_name, table_arn = (
            (pulumi.Output.from_input(args["table_name"]), _table_arn(args["table_name"]))
            if "table_name" in args
            else _created(
                build_table(
                    f"{name}-orders",
                    TableSpec(
                        hash_key="orderId",
                        deletion_protection=args.get("deletion_protection", True),
                    ),
                    common,
                    self,
                )
            )
        )

        # Work files of the pipeline's own (Map results, normalized inputs): a bucket
        # apart from the intake one, so they never reach the intake rule, with expiry.
        work = build_private_bucket(
            f"{name}-work",
            BucketSpec(force_destroy=True, expiration_days=WORK_FILE_DAYS),
            common,
            self,
        )
        normalized_objects = pulumi.Output.concat(work.arn, "/", NORMALIZED_PREFIX, "*")
        records_dlq = build_dead_letter_queue(
            f"{name}-dlq", purpose="rejected records and files", common=common, parent=self
        )
        kms = kms_statements(common.kms_key_arn)
        read_objects = Statement(
            sid="ReadIncomingFiles",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[objects_arn],
        )
        send_dead_letters = Statement(
            sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[records_dlq.arn]
        )
        inspect = build_python_function(
            f"{name}-inspect",
            FunctionSpec(
                family="validation",
                handler="runtime.validation.handler.inspect_file",
                description="classify a sales file before it is read in batches",
                statements=[
                    read_objects,
                    Statement(
                        # Without ListBucket S3 answers a missing object with 403, not 404,
                        # and a vanished file could not be told from a permission problem.
                        sid="ListIncomingFiles",
                        actions=["s3:ListBucket"],
                        resources=[bucket_arn],
                        conditions={"StringLike": {"s3:prefix": [f"{key_prefix}*"]}},
                    ),
                    send_dead_letters,
                    Statement(
                        # A {"orders": [...]} file's array, copied for the Map to read
                        # (multipart above 8 MiB; an upload that fails is aborted).
                        sid="WriteNormalizedFiles",
                        actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                        resources=[normalized_objects],
                    ),
                    *kms,
                ],
                environment={
                    "DEAD_LETTER_QUEUE_URL": records_dlq.url,
                    "PIPELINE_NAME": name,
                    "WORK_BUCKET": work.bucket,
                    "KEY_SUFFIXES": ",".join(suffixes),
                },
                # One vCPU: copying a {"orders": [...]} file's array runs at about 10 MB/s.
                memory_mb=INSPECT_MEMORY_MB,
                timeout_seconds=INSPECT_TIMEOUT_SECONDS,
            ),
            common,
            self,
        )
        validate = build_python_function(
            f"{name}-validate",
            FunctionSpec(
                family="validation",
                handler="runtime.validation.handler.validate_batch",
                description="validate a batch of sales records; store or dead-letter each",
                statements=[
                    Statement(
                        sid="WriteOrders",
                        actions=["dynamodb:BatchWriteItem"],
                        resources=[table_arn],
                    ),
                    send_dead_letters,
                    *kms,
                ],
                environment={
                    "TABLE_NAME": table_name,
                    "DEAD_LETTER_QUEUE_URL": records_dlq.url,
                    "PIPELINE_NAME": name,
                },
                memory_mb=512,
                timeout_seconds=workflow_settings["batch_timeout_seconds"],
            ),
            common,
            self,
        )

        definition = pulumi.Output.all(
            inspect.arn, validate.arn, records_dlq.url, work.bucket
        ).apply(
            lambda v: json.dumps(
                export_map_results(
                    validation_definition(
                        inspect_arn=v[0],
                        validate_arn=v[1],
                        dead_letter_queue_url=v[2],
                        **workflow_settings,
                    ),
                    bucket=v[3],
                ),
                indent=2,
            )
        )
        workflow = build_state_machine(
            f"{name}-workflow",
            definition=definition,
            workflow_type="STANDARD",  # a Distributed Map needs a Standard parent
            statements=[
                invoke_statement("InvokeValidationFunctions", [inspect, validate]),
                read_objects,
                Statement(
                    sid="ReadNormalizedFiles",
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[normalized_objects],
                ),
                send_dead_letters,
                map_results_statement(work.arn),
                *kms,
            ],
            self_statements=lambda arn: [
                Statement(
                    sid="StartMapRunChildren",
                    actions=list(STEP_FUNCTIONS_DISTRIBUTED_MAP_ACTIONS.value["state-machine"]),
                    resources=[arn],
                ),
                Statement(
                    sid="TrackMapRunChildren",
                    actions=list(STEP_FUNCTIONS_DISTRIBUTED_MAP_ACTIONS.value["execution"]),
                    resources=map_run_child_arns(arn),
                ),
            ],
            common=common,
            parent=self,
        )

        trigger = build_rule_trigger(
            name,
            event_pattern=bucket_name.apply(
                lambda bucket: json.dumps(object_created_pattern(bucket, key_prefix, suffixes))
            ),
            description=f"New sales files in {key_prefix} of the {name} bucket",
            state_machine_arn=workflow.arn,
            common=common,
            parent=self,
        )

        build_dashboard(
            name,
            [
                *function_panels([inspect, validate]),
                workflow_panel(workflow),
                queue_panel([records_dlq, trigger.dead_letter_queue]),
                custom_panel(
                    "Records stored and dead-lettered",
                    "orderflow",
                    f"{name}-validate",
                    ["RecordsStored", "RecordsDeadLettered"],
                ),
            ],
            common,
            self,
        )

        self.bucket_name = bucket_name
        self.table_name = table_name
        self.dead_letter_queue_url = records_dlq.url
        self.dead_letter_queue_arn = records_dlq.arn
        self.delivery_dead_letter_queue_arn = trigger.dead_letter_queue.arn
        self.delivery_dead_letter_queue_url = trigger.dead_letter_queue.url
        self.state_machine_arn = workflow.arn
        self.rule_arn = trigger.rule.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "table_name": self.table_name,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "delivery_dead_letter_queue_arn": self.delivery_dead_letter_queue_arn,
                "delivery_dead_letter_queue_url": self.delivery_dead_letter_queue_url,
                "state_machine_arn": self.state_machine_arn,
                "rule_arn": self.rule_arn,
            }
        )


def object_created_pattern(bucket: str, key_prefix: str, suffixes: Sequence[str]) -> dict[str, Any]:
    """EventBridge pattern for new objects in `bucket` under `key_prefix`.

    The suffix is not part of the pattern: people export `ORDERS.JSON` as often as
    `orders.json`, and EventBridge can match a prefix and a suffix of one field together
    only with a `wildcard`, which is case-sensitive (`{"suffix": {"equals-ignore-case":
    ...}}` ignores case but cannot be ANDed with a prefix on the same field). A suffix-only
    rule would start the workflow for every matching object anywhere in the bucket instead.
    So the rule selects the prefix, and InspectFile checks `key_suffixes` ignoring case
    (`runtime.validation.exports.accepts_key`): another key ends the execution as
    `ignored`, neither read nor dead-lettered. `suffixes` is kept for that check's sake.
    """
    del suffixes  # checked by InspectFile (KEY_SUFFIXES), see above
    key: dict[str, Any] = {"prefix": key_prefix} if key_prefix else {"exists": True}
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [key]}},
    }


def _check_args(
    prefix: str, suffixes: Sequence[str], batch_size: int, max_concurrency: int
) -> None:
    if not suffixes or any(not s for s in suffixes):
        raise ValueError("key_suffixes must name at least one non-empty suffix, e.g. ['.json']")
    if any("," in s for s in suffixes):
        raise ValueError(f"key_suffixes may not contain a comma: {list(suffixes)}")
    if prefix.startswith("/"):
        raise ValueError(
            f"key_prefix {prefix!r} must not start with '/': S3 keys have no leading slash"
        )
    if not 1 <= batch_size <= 10_000:
        raise ValueError(f"batch_size must be between 1 and 10,000, not {batch_size}")
    most = STEP_FUNCTIONS_DISTRIBUTED_MAP_MAX_CONCURRENCY.value
    if not 1 <= max_concurrency <= most:
        raise ValueError(f"max_concurrency must be between 1 and {most:,}, not {max_concurrency}")


def _workflow_settings(
    name: str, args: ValidationPipelineArgs, batch_size: int, max_concurrency: int
) -> dict[str, Any]:
    """The workflow's settings, refused when a batch's worst case cannot fit Express."""
    settings: dict[str, Any] = {
        "batch_size": batch_size,
        "max_concurrency": max_concurrency,
        "batch_timeout_seconds": args.get("batch_timeout_seconds", DEFAULT_BATCH_TIMEOUT_SECONDS),
        "batch_retry_attempts": args.get("batch_retry_attempts", DEFAULT_BATCH_RETRY_ATTEMPTS),
    }
    check_task_settings(
        "batch_timeout_seconds",
        settings["batch_timeout_seconds"],
        "batch_retry_attempts",
        settings["batch_retry_attempts"],
    )
    inspect, validate = placeholder_arn("inspect"), placeholder_arn("validate")
    check_express_budget(
        f"ValidationPipeline {name!r}",
        validation_definition(
            inspect_arn=inspect,
            validate_arn=validate,
            dead_letter_queue_url=PLACEHOLDER_QUEUE_URL,
            **settings,
        ),
        "STANDARD",
        {inspect: INSPECT_TIMEOUT_SECONDS, validate: settings["batch_timeout_seconds"]},
    )
    return settings


def _created(table: aws.dynamodb.Table) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    return table.name, table.arn


def _table_arn(table_name: pulumi.Input[str]) -> pulumi.Output[str]:
    """ARN of a brought table, looked up so the policy names exactly that table."""
    return aws.dynamodb.get_table_output(name=table_name).arn
