"""orderflow's reusable Pulumi components and the building blocks they share."""

from components.alarms import AlarmTopic
from components.consolidation_consumer import ConsolidationConsumer, ConsolidationConsumerArgs
from components.late_data_reconciler import LateDataReconciler, LateDataReconcilerArgs
from components.premium_order_pipe import PremiumOrderPipe, PremiumOrderPipeArgs
from components.validation_pipeline import ValidationPipeline, ValidationPipelineArgs

__all__ = [
    "AlarmTopic",
    "ConsolidationConsumer",
    "ConsolidationConsumerArgs",
    "LateDataReconciler",
    "LateDataReconcilerArgs",
    "PremiumOrderPipe",
    "PremiumOrderPipeArgs",
    "ValidationPipeline",
    "ValidationPipelineArgs",
]
