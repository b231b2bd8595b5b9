"""PremiumOrderPipe: order changes in DynamoDB become domain events (at least once, stable ids).

Orders table (stream NEW_AND_OLD_IMAGES) → two EventBridge Pipes with source filters →
standard-order and premium-order Lambdas (partial batch failure by `eventID`) →
`OrderAccepted` / `PremiumOrderShipped` on the component's event bus, premium orders also
to an SNS topic. Filters hold only what Pipes can express: the statuses. What it cannot
(test-customer domains case-insensitively, amounts held as DynamoDB `N` strings) the
handlers enforce and count. Bad records go, with a reason, to an application
dead-letter queue; records a pipe gives up on go to that pipe's own queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pulumi
import pulumi_aws as aws

from .dashboard import Panel, build_dashboard, function_panels, queue_panel
from .dead_letter_queue import build_dead_letter_queue
from .iam import Statement, deny_insecure_transport, kms_statements
from .lambda_function import FunctionSpec, PythonFunction, build_python_function
from .settings import Common, CommonArgs, reject_conflicts, resolve_common
from .stream_pipe import StreamPipeSettings, build_stream_pipe, check_settings
from .table import TableSpec, build_table

STREAM_VIEW = "NEW_AND_OLD_IMAGES"
DEFAULT_ACCEPTED_STATUSES = ("pending", "shipped")
DEFAULT_KNOWN_STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"


class PremiumOrderPipeArgs(CommonArgs, total=False):
    """Arguments of a PremiumOrderPipe; every field is optional."""

    table_name: pulumi.Input[str]
    """Bring your own orders table; its stream must already be NEW_AND_OLD_IMAGES."""
    accepted_statuses: Sequence[str]
    """Statuses pipe 1 forwards for standard processing (default pending, shipped)."""
    known_statuses: Sequence[str]
    """Every status an order may have; any other is bad data (dead-lettered)."""
    premium_from_status: str
    """Old status of the premium transition (default pending)."""
    premium_to_status: str
    """New status of the premium transition (default shipped)."""
    standard_min_amount: str
    """Standard orders above this amount are accepted (default "100"; a decimal string)."""
    premium_min_amount: str
    """Premium transitions above this amount are announced (default "1000")."""
    test_email_domains: Sequence[str]
    """Customers at these domains (or subdomains, any case) are test customers (test.com)."""
    notification_email: pulumi.Input[str]
    """An address subscribed to the premium-order topic."""
    batch_size: int
    """Stream records per invocation (default 100)."""
    batching_window_seconds: int
    """How long a pipe gathers a batch (default 5 s)."""
    maximum_retry_attempts: int
    """Retries of a failing batch before it goes to the pipe's DLQ (default 3; finite)."""
    maximum_record_age_seconds: int
    """Records older than this skip to the DLQ (default 3600; below the 24 h retention)."""
    deletion_protection: bool
    """Deletion protection of the created orders table (default true)."""


