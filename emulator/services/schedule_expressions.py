"""EventBridge Scheduler expressions: `rate(...)`, `cron(...)` and `at(...)`, evaluated.

Why here and not from moto: moto stores a schedule's expression without reading it, and
the emulator must know when each occurrence falls on its virtual clock. AWS refuses a
malformed expression at CreateSchedule (ValidationException); `parse_expression` raises
`InvalidScheduleExpressionError` for the same, so the deploy fails as it would.

- `rate(value unit)`: unit minute(s), hour(s) or day(s); occurrences every `value` units
  from the schedule's start (its StartDate, else its creation on the virtual clock).
- `cron(minutes hours day-of-month month day-of-week year)`: AWS's six fields, evaluated
  in the schedule's time zone: `*`, `,`, `-`, `/`, names (JAN, MON), `?` (exactly one of
  the two day fields), `L` and `W` in day-of-month (`L`, `LW`, `15W`), `L` and `#` in
  day-of-week (`6L`, `2#1`); day-of-week 1 is Sunday.
- `at(yyyy-mm-ddThh:mm:ss)`: one occurrence, in the schedule's time zone.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RATE: Final = re.compile(r"^rate\((\d+)\s+(minutes?|hours?|days?)\)$")
_CRON: Final = re.compile(r"^cron\((.+)\)$")
_AT: Final = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS: Final = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
# AWS numbers days of the week 1 (SUN) to 7 (SAT).
_WEEKDAYS: Final = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_SEARCH_DAYS: Final = 366 * 8
"""How far ahead a cron occurrence is looked for (a Feb 29 on a Monday can take years)."""


class InvalidScheduleExpressionError(ValueError):
    """AWS would refuse this expression (ValidationException on CreateSchedule)."""


class ScheduleExpression(Protocol):
    """When a schedule fires."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment` (aware UTC), None if none is left."""
        ...


def zone(name: str) -> tzinfo:
    """An IANA time zone (UTC needs no tz database)."""
    if name.upper() in {"UTC", "ETC/UTC", "Z"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidScheduleExpressionError(f"unknown time zone {name!r}") from exc


def parse_expression(
    expression: str, timezone: str = "UTC", *, start: datetime
) -> ScheduleExpression:
    """The expression as an object that knows its occurrences; `start` anchors `rate`."""
    text = expression.strip()
    where = zone(timezone or "UTC")
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if value < 1:
            raise InvalidScheduleExpressionError(f"a rate must be at least 1: {expression!r}")
        return Rate(timedelta(seconds=value * _UNIT_SECONDS[unit]), start.astimezone(UTC))
    at = _AT.match(text)
    if at:
        local = datetime.fromisoformat(at.group(1)).replace(tzinfo=where)
        return At(local.astimezone(UTC))
    cron = _CRON.match(text)
    if cron:
        return Cron.parse(cron.group(1), where)
    raise InvalidScheduleExpressionError(
        f"not a schedule expression (rate(...), cron(...) or at(...)): {expression!r}"
    )


@dataclass(frozen=True)
class Rate:
    period: timedelta
    start: datetime

    def next_after(self, moment: datetime) -> datetime | None:
        if moment < self.start:
            return self.start + self.period
        periods = (moment - self.start) // self.period + 1
        return self.start + periods * self.period


@dataclass(frozen=True)
class At:
    moment: datetime

    def next_after(self, moment: datetime) -> datetime | None:
        return self.moment if self.moment > moment else None


DayRule = Callable[[date], bool]
"""Whether a calendar day matches the day-of-month / day-of-week fields."""


def _aws_weekday(day: date) -> int:
    return (day.isoweekday() % 7) + 1  # ISO Monday is 1; AWS numbers Sunday 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date) -> date:
    """The weekday nearest `day` within its month (AWS's `W`)."""
    if day.weekday() < 5:
        return day
    last = _last_day(day)
    if day.weekday() == 5:  # Saturday: the Friday before, unless that leaves the month
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """`*`, `a`, `a-b`, `a/n`, `a-b/n`, `*/n`, comma-separated; names allowed."""

    def number(text: str) -> int:
        key = text.upper()
        if names and key in names:
            return names[key]
        if not text.isdigit():
            raise InvalidScheduleExpressionError(f"{text!r} is not a value in {field!r}")
        return int(text)

    out: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = number(step_text) if step_text else 1
        if step < 1:
            raise InvalidScheduleExpressionError(f"step 0 in {field!r}")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = number(a), number(b)
        else:
            first = number(base)
            last = high if step_text else first
        if not low <= first <= high or not low <= last <= high or first > last:
            raise InvalidScheduleExpressionError(f"{part!r} is outside {low}-{high}")
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _day_of_month(field: str) -> DayRule:
    if field in ("*", "?"):
        return lambda day: True
    if field == "L":
        return lambda day: day.day == _last_day(day)
    if field == "LW":
        return lambda day: day == _nearest_weekday(day.replace(day=_last_day(day)))
    if field.endswith("W") and field[:-1].isdigit():
        wanted = int(field[:-1])
        return lambda day: day == _nearest_weekday(day.replace(day=min(wanted, _last_day(day))))
    days = _values(field, 1, 31)
    return lambda day: day.day in days


def _day_of_week(field: str) -> DayRule:
    if field in ("*", "?"):
        return lambda day: True
    if field.endswith("L") and len(field) > 1:
        weekday = next(iter(_values(field[:-1], 1, 7, _WEEKDAYS)))
        return lambda day: _aws_weekday(day) == weekday and day.day + 7 > _last_day(day)
    if "#" in field:
        text, _, nth_text = field.partition("#")
        if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise InvalidScheduleExpressionError(f"{field!r}: the week must be 1-5")
        weekday, nth = next(iter(_values(text, 1, 7, _WEEKDAYS))), int(nth_text)
        return lambda day: _aws_weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    weekdays = _values(field, 1, 7, _WEEKDAYS)
    return lambda day: _aws_weekday(day) in weekdays


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day: DayRule
    where: tzinfo

    @classmethod
    def parse(cls, fields_text: str, where: tzinfo) -> Cron:
        fields = fields_text.split()
        if len(fields) != 6:
            raise InvalidScheduleExpressionError(
                f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), "
                f"got {len(fields)}: {fields_text!r}"
            )
        minutes, hours, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise InvalidScheduleExpressionError(
                f"exactly one of day-of-month and day-of-week must be '?': {fields_text!r}"
            )
        return cls(
            minutes=tuple(sorted(_values(minutes, 0, 59))),
            hours=tuple(sorted(_values(hours, 0, 23))),
            months=_values(month, 1, 12, _MONTHS),
            years=_values(year, 1970, 2199),
            day=_day_of_month(dom) if dow == "?" else _day_of_week(dow),
            where=where,
        )

    def next_after(self, moment: datetime) -> datetime | None:
        local = moment.astimezone(self.where)
        day = local.date()
        for _ in range(_SEARCH_DAYS):
            if day.year in self.years and day.month in self.months and self.day(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        candidate = datetime(
                            day.year, day.month, day.day, hour, minute, tzinfo=self.where
                        ).astimezone(UTC)
                        if candidate > moment:
                            return candidate
            day += timedelta(days=1)
        return None
