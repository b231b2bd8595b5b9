"""The price arithmetic on hand-computed examples (prices: AWS-FACTS.md's table)."""

from __future__ import annotations

import pytest

from bench.pricing import MILLION, SERVICES, Usage, breakdown, cost, per_million, rounded


@pytest.mark.parametrize(
    ("usage", "service", "dollars"),
    [
        (Usage(standard_transitions=1_000), "stepfunctions_standard", 0.025),
        (Usage(express_requests=1_000_000), "stepfunctions_express", 1.00),
        (Usage(express_gb_seconds=1_000), "stepfunctions_express", 0.01667),
        (Usage(lambda_requests=1_000_000), "lambda_requests", 0.20),
        (Usage(lambda_gb_seconds_arm64=1_000_000), "lambda_gb_seconds", 13.3334),
        (Usage(lambda_gb_seconds_x86_64=1_000_000), "lambda_gb_seconds", 16.6667),
        (Usage(dynamodb_write_units=1_000_000), "dynamodb_writes", 0.625),
        (Usage(dynamodb_read_units=1_000_000), "dynamodb_reads", 0.125),
        (Usage(sqs_requests=1_000_000), "sqs", 0.40),
        (Usage(eventbridge_custom_events=1_000_000), "eventbridge", 1.00),
        (Usage(pipes_requests=1_000_000), "pipes", 0.40),
        (Usage(sns_requests=1_000_000), "sns", 0.50),
        (Usage(cloudwatch_log_bytes=2 * 2**30), "cloudwatch_logs", 1.00),  # $0.50 per GB
    ],
)
def test_each_price_line(usage: Usage, service: str, dollars: float) -> None:
    costs = breakdown(usage)
    assert costs[service] == pytest.approx(dollars)
    assert cost(usage) == pytest.approx(dollars)  # nothing else is charged


def test_breakdown_has_every_service_and_sums_to_the_cost() -> None:
    usage = Usage(
        standard_transitions=25,
        express_requests=20,
        express_gb_seconds=2.5,
        lambda_requests=21,
        lambda_gb_seconds_arm64=17.5,
        dynamodb_write_units=17_593,
        sqs_requests=248,
    )
    costs = breakdown(usage)
    assert tuple(costs) == SERVICES
    assert sum(costs.values()) == pytest.approx(cost(usage))
    # By hand: 25 x 0.000025 + 20 x 1e-6 + 2.5 x 0.00001667 + 21 x 2e-7
    #        + 17.5 x 0.0000133334 + 17,593 x 6.25e-7 + 248 x 4e-7
    expected = 0.000625 + 0.00002 + 0.000041675 + 0.0000042 + 0.0002333345 + 0.010995625 + 0.0000992
    assert cost(usage) == pytest.approx(expected)


def test_scaling_to_a_million_records_is_linear() -> None:
    run = Usage(dynamodb_write_units=20_000, lambda_requests=20, unpriced={"log_bytes": 100.0})
    scaled = per_million(run, 20_000)
    assert scaled.dynamodb_write_units == pytest.approx(MILLION)
    assert scaled.lambda_requests == pytest.approx(1_000)
    assert scaled.unpriced == {"log_bytes": pytest.approx(5_000.0)}
    assert cost(scaled) == pytest.approx(0.625 + 1_000 * 0.20 / MILLION)
    # Per million is the run's cost times (1M / records).
    assert cost(scaled) == pytest.approx(cost(run) * MILLION / 20_000)


def test_scaling_needs_records() -> None:
    with pytest.raises(ValueError, match="0 records"):
        per_million(Usage(), 0)


def test_usages_add_up_including_unpriced_counts() -> None:
    total = Usage(sqs_requests=1, unpriced={"a": 1.0}) + Usage(sqs_requests=2, unpriced={"a": 2.0})
    assert total.sqs_requests == 3
    assert total.unpriced == {"a": 3.0}
    assert total.as_dict()["unpriced"] == {"a": 3.0}


def test_rounding_keeps_keys() -> None:
    assert rounded({"x": 0.123456789}) == {"x": 0.123457}
