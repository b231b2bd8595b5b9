"""The orderflow stack: read the stack's settings, build the pipelines, export outputs."""

from __future__ import annotations

from typing import Any

import pulumi

from components import AlarmTopic, ValidationPipeline, ValidationPipelineArgs
from components.settings import CommonArgs

config = pulumi.Config("orderflow")


def common_args() -> CommonArgs:
    """Settings every pipeline of this stack shares."""
    common = CommonArgs(
        log_retention_days=config.get_int("logRetentionDays") or 30,
        architecture=config.get("lambdaArchitecture") or "arm64",
        log_level=config.get("logLevel") or "INFO",
    )
    topic = AlarmTopic("alarms", email=config.get("alarmEmail") or None)
    common["alarm_topic_arn"] = topic.topic_arn
    layer = config.get("powertoolsLayerArn")
    if layer:
        common["powertools_layer_arn"] = layer
    kms_key = config.get("kmsKeyArn")
    if kms_key:
        common["kms_key_arn"] = kms_key
    return common


def validation_args(common: CommonArgs, settings: dict[str, Any]) -> ValidationPipelineArgs:
    """Map the camelCase `orderflow:validation` object onto the component's arguments."""
    args = ValidationPipelineArgs(**common)  # type: ignore[typeddict-item]
    names = {
        "bucketName": "bucket_name",
        "tableName": "table_name",
        "keyPrefix": "key_prefix",
        "keySuffixes": "key_suffixes",
        "batchSize": "batch_size",
        "maxConcurrency": "max_concurrency",
        "deletionProtection": "deletion_protection",
        "forceDestroyBucket": "force_destroy_bucket",
    }
    unknown = set(settings) - set(names)
    if unknown:
        raise ValueError(
            f"orderflow:validation has unknown settings {sorted(unknown)}; known: {sorted(names)}"
        )
    for key, value in settings.items():
        args[names[key]] = value  # type: ignore[literal-required]
    return args


common = common_args()
validation = ValidationPipeline(
    "validation", validation_args(common, config.get_object("validation") or {})
)
pulumi.export("validationBucketName", validation.bucket_name)
pulumi.export("validationTableName", validation.table_name)
pulumi.export("validationDeadLetterQueueUrl", validation.dead_letter_queue_url)
pulumi.export("validationStateMachineArn", validation.state_machine_arn)
