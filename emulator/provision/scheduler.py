"""EventBridge Scheduler: schedules and schedule groups (fired by `services.scheduler`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from emulator.provision.registry import Provisioned, Request, pascal, provisioner, tags
from emulator.services.schedule_expressions import parse_expression

if TYPE_CHECKING:
    from emulator.engine import Emulator

# Pulumi's camelCase target fields whose API names are not plain PascalCase.
_TARGET_RENAMES = {"eventbridgeParameters": "EventBridgeParameters"}


def _date(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


@provisioner("aws:scheduler/schedule:Schedule")
def schedule(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    group = request.get("groupName") or "default"
    expression = request.get("scheduleExpression")
    timezone = request.get("scheduleExpressionTimezone") or "UTC"
    start, end = _date(request.get("startDate")), _date(request.get("endDate"))
    # AWS checks the expression and time zone on CreateSchedule; so does the deploy here.
    now = datetime.fromtimestamp(emulator.clock.now(), UTC)
    parse_expression(expression, timezone, start=start or now)
    window = request.get("flexibleTimeWindow") or {"mode": "OFF"}
    params: dict[str, Any] = {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": timezone,
        "FlexibleTimeWindow": pascal(window),
        "Target": pascal(request.get("target"), _TARGET_RENAMES),
        "State": request.get("state") or "ENABLED",
        "Description": request.get("description") or "",
    }
    optional = {"KmsKeyArn": request.get("kmsKeyArn"), "StartDate": start, "EndDate": end}
    params.update({k: v for k, v in optional.items() if v})
    if request.get("actionAfterCompletion"):
        params["ActionAfterCompletion"] = request.get("actionAfterCompletion")
    arn = emulator.client("scheduler").create_schedule(**params)["ScheduleArn"]
    emulator.scheduler.created(arn)
    return f"{group}/{name}", {"name": name, "arn": arn, "groupName": group}


@provisioner("aws:scheduler/scheduleGroup:ScheduleGroup")
def schedule_group(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    arn = emulator.client("scheduler").create_schedule_group(
        Name=name, Tags=[{"Key": k, "Value": v} for k, v in tags(request).items()]
    )["ScheduleGroupArn"]
    return name, {"name": name, "arn": arn}
