"""ConsolidationConsumer: MSK consolidation events → every chargeback updated, once.

MSK topic → Lambda event source mapping (provisioned pollers, finite retries, bisect,
partial batch responses, on-failure records kept in S3) → consumer Lambda that decodes
and validates each event, dead-letters poison messages with their payload, records the
consolidation once and starts the fan-out workflow (named by the idempotency key) →
Distributed Maps over the consolidated files → updater Lambda applying the seed's
attributes to each chargeback, idempotently and in `execution_sequence` order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws

from orderflow.aws_facts import (
    LAMBDA_ESM_MAX_RECORD_AGE_SECONDS,
    LAMBDA_ESM_MAX_RETRY_ATTEMPTS,
    LAMBDA_MSK_BOOTSTRAP_ACTION,
    LAMBDA_MSK_DESCRIBE_CLUSTER_ACTION,
    LAMBDA_MSK_IAM_AUTH_ACTIONS,
)

from .alarms import metric_alarm
from .bucket import BucketSpec, PrivateBucket, build_private_bucket
from .consolidation_workflow import (
    DEFAULT_UPDATE_RETRY_ATTEMPTS,
    DEFAULT_UPDATE_TIMEOUT_SECONDS,
    consolidation_definition,
)
from .dashboard import (
    Panel,
    build_dashboard,
    custom_panel,
    function_panels,
    queue_panel,
    workflow_panel,
)
from .dead_letter_queue import DeadLetterQueue, build_dead_letter_queue
from .express_budget import check_express_budget, check_task_settings, placeholder_arn
from .iam import Statement, kms_statements
from .lambda_function import FunctionSpec, PythonFunction, build_python_function, invoke_statement
from .map_results import export_map_results, map_results_statement
from .settings import Common, CommonArgs, reject_conflicts, resolve_common
from .state_machine import StateMachineBundle, build_state_machine, map_run_child_arns
from .table import TableSpec, build_table

DEFAULT_TOPIC = "chargeback-consolidation-events"
DEFAULT_CONSUMER_GROUP = "orderflow-consolidation"
DEFAULT_METRICS_NAMESPACE = "POC-Chargeback/ConsolidationUpdater"


class ConsolidationConsumerArgs(CommonArgs, total=False):
    """Arguments of a ConsolidationConsumer. `cluster_arn`, `subnet_ids`,
    `security_group_ids` and `consolidated_data_prefixes` are required."""

    cluster_arn: pulumi.Input[str]
    """The existing MSK cluster (IAM authentication)."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets of the cluster's VPC for the consumer function."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups letting the consumer reach the brokers."""
    consolidated_data_prefixes: Sequence[str]
    """`s3://bucket/prefix/` locations consolidated files may come from; an event naming
    any other location is rejected (and the workflow may read only these)."""
    topic: str
    """Kafka topic of consolidation events (default `chargeback-consolidation-events`)."""
    consumer_group_id: str
    """Consumer group of the mapping (default `orderflow-consolidation`)."""
    starting_position: str
    """TRIM_HORIZON (default: nothing published before the mapping is missed) or LATEST."""
    table_name: pulumi.Input[str]
    """Bring your own chargebacks table (key `chargeback_id`)."""
    batch_size: int
    """Kafka records per consumer invocation (default 100)."""
    maximum_retry_attempts: int
    """Retries of a failing batch before its records go to the failure bucket (default 3)."""
    maximum_record_age_seconds: int
    """Records older than this go to the failure bucket unprocessed (default 21600)."""
    update_batch_size: int
    """Chargebacks per updater invocation (default 500)."""
    update_concurrency: int
    """Updater invocations at once per file (default 20): bounds DynamoDB write bursts."""
    file_concurrency: int
    """Consolidated files processed at once (default 4)."""
    update_timeout_seconds: int
    """Timeout of the updater function (default 40). Each batch of rows runs in an Express
    child, which ends after 5 minutes retries included: a timeout and retry count whose
    worst case (timeout x attempts + backoff) cannot fit is refused."""
    update_retry_attempts: int
    """Retries of a batch whose update failed or timed out (default 2), besides up to 3
    retries of transient Lambda service errors."""
    metrics_namespace: str
    """Namespace of the seed's metrics (default `POC-Chargeback/ConsolidationUpdater`)."""
    deletion_protection: bool
    """Deletion protection of the created chargebacks table (default true)."""


