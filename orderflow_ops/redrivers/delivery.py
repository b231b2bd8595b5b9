"""AWS services' own DLQs: re-deliver the original event or input to the target that missed it.

- EventBridge rule targets (`RULE_ARN`, `TARGET_ARN` attributes, the event as the body):
  the target's configuration is read back from the rule (`ListTargetsByRule`) to apply
  its `Input` or `InputPath` as EventBridge would; then the target is called directly.
  Putting the event on the bus again is no option for `aws.*` sources such as S3's
  `Object Created`, which PutEvents refuses.
- EventBridge Scheduler (`SCHEDULE_ARN`, `TARGET_ARN`, the target input as the body):
  the input goes to the target as it is.
- Lambda asynchronous invocation (`RequestID`, ...): the event is invoked asynchronously
  again on the function given with `--function` (the message does not name it).

Targets: Step Functions (`StartExecution` named after the message, so a retried redrive
starts nothing twice), Lambda (asynchronous `Invoke`), SQS, SNS. Others are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from orderflow_ops.messages import Kind, Letter
from orderflow_ops.redrivers.base import Plan, Result, execution_name, skip, start_execution

_KINDS = frozenset({Kind.UNDELIVERED_EVENT, Kind.SCHEDULE_FAILURE, Kind.ASYNC_INVOKE_FAILURE})


def select_path(document: Any, path: str) -> Any:
    """EventBridge's simple JSONPath (`$`, `$.a.b`); None when absent."""
    value = document
    for part in path.removeprefix("$").split("."):
        if not part:
            continue
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def rule_of(rule_arn: str) -> tuple[str, str]:
    """(bus, rule name) of `arn:aws:events:<region>:<account>:rule/[<bus>/]<name>`."""
    path = rule_arn.split(":rule/", 1)[-1]
    bus, _, name = path.rpartition("/")
    return bus or "default", name


class DeliveryRedriver:
    """Redrives what EventBridge rules, schedules and async invocations could not deliver."""

    name = "delivery"

    def __init__(
        self,
        *,
        sfn: Any,
        lambda_client: Any,
        events: Any = None,
        sqs: Any = None,
        sns: Any = None,
        function: str | None = None,
    ) -> None:
        self.sfn = sfn
        self.lambda_client = lambda_client
        self.events = events
        self.sqs = sqs
        self.sns = sns
        self.function = function

    def accepts(self, letter: Letter) -> bool:
        return letter.kind in _KINDS

    def plan(self, letter: Letter, *, force: bool = False) -> Plan:
        if letter.kind is Kind.ASYNC_INVOKE_FAILURE:
            target = self.function
            if target is None:
                return skip("the message does not name its function: pass --function")
            payload: Any = letter.payload
        else:
            target = str(letter.source.get("target") or "")
            if not target:
                return skip("the message names no TARGET_ARN")
            payload = letter.payload
            if letter.kind is Kind.UNDELIVERED_EVENT:
                configured = self._target_input(letter, target)
                if isinstance(configured, Plan):
                    return configured
                payload = configured
        return self._deliver(letter, target, payload)

    def _target_input(self, letter: Letter, target: str) -> Any:
        """What the rule's target receives from the event, or a skip Plan."""
        rule = letter.source.get("rule")
        if not isinstance(rule, str) or self.events is None:
            return letter.payload
        bus, name = rule_of(rule)
        try:
            configured = self.events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        except ClientError:
            return letter.payload  # the rule is gone: deliver the event as it was
        entry: dict[str, Any] = next((t for t in configured if t.get("Arn") == target), {})
        if "Input" in entry:
            return json.loads(entry["Input"])
        if "InputPath" in entry:
            return select_path(letter.payload, str(entry["InputPath"]))
        if "InputTransformer" in entry:
            return skip("the target uses an InputTransformer: re-deliver it by hand")
        return letter.payload

    def _deliver(self, letter: Letter, target: str, payload: Any) -> Plan:
        service = target.split(":")[2] if target.count(":") >= 5 else ""
        if service == "states":
            name = execution_name(letter)
            return Plan(
                "start-execution",
                target,
                payload,
                note=f"execution {name}",
                perform=lambda: start_execution(self.sfn, target, payload, name),
            )
        if service == "lambda":
            return Plan(
                "invoke-async", target, payload, perform=lambda: self._invoke(target, payload)
            )
        if service == "sqs" and self.sqs is not None:
            return Plan(
                "send-message", target, payload, perform=lambda: self._send(target, payload)
            )
        if service == "sns" and self.sns is not None:
            return Plan("publish", target, payload, perform=lambda: self._publish(target, payload))
        return skip(f"cannot re-deliver to {target or 'an unnamed target'}")

    def _invoke(self, function: str, payload: Any) -> Result:
        try:
            self.lambda_client.invoke(
                FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode()
            )
        except ClientError as exc:
            return Result(False, "invoke refused", str(exc))
        return Result(True, "queued", "asynchronous invocation accepted")

    def _send(self, queue_arn: str, payload: Any) -> Result:
        *_, account, name = queue_arn.split(":", 5)
        try:
            url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
            self.sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=json.dumps(payload))
        except ClientError as exc:
            return Result(False, "send refused", str(exc))
        return Result(True, "sent")

    def _publish(self, topic_arn: str, payload: Any) -> Result:
        try:
            self.sns.publish(TopicArn=topic_arn, Message=json.dumps(payload))
        except ClientError as exc:
            return Result(False, "publish refused", str(exc))
        return Result(True, "published")
