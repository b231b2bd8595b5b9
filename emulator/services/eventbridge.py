"""EventBridge: events in (S3 notifications, PutEvents), rule matching, target delivery.

moto stores buses, rules and targets (the deployed state, readable with boto3) and its
`EventPattern` matches events with the full operator set; delivery is done here because
moto cannot deliver to Lambda or Step Functions. Both entry points are replaced while
the emulator runs: S3's EventBridge notification (to send the event AWS sends, with the
URL-encoded key, version id and sequencer) and `PutEvents`.

Each event is routed by a job; each matching target gets its own delivery job. A target
with a role is called as that role; Lambda, SQS and SNS targets as
`events.amazonaws.com` on behalf of the rule, which their resource policy must allow. A
failed delivery is retried with exponential backoff on the virtual clock within the
target's retry policy; errors that retrying cannot fix (no permission, no such resource)
are not retried. Then the event goes to the target's dead-letter queue with the
attributes EventBridge adds, or, without one, is reported as lost.
"""

from __future__ import annotations

import itertools
import json
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import quote_plus

import moto.s3.notifications
from botocore.exceptions import ClientError
from moto.events.exceptions import ValidationException as EventsValidationException
from moto.events.models import EventsBackend, Rule, events_backends

from emulator.arns import queue_url
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from orderflow.aws_facts import (
    EVENTBRIDGE_ENTRY_TIME_BYTES,
    EVENTBRIDGE_MAX_ENTRY_BYTES,
    EVENTBRIDGE_TARGET_MAX_EVENT_AGE_SECONDS,
    EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator

EVENTS_SERVICE = "events.amazonaws.com"
# PutEvents' answer when its entries are over the size limit (the whole request fails).
ENTRIES_TOO_LARGE = "Total size of the entries in the request is over the limit."


def entry_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it (eb-putevent-size): a fixed size for
    Time when given, plus the UTF-8 bytes of Source, DetailType, Detail and each Resource."""
    size = EVENTBRIDGE_ENTRY_TIME_BYTES.value if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(str(r).encode("utf-8")) for r in entry.get("Resources") or [])


DEFAULT_RETRY_ATTEMPTS = EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS.value.high  # the default
DEFAULT_MAX_AGE = EVENTBRIDGE_TARGET_MAX_EVENT_AGE_SECONDS.value.high  # the default
MAX_BACKOFF = 300.0

# S3 notification name suffix → the `reason` EventBridge events carry.
_S3_REASONS = {
    "Put": "PutObject",
    "Post": "PostObject",
    "Copy": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
    "Delete": "DeleteObject",
    "DeleteMarkerCreated": "DeleteObject",
}


def s3_key_in_event(key: str) -> str:
    """Keys in S3 event notifications are URL-encoded, space as `+`, `/` kept."""
    return quote_plus(key, safe="/")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DeliveryError(Exception):
    """A target could not be reached; `code` is the ERROR_CODE EventBridge reports."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


def delivery_error(exc: ClientError) -> DeliveryError:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", str(exc))
    if "AccessDenied" in code or code == "AuthorizationError":
        return DeliveryError("NO_PERMISSIONS", message, retryable=False)
    if "NotFound" in code or "DoesNotExist" in code or "NonExistent" in code:
        return DeliveryError("RESOURCE_NOT_FOUND", message, retryable=False)
    if "Throttl" in code or "TooManyRequests" in code:
        return DeliveryError("THROTTLING", message, retryable=True)
    return DeliveryError("SDK_CLIENT_ERROR", f"{code}: {message}", retryable=True)


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one target of one rule."""

    rule_arn: str
    target: dict[str, Any]
    event: dict[str, Any]
    first_attempt: float
    attempt: int = 1


class EventBridge:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.emitted: list[dict[str, Any]] = []
        self.emitted_on: list[str] = []  # the bus each emitted event was put on
        self._sequencer = itertools.count(1)

    def patches(self) -> list[AbstractContextManager[Any]]:
        bridge = self

        def s3_notification(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
            event = bridge.s3_event(bucket, str(getattr(event_name, "value", event_name)), key)
            if event is not None:
                bridge.publish(event, "default")

        def put_events(
            backend: EventsBackend, entries: list[dict[str, Any]]
        ) -> list[dict[str, Any]]:
            return bridge.put_events(backend, entries)

        return [
            mock.patch.object(moto.s3.notifications, "_send_event_bridge_message", s3_notification),
            mock.patch.object(EventsBackend, "put_events", put_events),
        ]

    # events in -----------------------------------------------------------------------
    def s3_event(self, bucket: Any, event_name: str, key: Any) -> dict[str, Any] | None:
        """The event S3 sends to EventBridge for `event_name` (e.g. `s3:ObjectCreated:Put`).

        Only object creation and deletion are emulated; moto also reports a tagging event
        for every PutObject, which AWS does not send.
        """
        kind = event_name.split(":")[1]
        detail_type = {"ObjectCreated": "Object Created", "ObjectRemoved": "Object Deleted"}.get(
            kind
        )
        if detail_type is None:
            return None
        obj: dict[str, Any] = {"key": s3_key_in_event(key.name)}
        if kind == "ObjectCreated":
            obj.update(size=key.size, etag=key.etag.strip('"'))
        if getattr(key, "version_id", None) and key.version_id != "null":
            obj["version-id"] = key.version_id
        obj["sequencer"] = f"{next(self._sequencer):018X}"
        detail: dict[str, Any] = {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": _S3_REASONS.get(event_name.split(":")[2], event_name.split(":")[2]),
        }
        if kind == "ObjectRemoved":
            detail["deletion-type"] = (
                "Delete Marker Created" if "DeleteMarker" in event_name else "Permanently Deleted"
            )
        return self._envelope("aws.s3", detail_type, detail, [f"arn:aws:s3:::{bucket.name}"])

    def _envelope(
        self,
        source: str,
        detail_type: str,
        detail: Any,
        resources: list[str],
        time: str | None = None,
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": time or _iso(self.emulator.clock.now()),
            "region": REGION,
            "resources": resources,
            "detail": detail,
        }

    def put_events(
        self, backend: EventsBackend, entries: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """PutEvents as AWS answers it: one result per entry, failed entries inline."""
        results: list[dict[str, Any]] = []
        size = sum(entry_size(entry) for entry in entries)
        if size > EVENTBRIDGE_MAX_ENTRY_BYTES.value:
            raise EventsValidationException(ENTRIES_TOO_LARGE)
        for entry in entries:
            missing = next(
                (k for k in ("Source", "DetailType", "Detail") if not entry.get(k)), None
            )
            if missing is not None:
                results.append(
                    {
                        "ErrorCode": "InvalidArgument",
                        "ErrorMessage": f"Parameter {missing} is not valid.",
                    }
                )
                continue
            try:
                detail = json.loads(entry["Detail"])
                if not isinstance(detail, dict):  # a bare string, number or list
                    raise ValueError("Detail must be a JSON object")
            except (ValueError, RecursionError):
                results.append(
                    {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
                )
                continue
            bus = backend._normalize_event_bus_arn(entry.get("EventBusName"))
            backend.describe_event_bus(bus)  # raises ResourceNotFoundException
            time = entry.get("Time")
            if isinstance(time, int | float):  # boto3 sends Time as epoch seconds
                time = _iso(float(time))
            event = self._envelope(
                entry["Source"],
                entry["DetailType"],
                detail,
                list(entry.get("Resources", [])),
                time if isinstance(time, str) else None,
            )
            self.publish(event, bus)
            results.append({"EventId": event["id"]})
        return results

    def publish(self, event: dict[str, Any], bus: str) -> None:
        """Put an event on a bus: record it and queue its routing."""
        self.emitted.append(event)
        self.emitted_on.append(bus)
        self.emulator.meter.event(event["source"])
        self.emulator.submit(f"route event {event['id']} on {bus}", lambda: self._route(event, bus))

    # routing and delivery ------------------------------------------------------------
    def _route(self, event: dict[str, Any], bus: str) -> None:
        rules = events_backends[ACCOUNT][REGION].event_buses[bus].rules.values()
        for rule in list(rules):
            if rule.state != "ENABLED" or rule.scheduled_expression or not _matches(rule, event):
                continue
            for target in rule.targets:
                delivery = Delivery(rule.arn, dict(target), event, self.emulator.clock.now())
                self._queue(delivery, 0.0)

    def _queue(self, delivery: Delivery, delay: float) -> None:
        self.emulator.submit(
            f"deliver event {delivery.event['id']} to {delivery.target['Arn']} "
            f"(attempt {delivery.attempt})",
            lambda: self.deliver(delivery),
            delay=delay,
        )

    def deliver(self, delivery: Delivery) -> None:
        """One attempt; on failure schedule the next or give up to the DLQ."""
        target = delivery.target
        try:
            payload = target_input(target, delivery.event, delivery.rule_arn)
            self._send(target, payload, delivery.rule_arn)
        except DeliveryError as failure:
            self._failed(delivery, failure)

    def _failed(self, delivery: Delivery, failure: DeliveryError) -> None:
        policy = delivery.target.get("RetryPolicy", {})
        max_attempts = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)) + 1
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE))
        delay = min(2.0 ** (delivery.attempt - 1), MAX_BACKOFF)
        age = self.emulator.clock.now() + delay - delivery.first_attempt
        if failure.retryable and delivery.attempt < max_attempts and age <= max_age:
            self._queue(
                Delivery(
                    delivery.rule_arn,
                    delivery.target,
                    delivery.event,
                    delivery.first_attempt,
                    delivery.attempt + 1,
                ),
                delay,
            )
            return
        exhausted = (
            "MaximumRetryAttempts"
            if delivery.attempt >= max_attempts
            else "MaximumEventAgeInSeconds"
        )
        self._give_up(delivery, failure, exhausted if failure.retryable else "")

    def _give_up(self, delivery: Delivery, failure: DeliveryError, exhausted: str) -> None:
        target, rule_arn = delivery.target, delivery.rule_arn
        dlq = target.get("DeadLetterConfig", {}).get("Arn")
        report = {
            "rule": rule_arn,
            "target": target["Arn"],
            "event": delivery.event["id"],
            "code": failure.code,
            "message": str(failure),
            "attempts": delivery.attempt,
        }
        if dlq is None:
            self.emulator.error("delivery", **report, outcome="event lost: the target has no DLQ")
            return
        attributes = {
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": str(failure)[:1000],
            "RULE_ARN": rule_arn,
            "TARGET_ARN": target["Arn"],
            "RETRY_ATTEMPTS": str(delivery.attempt - 1),
        }
        if exhausted:
            attributes["EXHAUSTED_RETRY_CONDITION"] = exhausted
        try:
            with acting_as(Principal.for_service(EVENTS_SERVICE, rule_arn)):
                self.emulator.client("sqs").send_message(
                    QueueUrl=queue_url(dlq),
                    MessageBody=json.dumps(delivery.event),
                    MessageAttributes={
                        k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                    },
                )
        except ClientError as exc:
            self.emulator.error(
                "delivery", **report, outcome=f"event lost: the DLQ refused it ({exc})"
            )
            return
        self.emulator.error("delivery", **report, outcome="sent to the target's DLQ")

    def _send(self, target: dict[str, Any], payload: str, rule_arn: str) -> None:
        arn: str = target["Arn"]
        service = arn.split(":")[2]
        role = target.get("RoleArn")
        try:
            if service == "states":
                if not role:
                    raise DeliveryError(
                        "NO_PERMISSIONS", "a Step Functions target needs a role", retryable=False
                    )
                with acting_as(Principal.role(role)):
                    self.emulator.client("stepfunctions").start_execution(
                        stateMachineArn=arn, input=payload
                    )
            elif service == "lambda":
                with acting_as(Principal.for_service(EVENTS_SERVICE, rule_arn)):
                    self.emulator.client("lambda").invoke(
                        FunctionName=arn, InvocationType="Event", Payload=payload.encode()
                    )
            elif service == "sqs":
                params: dict[str, Any] = {"QueueUrl": queue_url(arn), "MessageBody": payload}
                group = target.get("SqsParameters", {}).get("MessageGroupId")
                if group:
                    params["MessageGroupId"] = group
                with acting_as(Principal.for_service(EVENTS_SERVICE, rule_arn)):
                    self.emulator.client("sqs").send_message(**params)
            elif service == "sns":
                with acting_as(Principal.for_service(EVENTS_SERVICE, rule_arn)):
                    self.emulator.client("sns").publish(TopicArn=arn, Message=payload)
            else:
                raise DeliveryError(
                    "UNSUPPORTED_TARGET",
                    f"the emulator cannot deliver to {service} targets",
                    retryable=False,
                )
        except ClientError as exc:
            raise delivery_error(exc) from exc


def _matches(rule: Rule, event: dict[str, Any]) -> bool:
    matched: bool = rule.event_pattern.matches_event(event)  # type: ignore[arg-type]
    return matched


def select_path(document: Any, path: str) -> Any:
    """A value by EventBridge's simple JSONPath (`$`, `$.a.b`, `$.a[0]`); None if absent."""
    if not path.startswith("$"):
        raise ValueError(f"input paths start with '$': {path!r}")
    value = document
    for part in path[1:].replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = part.strip("[]").strip("'\"")
            key: Any = int(index) if index.isdigit() else index
        else:
            key = part
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def target_input(target: dict[str, Any], event: dict[str, Any], rule_arn: str) -> str:
    """What the target receives: the event, `Input`, `InputPath` or `InputTransformer`."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(select_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer is None:
        return json.dumps(event)
    values = {
        name: select_path(event, path)
        for name, path in transformer.get("InputPathsMap", {}).items()
    }
    values.update(
        {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_arn.rsplit("/", maxsplit=1)[-1],
            "aws.events.event": event,
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event["time"],
        }
    )
    return render_template(transformer["InputTemplate"], values)


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill `<name>` placeholders: inside a JSON string as text, elsewhere as JSON."""
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > 0 else ""
            if name in values:
                value = values[name]
                if in_string:
                    out.append(value if isinstance(value, str) else json.dumps(value))
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        if in_string and char == "\\" and not escaped:
            escaped = True
        else:
            if char == '"' and not escaped:
                in_string = not in_string
            escaped = False
        out.append(char)
        i += 1
    return "".join(out)