class ConsolidationConsumer(pulumi.ComponentResource):
    """Applies each consolidation event to every chargeback it lists, exactly once."""

    table_name: pulumi.Output[str]
    """The chargebacks table (key `chargeback_id`)."""
    consolidations_table_name: pulumi.Output[str]
    """One record per consolidation received (the idempotency ledger)."""
    event_source_mapping_id: pulumi.Output[str]
    """UUID of the MSK event source mapping."""
    consumer_function_name: pulumi.Output[str]
    """The consumer Lambda."""
    state_machine_arn: pulumi.Output[str]
    """The fan-out workflow updating chargebacks."""
    dead_letter_queue_url: pulumi.Output[str]
    """Poison messages, verbatim, with a reason."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the application DLQ."""
    failure_bucket_name: pulumi.Output[str]
    """On-failure destination: batches the mapping gave up on, records included."""

    def __init__(
        self,
        name: str,
        args: ConsolidationConsumerArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Arguments are checked before anything is registered: a rejected call leaves no trace.
        missing = [
            key
            for key in (
                "cluster_arn",
                "subnet_ids",
                "security_group_ids",
                "consolidated_data_prefixes",
            )
            if not args.get(key)
        ]
        if missing:
            raise ValueError(f"ConsolidationConsumer needs {', '.join(missing)}")
        common = resolve_common(args)
        locations = [_s3_location(uri) for uri in args["consolidated_data_prefixes"]]
        retries = args.get("maximum_retry_attempts", 3)
        most = LAMBDA_ESM_MAX_RETRY_ATTEMPTS.value.high
        if not 0 <= retries <= most:
            raise ValueError(f"maximum_retry_attempts must be 0..{most:,} (finite), not {retries}")
        record_age = args.get("maximum_record_age_seconds", 21_600)
        if record_age not in (ages := LAMBDA_ESM_MAX_RECORD_AGE_SECONDS.value):
            raise ValueError(f"maximum_record_age_seconds must be {ages}, not {record_age}")
        starting_position = args.get("starting_position", "TRIM_HORIZON")
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(
                f"starting_position must be TRIM_HORIZON or LATEST, not {starting_position!r}"
            )
        reject_conflicts(args, [("table_name", "deletion_protection")])
        _fanout_settings(name, args)  # refused here, before anything is registered
        super().__init__("orderflow:index:ConsolidationConsumer", name, None, opts)

        topic = args.get("topic", DEFAULT_TOPIC)
        group = args.get("consumer_group_id", DEFAULT_CONSUMER_GROUP)
        cluster_arn = pulumi.Output.from_input(args["cluster_arn"])
        kms = kms_statements(common.kms_key_arn)
        if "table_name" in args:
            table_name = pulumi.Output.from_input(args["table_name"])
            table_arn = aws.dynamodb.get_table_output(name=table_name).arn
        else:
            table = build_table(
                f"{name}-chargebacks",
                TableSpec(
                    hash_key="chargeback_id",
                    deletion_protection=args.get("deletion_protection", True),
                ),
                common,
                self,
            )
            table_name, table_arn = table.name, table.arn
        consolidations = build_table(
            f"{name}-consolidations", TableSpec(hash_key="consolidation_id"), common, self
        )
        dlq = build_dead_letter_queue(
            f"{name}-dlq", purpose="poison consolidation messages", common=common, parent=self
        )
        failures = build_private_bucket(f"{name}-failures", BucketSpec(), common, self)
        send_dead_letters = Statement(
            sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[dlq.arn]
        )
        namespace = args.get("metrics_namespace", DEFAULT_METRICS_NAMESPACE)

        updater, fanout = self._fanout(
            name,
            args,
            locations=locations,
            table=(table_name, table_arn),
            dlq=dlq,
            results_bucket=failures,  # the component's own bucket; exports have a prefix
            common=common,
        )
        topic_arn = cluster_arn.apply(lambda arn: _cluster_child_arn(arn, "topic", topic))
        group_arn = cluster_arn.apply(lambda arn: _cluster_child_arn(arn, "group", group))
        consumer = build_python_function(
            f"{name}-consumer",
            FunctionSpec(
                family="consolidation",
                handler="runtime.consolidation.handler.consume",
                description="decode, validate and start one fan-out per consolidation event",
                statements=[
                    Statement(
                        sid="DiscoverCluster",
                        actions=[LAMBDA_MSK_DESCRIBE_CLUSTER_ACTION.value],
                        resources=[cluster_arn],
                    ),
                    Statement(
                        # GetBootstrapBrokers takes no resource ARN: "*" only.
                        sid="FindBrokers",
                        actions=[LAMBDA_MSK_BOOTSTRAP_ACTION.value],
                        resources=["*"],
                    ),
                    # IAM authentication: exactly what AWS lists for the mapping, per resource.
                    Statement(
                        sid="ConnectToCluster",
                        actions=list(LAMBDA_MSK_IAM_AUTH_ACTIONS.value["cluster"]),
                        resources=[cluster_arn],
                    ),
                    Statement(
                        sid="ReadTopic",
                        actions=list(LAMBDA_MSK_IAM_AUTH_ACTIONS.value["topic"]),
                        resources=[topic_arn],
                    ),
                    Statement(
                        sid="UseConsumerGroup",
                        actions=list(LAMBDA_MSK_IAM_AUTH_ACTIONS.value["group"]),
                        resources=[group_arn],
                    ),
                    Statement(
                        sid="RecordConsolidation",
                        actions=["dynamodb:PutItem"],
                        resources=[consolidations.arn],
                    ),
                    Statement(
                        sid="StartFanOut", actions=["states:StartExecution"], resources=[fanout.arn]
                    ),
                    Statement(
                        sid="KeepFailedBatches",
                        actions=["s3:PutObject"],
                        resources=[pulumi.Output.concat(failures.arn, "/*")],
                    ),
                    Statement(
                        # AWS requires ListBucket too, or the on-failure records are lost.
                        sid="ListFailureBucket",
                        actions=["s3:ListBucket"],
                        resources=[failures.arn],
                    ),
                    send_dead_letters,
                    *kms,
                ],
                environment={
                    "DYNAMODB_TABLE_NAME": table_name,
                    "CONSOLIDATIONS_TABLE_NAME": consolidations.name,
                    "FANOUT_STATE_MACHINE_ARN": fanout.arn,
                    "DEAD_LETTER_QUEUE_URL": dlq.url,
                    "ALLOWED_OUTPUT_PREFIXES": ",".join(args["consolidated_data_prefixes"]),
                    "POWERTOOLS_METRICS_NAMESPACE": namespace,
                    "PIPELINE_NAME": name,
                },
                memory_mb=256,
                timeout_seconds=120,
                vpc_subnet_ids=list(args["subnet_ids"]),
                vpc_security_group_ids=list(args["security_group_ids"]),
            ),
            common,
            self,
        )
        mapping = aws.lambda_.EventSourceMapping(
            f"{name}-mapping",
            event_source_arn=cluster_arn,
            function_name=consumer.function.arn,
            topics=[topic],
            starting_position=starting_position,
            batch_size=args.get("batch_size", 100),
            amazon_managed_kafka_event_source_config={"consumer_group_id": group},
            provisioned_poller_config={"minimum_pollers": 1, "maximum_pollers": 3},
            maximum_retry_attempts=retries,
            maximum_record_age_in_seconds=record_age,
            bisect_batch_on_function_error=True,
            function_response_types=["ReportBatchItemFailures"],
            destination_config={"on_failure": {"destination_arn": failures.arn}},
            metrics_config={"metrics": ["EventCount", "ErrorCount", "KafkaMetrics"]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[consumer.policy]),
        )
        esm_dimensions = {
            "FunctionName": consumer.function.name,
            "EventSourceMappingUUID": mapping.uuid,
        }
        for metric, description in (
            ("OffsetLag", "consumer lag on the consolidation topic"),
            ("OnFailureDestinationDeliveredEventCount", "records sent to the failure bucket"),
        ):
            metric_alarm(
                f"{name}-{metric.lower()}-alarm",
                parent=self,
                namespace="AWS/Lambda",
                metric_name=metric,
                statistic="Maximum",
                dimensions=esm_dimensions,
                threshold=1000 if metric == "OffsetLag" else 0,
                evaluation_periods=5 if metric == "OffsetLag" else 1,
                description=f"orderflow {name}: {description}",
                alarm_actions=common.alarm_actions,
            )

        build_dashboard(
            name,
            [
                *function_panels([consumer, updater]),
                Panel(
                    "Consumer lag (offsets behind the topic)",
                    [["AWS/Lambda", "OffsetLag", *_flatten(esm_dimensions)]],
                    stat="Maximum",
                ),
                workflow_panel(fanout),
                queue_panel([dlq]),
                custom_panel(
                    "Messages and chargebacks",
                    namespace,
                    f"{name}-consumer",
                    ["MessagesProcessed", "MessagesFailed", "MessagesDeadLettered"],
                ),
                custom_panel(
                    "Chargebacks updated", namespace, f"{name}-updater", ["ChargebacksUpdated"]
                ),
            ],
            common,
            self,
        )

        self.table_name = table_name
        self.consolidations_table_name = consolidations.name
        self.event_source_mapping_id = mapping.uuid
        self.consumer_function_name = consumer.function.name
        self.state_machine_arn = fanout.arn
        self.dead_letter_queue_url = dlq.url
        self.dead_letter_queue_arn = dlq.arn
        self.failure_bucket_name = failures.bucket
        self.register_outputs(
            {
                "table_name": self.table_name,
                "consolidations_table_name": self.consolidations_table_name,
                "event_source_mapping_id": self.event_source_mapping_id,
                "consumer_function_name": self.consumer_function_name,
                "state_machine_arn": self.state_machine_arn,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "failure_bucket_name": self.failure_bucket_name,
            }
        )

    def _fanout(
        self,
        name: str,
        args: ConsolidationConsumerArgs,
        *,
        locations: list[tuple[str, str]],
        table: tuple[pulumi.Input[str], pulumi.Input[str]],
        dlq: DeadLetterQueue,
        results_bucket: PrivateBucket,
        common: Common,
    ) -> tuple[PythonFunction, StateMachineBundle]:
        """The updater Lambda and the workflow fanning a consolidation out to it."""
        table_name, table_arn = table
        kms = kms_statements(common.kms_key_arn)
        send_dead_letters = Statement(
            sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[dlq.arn]
        )
        namespace = args.get("metrics_namespace", DEFAULT_METRICS_NAMESPACE)
        settings = _fanout_settings(name, args)
        updater = build_python_function(
            f"{name}-updater",
            FunctionSpec(
                family="consolidation",
                handler="runtime.consolidation.handler.apply_updates",
                description="apply one consolidation to a batch of chargebacks",
                statements=[
                    Statement(
                        sid="UpdateChargebacks",
                        actions=["dynamodb:UpdateItem"],
                        resources=[table_arn],
                    ),
                    send_dead_letters,
                    *kms,
                ],
                environment={
                    "DYNAMODB_TABLE_NAME": table_name,
                    "DEAD_LETTER_QUEUE_URL": dlq.url,
                    "POWERTOOLS_METRICS_NAMESPACE": namespace,
                    "UPDATE_CONCURRENCY": "16",
                    "PIPELINE_NAME": name,
                },
                memory_mb=512,
                timeout_seconds=settings["timeout_seconds"],
            ),
            common,
            self,
        )
        read_statements = [
            Statement(
                sid="ListConsolidatedFiles",
                actions=["s3:ListBucket"],
                resources=sorted({f"arn:aws:s3:::{bucket}" for bucket, _ in locations}),
                conditions={
                    "StringLike": {"s3:prefix": sorted({f"{prefix}*" for _, prefix in locations})}
                },
            ),
            Statement(
                sid="ReadConsolidatedFiles",
                actions=["s3:GetObject"],
                resources=sorted(
                    {f"arn:aws:s3:::{bucket}/{prefix}*" for bucket, prefix in locations}
                ),
            ),
        ]
        definition = pulumi.Output.all(updater.arn, results_bucket.bucket).apply(
            lambda v: json.dumps(
                export_map_results(
                    consolidation_definition(updater_arn=v[0], **settings), bucket=v[1]
                ),
                indent=2,
            )
        )
        fanout = build_state_machine(
            f"{name}-fanout",
            definition=definition,
            workflow_type="STANDARD",  # Distributed Maps need Standard parents
            statements=[
                invoke_statement("InvokeUpdater", [updater]),
                *read_statements,
                map_results_statement(results_bucket.arn),
                *kms,
            ],
            self_statements=lambda arn: [
                Statement(
                    sid="StartMapRunChildren", actions=["states:StartExecution"], resources=[arn]
                ),
                Statement(
                    sid="TrackMapRunChildren",
                    actions=["states:DescribeExecution", "states:StopExecution"],
                    resources=map_run_child_arns(arn),
                ),
            ],
            common=common,
            parent=self,
        )

        return updater, fanout


def _fanout_settings(name: str, args: ConsolidationConsumerArgs) -> dict[str, int]:
    """The fan-out's settings, refused when a batch's worst case cannot fit Express."""
    settings = {
        "batch_size": args.get("update_batch_size", 500),
        "row_concurrency": args.get("update_concurrency", 20),
        "file_concurrency": args.get("file_concurrency", 4),
        "max_attempts": args.get("update_retry_attempts", DEFAULT_UPDATE_RETRY_ATTEMPTS),
        "timeout_seconds": args.get("update_timeout_seconds", DEFAULT_UPDATE_TIMEOUT_SECONDS),
    }
    check_task_settings(
        "update_timeout_seconds",
        settings["timeout_seconds"],
        "update_retry_attempts",
        settings["max_attempts"],
    )
    updater = placeholder_arn("updater")
    check_express_budget(
        f"ConsolidationConsumer {name!r}",
        consolidation_definition(updater_arn=updater, **settings),
        "STANDARD",
        {updater: settings["timeout_seconds"]},
    )
    return settings


def _s3_location(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix/` → (bucket, prefix); anything else is a configuration error."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(
            f"consolidated_data_prefixes entries must be s3://bucket/prefix/, not {uri!r}"
        )
    return parsed.netloc, parsed.path.lstrip("/")


def _cluster_child_arn(cluster_arn: str, kind: str, name: str) -> str:
    """Topic or group ARN: `…:cluster/<name>/<uuid>` → `…:<kind>/<name>/<uuid>/<child>`."""
    if ":cluster/" not in cluster_arn:
        raise ValueError(
            f"cluster_arn must be an MSK cluster ARN (…:cluster/<name>/<uuid>), not {cluster_arn!r}"
        )
    return cluster_arn.replace(":cluster/", f":{kind}/", 1) + f"/{name}"


def _flatten(dimensions: dict[str, pulumi.Output[str]]) -> list[Any]:
    """`{"A": a, "B": b}` → `["A", a, "B", b]`, CloudWatch's metric row form."""
    return [item for pair in dimensions.items() for item in pair]
