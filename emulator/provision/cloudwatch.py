"""CloudWatch: log groups, metric alarms, and EventBridge (the `cloudwatch` module of
pulumi-aws) buses, rules and targets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from emulator.iam.key_policies import logs_may_use_key, principal_may_use_key
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from emulator.provision.registry import Provisioned, Request, pascal, provisioner, tags
from orderflow.aws_facts import EVENT_BUS_FILTER_OPERATORS, KMS_EVENTBRIDGE_KEY_POLICY

if TYPE_CHECKING:
    from emulator.engine import Emulator

# Every operator of EventBridge patterns. moto matches a misspelled one as "anything",
# so patterns are checked here, as AWS checks them in PutRule.
PATTERN_OPERATORS = EVENT_BUS_FILTER_OPERATORS.value


class KeyNotUsableError(PermissionError):
    """CloudWatch Logs may not use the log group's KMS key (its key policy does not allow it)."""


class InvalidEventPatternError(ValueError):
    """AWS would refuse this pattern (InvalidEventPatternException)."""


def _operators(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "$or":
                yield from _operators(value)
            else:
                for alternative in value:
                    yield from _operators(alternative)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield from item.keys()
                for value in item.values():
                    if isinstance(value, dict):  # e.g. anything-but: {prefix: ...}
                        yield from value.keys()


def check_event_pattern(pattern: str) -> None:
    """Raise for an operator EventBridge does not know."""
    unknown = sorted(set(_operators(json.loads(pattern))) - PATTERN_OPERATORS)
    if unknown:
        raise InvalidEventPatternError(
            f"event pattern uses unknown operator(s) {unknown}: {pattern}"
        )


@provisioner("aws:cloudwatch/logGroup:LogGroup")
def log_group(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    params: dict[str, Any] = {"logGroupName": name, "tags": tags(request)}
    if request.get("kmsKeyId"):
        params["kmsKeyId"] = request.get("kmsKeyId")
        # AWS asks the key policy whether CloudWatch Logs may use the key; moto does not.
        if not logs_may_use_key(params["kmsKeyId"], arn, REGION):
            raise KeyNotUsableError(
                "An error occurred (AccessDeniedException) when calling the CreateLogGroup "
                "operation: The specified KMS key does not exist or is not allowed to be used "
                f"with Arn '{arn}'"
            )
    client = emulator.client("logs")
    client.create_log_group(**params)
    if request.get("retentionInDays"):
        client.put_retention_policy(
            logGroupName=name, retentionInDays=request.int("retentionInDays")
        )
    return name, {"name": name, "arn": arn}


@provisioner("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    params: dict[str, Any] = {
        "AlarmName": name,
        "ComparisonOperator": request.get("comparisonOperator"),
        "EvaluationPeriods": request.int("evaluationPeriods"),
        "AlarmActions": request.get("alarmActions") or [],
        "OKActions": request.get("okActions") or [],
        "AlarmDescription": request.get("alarmDescription", ""),
        "TreatMissingData": request.get("treatMissingData", "missing"),
    }
    optional = {
        "namespace": "Namespace",
        "metricName": "MetricName",
        "statistic": "Statistic",
        "extendedStatistic": "ExtendedStatistic",
        "period": "Period",
        "threshold": "Threshold",
        "datapointsToAlarm": "DatapointsToAlarm",
    }
    for key, api_key in optional.items():
        if request.get(key) is not None:
            params[api_key] = pascal(request.get(key))
    if request.get("dimensions"):
        params["Dimensions"] = [
            {"Name": k, "Value": v} for k, v in request.get("dimensions").items()
        ]
    if request.get("metricQueries"):
        params["Metrics"] = pascal(request.get("metricQueries"))
    emulator.client("cloudwatch").put_metric_alarm(**params)
    return name, {"arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", "name": name}


@provisioner("aws:cloudwatch/eventBus:EventBus")
def event_bus(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    key = request.get("kmsKeyIdentifier")
    if key:
        # EventBridge uses a bus's customer managed key as itself: the key policy must allow
        # it (KMS_EVENTBRIDGE_KEY_POLICY). Checked when the bus is created (AWS may refuse
        # only the first event it cannot encrypt: failing here is the stricter choice).
        arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
        facts = KMS_EVENTBRIDGE_KEY_POLICY.value
        events = Principal.for_service(str(facts["principal"]), arn)
        context = ((str(facts["context_key"]).lower(), arn),)
        missing = principal_may_use_key(events, str(key), tuple(facts["actions"]), context, REGION)
        if missing:
            raise KeyNotUsableError(
                f"event bus {name}: the key policy of {key} does not allow "
                f"{facts['principal']} {', '.join(missing)}"
            )
    arn = emulator.client("events").create_event_bus(Name=name)["EventBusArn"]
    return name, {"name": name, "arn": arn}


@provisioner("aws:cloudwatch/eventRule:EventRule")
def event_rule(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    bus = request.get("eventBusName") or "default"
    params: dict[str, Any] = {
        "Name": name,
        "EventBusName": bus,
        "Description": request.get("description", ""),
    }
    if request.get("eventPattern"):
        check_event_pattern(request.get("eventPattern"))
        params["EventPattern"] = request.get("eventPattern")
    if request.get("scheduleExpression"):
        params["ScheduleExpression"] = request.get("scheduleExpression")
    if request.get("roleArn"):
        params["RoleArn"] = request.get("roleArn")
    state = request.get("state") or ("DISABLED" if request.get("isEnabled") is False else "ENABLED")
    params["State"] = state
    arn = emulator.client("events").put_rule(**params)["RuleArn"]
    ident = name if bus == "default" else f"{bus}/{name}"
    return ident, {"name": name, "arn": arn, "eventBusName": bus}


@provisioner("aws:cloudwatch/eventTarget:EventTarget")
def event_target(emulator: Emulator, request: Request) -> Provisioned:
    target_id = request.get("targetId") or request.physical("targetId")
    target: dict[str, Any] = {"Id": target_id, "Arn": request.get("arn")}
    simple = {"roleArn": "RoleArn", "input": "Input", "inputPath": "InputPath"}
    for key, api_key in simple.items():
        if request.get(key):
            target[api_key] = request.get(key)
    nested = ("inputTransformer", "retryPolicy", "deadLetterConfig", "sqsParameters")
    for key in nested:
        if request.get(key):
            target[key[:1].upper() + key[1:]] = pascal(request.get(key))
    if "InputTransformer" in target:  # the map's keys are the user's placeholder names
        target["InputTransformer"]["InputPathsMap"] = dict(
            (request.get("inputTransformer") or {}).get("inputPaths") or {}
        )
        target["InputTransformer"].pop("InputPaths", None)
    bus = request.get("eventBusName") or "default"
    response = emulator.client("events").put_targets(
        Rule=request.get("rule"), EventBusName=bus, Targets=[target]
    )
    if response.get("FailedEntryCount"):
        raise ValueError(f"PutTargets failed: {response['FailedEntries']}")
    return f"{request.get('rule')}-{target_id}", {"targetId": target_id}


@provisioner("aws:cloudwatch/dashboard:Dashboard")
def dashboard(emulator: Emulator, request: Request) -> Provisioned:
    """PutDashboard checks the body is JSON, as AWS does (widgets are not validated)."""
    name = request.physical("dashboardName")
    emulator.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=request.get("dashboardBody")
    )
    arn = f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{name}"
    return name, {"dashboardName": name, "dashboardArn": arn}
