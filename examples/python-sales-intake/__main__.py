"""Sales intake: a second project built from orderflow's components, installed as a library.

Partners drop JSON Lines sales files under their own prefix; every record is validated into
this project's table or dead-lettered. Late sale corrections arrive on this project's own
`sales-events` bus and are reconciled into day totals every half hour. The names, prefix,
bus and event shape are this project's; the pipelines' behaviour is orderflow's.
"""

import pulumi
import pulumi_aws as aws
from orderflow.components import (
    AlarmTopic,
    LateDataReconciler,
    LateDataReconcilerArgs,
    ValidationPipeline,
    ValidationPipelineArgs,
)

config = pulumi.Config("sales-intake")
retention = config.get_int("logRetentionDays") or 30
deletion_protection = config.get_bool("deletionProtection")
if deletion_protection is None:
    deletion_protection = True

alarms = AlarmTopic("sales-alarms", email=config.get("alarmEmail") or None)

intake = ValidationPipeline(
    "sales-intake",
    ValidationPipelineArgs(
        alarm_topic_arn=alarms.topic_arn,
        log_retention_days=retention,
        key_prefix=config.get("uploadPrefix") or "uploads/",
        key_suffixes=[".jsonl"],
        batch_size=500,
        max_concurrency=5,
        deletion_protection=deletion_protection,
    ),
)

# Encrypted with an AWS owned key: a customer managed one would also have to be granted to
# the reconciler's functions (its `kms_key_arn` argument) and to EventBridge.
bus = aws.cloudwatch.EventBus("sales-events")
late = LateDataReconciler(
    "sales-late",
    LateDataReconcilerArgs(
        alarm_topic_arn=alarms.topic_arn,
        log_retention_days=retention,
        event_bus_name=bus.name,
        event_source="sales.intake",
        detail_type="late.sale",
        schedule_expression="rate(30 minutes)",
        deletion_protection=deletion_protection,
    ),
)

pulumi.export("uploadBucket", intake.bucket_name)
pulumi.export("uploadPrefix", config.get("uploadPrefix") or "uploads/")
pulumi.export("salesTable", intake.table_name)
pulumi.export("rejectedRecordsQueueUrl", intake.dead_letter_queue_url)
pulumi.export("salesEventBus", bus.name)
pulumi.export("ledgerTable", late.ledger_table_name)