class PremiumOrderPipe(pulumi.ComponentResource):
    """Turns order changes into `OrderAccepted` and `PremiumOrderShipped` events."""

    table_name: pulumi.Output[str]
    """Orders table (key `orderId`); writes to it drive the pipes."""
    stream_arn: pulumi.Output[str]
    """The table's stream, the pipes' source."""
    standard_pipe_arn: pulumi.Output[str]
    """Pipe 1: INSERT/MODIFY with an accepted status → standard processor."""
    premium_pipe_arn: pulumi.Output[str]
    """Pipe 2: MODIFY from the premium-from to the premium-to status → premium processor."""
    event_bus_name: pulumi.Output[str]
    """Bus receiving `OrderAccepted` and `PremiumOrderShipped`; subscribe with rules."""
    topic_arn: pulumi.Output[str]
    """SNS topic notified of each premium order."""
    dead_letter_queue_url: pulumi.Output[str]
    """Application DLQ: bad records, verbatim, with a reason."""
    dead_letter_queue_arn: pulumi.Output[str]
    """ARN of the application DLQ."""
    standard_pipe_dead_letter_queue_arn: pulumi.Output[str]
    """Records pipe 1 gave up on (stream metadata)."""
    premium_pipe_dead_letter_queue_arn: pulumi.Output[str]
    """Records pipe 2 gave up on (stream metadata)."""
    standard_pipe_dead_letter_queue_url: pulumi.Output[str]
    """URL of pipe 1's dead-letter queue (for replays and smoke runs)."""
    premium_pipe_dead_letter_queue_url: pulumi.Output[str]
    """URL of pipe 2's dead-letter queue (for replays and smoke runs)."""

    def __init__(
        self,
        name: str,
        args: PremiumOrderPipeArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Arguments are checked before anything is registered: a rejected call leaves no trace.
        args = args or PremiumOrderPipeArgs()
        common = resolve_common(args)
        settings = StreamPipeSettings(
            batch_size=args.get("batch_size", 100),
            batching_window_seconds=args.get("batching_window_seconds", 5),
            maximum_retry_attempts=args.get("maximum_retry_attempts", 3),
            maximum_record_age_seconds=args.get("maximum_record_age_seconds", 3600),
        )
        check_settings(settings)
        statuses = _Statuses.from_args(args)
        thresholds = {
            key: _decimal_setting(key, args.get(key, default))
            for key, default in (("standard_min_amount", "100"), ("premium_min_amount", "1000"))
        }
        reject_conflicts(args, [("table_name", "deletion_protection")])
        super().__init__("orderflow:index:PremiumOrderPipe", name, None, opts)

        table_name, stream_arn = self._orders_table(name, args, common)
        child = pulumi.ResourceOptions(parent=self)
        bus = aws.cloudwatch.EventBus(
            f"{name}-bus", kms_key_identifier=common.kms_key_arn, opts=child
        )
        topic = self._topic(name, common, args.get("notification_email"))
        idempotency = build_table(
            f"{name}-idempotency",
            TableSpec(
                hash_key="id", ttl_attribute=IDEMPOTENCY_TTL_ATTRIBUTE, deletion_protection=False
            ),
            common,
            self,
        )
        app_dlq = build_dead_letter_queue(
            f"{name}-dlq", purpose="order records that are bad data", common=common, parent=self
        )
        shared = [
            Statement(sid="PublishDomainEvents", actions=["events:PutEvents"], resources=[bus.arn]),
            Statement(sid="SendDeadLetters", actions=["sqs:SendMessage"], resources=[app_dlq.arn]),
            Statement(
                sid="RecordIdempotency",
                actions=[
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
                resources=[idempotency.arn],
            ),
            *kms_statements(common.kms_key_arn),
        ]
        environment: dict[str, pulumi.Input[str]] = {
            "EVENT_BUS_NAME": bus.name,
            "EVENT_SOURCE": "orderflow.orders",
            "DEAD_LETTER_QUEUE_URL": app_dlq.url,
            "IDEMPOTENCY_TABLE_NAME": idempotency.name,
            "ACCEPTED_STATUSES": ",".join(statuses.accepted),
            "KNOWN_STATUSES": ",".join(statuses.known),
            "PREMIUM_FROM_STATUS": statuses.premium_from,
            "PREMIUM_TO_STATUS": statuses.premium_to,
            "STANDARD_MIN_AMOUNT": str(thresholds["standard_min_amount"]),
            "PREMIUM_MIN_AMOUNT": str(thresholds["premium_min_amount"]),
            "TEST_EMAIL_DOMAINS": ",".join(
                d.lower() for d in args.get("test_email_domains", ("test.com",))
            ),
            "PIPELINE_NAME": name,
        }
        standard = self._processor(
            f"{name}-standard",
            handler="process_standard",
            description="accept standard orders",
            statements=shared,
            environment=environment,
            common=common,
        )
        premium = self._processor(
            f"{name}-premium",
            handler="process_premium",
            description="announce premium orders shipped",
            statements=[
                *shared,
                Statement(sid="NotifyPremium", actions=["sns:Publish"], resources=[topic.arn]),
            ],
            environment={**environment, "TOPIC_ARN": topic.arn},
            common=common,
        )
        standard_pipe = build_stream_pipe(
            f"{name}-standard-pipe",
            stream_arn=stream_arn,
            target=standard,
            filters=[standard_filter(statuses.accepted)],
            settings=settings,
            common=common,
            parent=self,
        )
        premium_pipe = build_stream_pipe(
            f"{name}-premium-pipe",
            stream_arn=stream_arn,
            target=premium,
            filters=[premium_filter(statuses.premium_from, statuses.premium_to)],
            settings=settings,
            common=common,
            parent=self,
        )

        build_dashboard(
            name,
            [
                *function_panels([standard, premium]),
                Panel(
                    "Pipe invocations and failures",
                    [
                        ["AWS/EventBridge/Pipes", metric, "PipeName", pipe.pipe.name]
                        for pipe in (standard_pipe, premium_pipe)
                        for metric in ("Invocations", "ExecutionFailed")
                    ],
                ),
                queue_panel(
                    [app_dlq, standard_pipe.dead_letter_queue, premium_pipe.dead_letter_queue]
                ),
                Panel(
                    "Orders accepted, shipped, skipped, dead-lettered",
                    [
                        ["orderflow", metric, "Flow", flow, "service", f"{name}-{flow}"]
                        for flow, published in (
                            ("standard", "OrdersAccepted"),
                            ("premium", "PremiumOrdersShipped"),
                        )
                        for metric in (published, "OrdersSkipped", "RecordsDeadLettered")
                    ],
                ),
            ],
            common,
            self,
        )

        self.table_name = table_name
        self.stream_arn = stream_arn
        self.standard_pipe_arn = standard_pipe.arn
        self.premium_pipe_arn = premium_pipe.arn
        self.event_bus_name = bus.name
        self.topic_arn = topic.arn
        self.dead_letter_queue_url = app_dlq.url
        self.dead_letter_queue_arn = app_dlq.arn
        self.standard_pipe_dead_letter_queue_arn = standard_pipe.dead_letter_queue.arn
        self.premium_pipe_dead_letter_queue_arn = premium_pipe.dead_letter_queue.arn
        self.standard_pipe_dead_letter_queue_url = standard_pipe.dead_letter_queue.url
        self.premium_pipe_dead_letter_queue_url = premium_pipe.dead_letter_queue.url
        self.register_outputs(
            {
                "table_name": self.table_name,
                "stream_arn": self.stream_arn,
                "standard_pipe_arn": self.standard_pipe_arn,
                "premium_pipe_arn": self.premium_pipe_arn,
                "event_bus_name": self.event_bus_name,
                "topic_arn": self.topic_arn,
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "dead_letter_queue_arn": self.dead_letter_queue_arn,
                "standard_pipe_dead_letter_queue_arn": self.standard_pipe_dead_letter_queue_arn,
                "premium_pipe_dead_letter_queue_arn": self.premium_pipe_dead_letter_queue_arn,
                "standard_pipe_dead_letter_queue_url": self.standard_pipe_dead_letter_queue_url,
                "premium_pipe_dead_letter_queue_url": self.premium_pipe_dead_letter_queue_url,
            }
        )

    def _orders_table(
        self, name: str, args: PremiumOrderPipeArgs, common: Common
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        if "table_name" in args:
            found = aws.dynamodb.get_table_output(name=args["table_name"])
            stream_arn = pulumi.Output.all(
                found.name, found.stream_view_type, found.stream_arn
            ).apply(_require_full_stream)
            return found.name, stream_arn
        table = build_table(
            f"{name}-orders",
            TableSpec(
                hash_key="orderId",
                stream_view_type=STREAM_VIEW,
                deletion_protection=args.get("deletion_protection", True),
            ),
            common,
            self,
        )
        return table.name, table.stream_arn

    def _topic(self, name: str, common: Common, email: pulumi.Input[str] | None) -> aws.sns.Topic:
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-notifications",
            kms_master_key_id=common.kms_key_arn or "alias/aws/sns",
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-notifications-policy",
            arn=topic.arn,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [deny_insecure_transport("sns:Publish", [topic.arn])],
                }
            ),
            opts=child,
        )
        if email is not None:
            aws.sns.TopicSubscription(
                f"{name}-notifications-email",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        return topic

    def _processor(
        self,
        name: str,
        *,
        handler: str,
        description: str,
        statements: list[Statement],
        environment: dict[str, pulumi.Input[str]],
        common: Common,
    ) -> PythonFunction:
        return build_python_function(
            name,
            FunctionSpec(
                family="orders",
                handler=f"runtime.orders.handler.{handler}",
                description=description,
                statements=statements,
                environment=environment,
                memory_mb=256,
                timeout_seconds=60,
            ),
            common,
            self,
        )


class _Statuses:
    """The configured statuses, checked for consistency once."""

    def __init__(
        self, accepted: Sequence[str], known: Sequence[str], premium_from: str, premium_to: str
    ) -> None:
        self.accepted, self.known = list(accepted), list(known)
        self.premium_from, self.premium_to = premium_from, premium_to
        missing = {*self.accepted, premium_from, premium_to} - set(self.known)
        if not self.accepted:
            raise ValueError("accepted_statuses must name at least one status")
        if missing:
            raise ValueError(
                f"statuses {sorted(missing)} are used but not in known_statuses {self.known}"
            )
        if premium_from == premium_to:
            raise ValueError("premium_from_status and premium_to_status must differ")

    @classmethod
    def from_args(cls, args: PremiumOrderPipeArgs) -> _Statuses:
        return cls(
            args.get("accepted_statuses", DEFAULT_ACCEPTED_STATUSES),
            args.get("known_statuses", DEFAULT_KNOWN_STATUSES),
            args.get("premium_from_status", "pending"),
            args.get("premium_to_status", "shipped"),
        )


def standard_filter(accepted_statuses: Sequence[str]) -> dict[str, Any]:
    """Pipe 1: inserts and updates whose new image has an accepted status."""
    return {
        "eventName": ["INSERT", "MODIFY"],
        "dynamodb": {"NewImage": {"status": {"S": list(accepted_statuses)}}},
    }


def premium_filter(from_status: str, to_status: str) -> dict[str, Any]:
    """Pipe 2: updates moving an order from `from_status` to `to_status`."""
    return {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "OldImage": {"status": {"S": [from_status]}},
            "NewImage": {"status": {"S": [to_status]}},
        },
    }


def _decimal_setting(name: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError as error:
        raise ValueError(f"{name} must be a decimal amount, not {value!r}") from error
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name} must be a finite, non-negative amount, not {value!r}")
    return amount


def _require_full_stream(values: list[Any]) -> str:
    name, view_type, stream_arn = values
    if view_type != STREAM_VIEW or not stream_arn:
        raise ValueError(
            f"table {name} must have its stream enabled as {STREAM_VIEW} "
            f"(has {view_type or 'none'}): the premium filter compares old and new images"
        )
    return str(stream_arn)
