"""orderflow's reusable Pulumi components and the building blocks they share."""

from components.alarms import AlarmTopic
from components.validation_pipeline import ValidationPipeline, ValidationPipelineArgs

__all__ = ["AlarmTopic", "ValidationPipeline", "ValidationPipelineArgs"]
