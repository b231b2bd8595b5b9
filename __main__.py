"""The orderflow stack: read the stack's settings, build the pipelines, export outputs."""

from __future__ import annotations

import pulumi

from components import (
    AlarmTopic,
    ConsolidationConsumer,
    ConsolidationConsumerArgs,
    LateDataReconciler,
    LateDataReconcilerArgs,
    PremiumOrderPipe,
    PremiumOrderPipeArgs,
    ValidationPipeline,
    ValidationPipelineArgs,
)
from components.key_policy import build_stack_key, key_policy_statements_output
from components.settings import CommonArgs
from components.stack_config import component_args

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
    elif config.get_bool("createKmsKey"):
        common["kms_key_arn"] = build_stack_key("orderflow-key").arn
    if "kms_key_arn" in common:
        # What the key's policy must allow (a brought key: add them; the created key has them).
        pulumi.export("kmsKeyArn", common["kms_key_arn"])
        pulumi.export("kmsKeyPolicyStatements", key_policy_statements_output())
    return common


common = common_args()

validation = ValidationPipeline(
    "validation",
    component_args(ValidationPipelineArgs, common, config.get_object("validation"), "validation"),
)
pulumi.export("validationBucketName", validation.bucket_name)
pulumi.export("validationTableName", validation.table_name)
pulumi.export("validationDeadLetterQueueUrl", validation.dead_letter_queue_url)
pulumi.export("validationStateMachineArn", validation.state_machine_arn)
pulumi.export("validationDeliveryDeadLetterQueueUrl", validation.delivery_dead_letter_queue_url)
pulumi.export("validationRuleArn", validation.rule_arn)

premium = PremiumOrderPipe(
    "premium",
    component_args(PremiumOrderPipeArgs, common, config.get_object("premium"), "premium"),
)
pulumi.export("premiumTableName", premium.table_name)
pulumi.export("premiumEventBusName", premium.event_bus_name)
pulumi.export("premiumTopicArn", premium.topic_arn)
pulumi.export("premiumDeadLetterQueueUrl", premium.dead_letter_queue_url)
pulumi.export("premiumStreamArn", premium.stream_arn)
pulumi.export("premiumStandardPipeArn", premium.standard_pipe_arn)
pulumi.export("premiumPremiumPipeArn", premium.premium_pipe_arn)
pulumi.export("premiumStandardPipeDeadLetterQueueUrl", premium.standard_pipe_dead_letter_queue_url)
pulumi.export("premiumPremiumPipeDeadLetterQueueUrl", premium.premium_pipe_dead_letter_queue_url)

late_data = LateDataReconciler(
    "late-data",
    component_args(LateDataReconcilerArgs, common, config.get_object("lateData"), "lateData"),
)
pulumi.export("lateDataLedgerTableName", late_data.ledger_table_name)
pulumi.export("lateDataStateMachineArn", late_data.state_machine_arn)
pulumi.export("lateDataDeadLetterQueueUrl", late_data.dead_letter_queue_url)
pulumi.export("lateDataDeliveryDeadLetterQueueUrl", late_data.delivery_dead_letter_queue_url)
pulumi.export("lateDataScheduleDeadLetterQueueUrl", late_data.schedule_dead_letter_queue_url)
pulumi.export("lateDataRuleArn", late_data.rule_arn)
pulumi.export("lateDataScheduleArn", late_data.schedule_arn)
pulumi.export("lateDataEventBusName", late_data.event_bus_name)

# The consumer attaches to an existing MSK cluster: a stack without `orderflow:consolidation`
# builds the other pipelines only.
consolidation_settings = config.get_object("consolidation")
if consolidation_settings:
    consolidation = ConsolidationConsumer(
        "consolidation",
        component_args(ConsolidationConsumerArgs, common, consolidation_settings, "consolidation"),
    )
    pulumi.export("consolidationTableName", consolidation.table_name)
    pulumi.export("consolidationStateMachineArn", consolidation.state_machine_arn)
    pulumi.export("consolidationDeadLetterQueueUrl", consolidation.dead_letter_queue_url)
    pulumi.export("consolidationConsolidationsTableName", consolidation.consolidations_table_name)
    pulumi.export("consolidationEventSourceMappingId", consolidation.event_source_mapping_id)
    pulumi.export("consolidationConsumerFunctionName", consolidation.consumer_function_name)
