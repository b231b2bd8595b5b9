"""Typed settings of the order handlers, read from the environment once per cold start.

A misconfiguration raises `ConfigError` on the first invocation instead of publishing
wrong events: the Pipe retries, the errors alarm fires, nothing is decided on bad rules.
An empty variable means "use the default" (stack tooling often renders unset config as "").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final, Literal

from runtime.orders.domain import PremiumRules, StandardRules, normalise_domain

Flow = Literal["standard", "premium"]

DEFAULTS: Final[Mapping[str, str]] = {
    "EVENT_SOURCE": "orderflow.orders",
    "ACCEPTED_STATUSES": "pending,shipped",
    "KNOWN_STATUSES": "pending,processing,shipped,delivered,cancelled",
    "PREMIUM_FROM_STATUS": "pending",
    "PREMIUM_TO_STATUS": "shipped",
    "STANDARD_MIN_AMOUNT": "100",
    "PREMIUM_MIN_AMOUNT": "1000",
    "TEST_EMAIL_DOMAINS": "test.com",
    "PIPELINE_NAME": "premium",
}

# Statuses become part of the idempotency key `type|orderId|old|new`: no `|`, no spaces.
_STATUS: Final = re.compile(r"[A-Za-z0-9_.:-]+")


class ConfigError(ValueError):
    """The environment does not describe a usable configuration."""


@dataclass(frozen=True)
class Settings:
    """Everything a handler needs besides the event."""

    flow: Flow
    event_bus_name: str
    event_source: str
    topic_arn: str | None
    dead_letter_queue_url: str
    idempotency_table_name: str
    known_statuses: frozenset[str]
    standard: StandardRules
    premium: PremiumRules
    pipeline_name: str


def _value(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip() or DEFAULTS.get(name, "")


def _required(environ: Mapping[str, str], name: str) -> str:
    value = _value(environ, name)
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def _statuses(environ: Mapping[str, str], name: str) -> frozenset[str]:
    statuses = frozenset(part.strip() for part in _value(environ, name).split(",") if part.strip())
    if not statuses:
        raise ConfigError(f"{name} names no status")
    for status in statuses:
        if not _STATUS.fullmatch(status):
            raise ConfigError(f"{name}: status {status!r} may only use letters, digits, _.:-")
    return statuses


def _amount(environ: Mapping[str, str], name: str) -> Decimal:
    text = _value(environ, name)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{name}={text!r} is not a decimal number") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{name}={text!r} must be a finite, non-negative number")
    return amount


def _domains(environ: Mapping[str, str]) -> tuple[str, ...]:
    domains = tuple(
        dict.fromkeys(
            normalise_domain(part)
            for part in _value(environ, "TEST_EMAIL_DOMAINS").split(",")
            if normalise_domain(part)
        )
    )
    for domain in domains:
        if "@" in domain or any(char.isspace() for char in domain):
            raise ConfigError(f"TEST_EMAIL_DOMAINS: {domain!r} is not a domain")
    return domains


def load_settings(flow: Flow, environ: Mapping[str, str]) -> Settings:
    """Read and check the settings of one handler (`TOPIC_ARN` only matters for premium)."""
    known = _statuses(environ, "KNOWN_STATUSES")
    accepted = _statuses(environ, "ACCEPTED_STATUSES")
    if not accepted <= known:
        raise ConfigError(
            f"ACCEPTED_STATUSES {sorted(accepted - known)} are not in KNOWN_STATUSES; such "
            "records would be dead-lettered as unknown_status before they could be accepted"
        )
    from_status = _required(environ, "PREMIUM_FROM_STATUS")
    to_status = _required(environ, "PREMIUM_TO_STATUS")
    for name, status in (("PREMIUM_FROM_STATUS", from_status), ("PREMIUM_TO_STATUS", to_status)):
        if status not in known:
            raise ConfigError(f"{name}={status!r} is not in KNOWN_STATUSES")
    domains = _domains(environ)
    topic_arn = _required(environ, "TOPIC_ARN") if flow == "premium" else None
    return Settings(
        flow=flow,
        event_bus_name=_required(environ, "EVENT_BUS_NAME"),
        event_source=_required(environ, "EVENT_SOURCE"),
        topic_arn=topic_arn,
        dead_letter_queue_url=_required(environ, "DEAD_LETTER_QUEUE_URL"),
        idempotency_table_name=_required(environ, "IDEMPOTENCY_TABLE_NAME"),
        known_statuses=known,
        standard=StandardRules(accepted, _amount(environ, "STANDARD_MIN_AMOUNT"), domains),
        premium=PremiumRules(
            from_status, to_status, _amount(environ, "PREMIUM_MIN_AMOUNT"), domains
        ),
        pipeline_name=_required(environ, "PIPELINE_NAME"),
    )
