"""orderflow's reusable Pulumi components and the building blocks they share."""

from .alarms import AlarmTopic
from .consolidation_consumer import ConsolidationConsumer, ConsolidationConsumerArgs
from .late_data_reconciler import LateDataReconciler, LateDataReconcilerArgs
from .premium_order_pipe import PremiumOrderPipe, PremiumOrderPipeArgs
from .validation_pipeline import ValidationPipeline, ValidationPipelineArgs

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
