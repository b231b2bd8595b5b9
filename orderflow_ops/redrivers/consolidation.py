"""ConsolidationConsumer letters: the stored Kafka record back to the consumer function.

The letter's `record` is the MSK record verbatim (`topic`, `partition`, `offset`, base64
`value`, ...). It is wrapped in an MSK event of one record, as the event source mapping
delivers it, and the consumer is invoked synchronously. The consumer records each
consolidation once (a conditional put keyed by the consolidation) and starts its fan-out
under a deterministic execution name, so a replayed record is a no-op the second time;
a record still poisonous is dead-lettered again under the same id. The consumer is the
function of the mapping reading the record's cluster (`ListEventSourceMappings`) unless
given with `--function`.

Row letters of the fan-out (`chargebacks_missing`, `row_without_chargeback_id`) are
not redriven here: they name rows of a consolidated file, which the next replay of the
consolidation event re-applies once the table holds the chargebacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow_ops.messages import Kind, Letter
from orderflow_ops.redrivers.base import Plan, invoke_batch, skip


def msk_event(record: Mapping[str, Any], event_source_arn: str | None) -> dict[str, Any]:
    """An MSK event source mapping event holding just `record`."""
    key = f"{record.get('topic')}-{record.get('partition')}"
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": event_source_arn,
        "records": {key: [dict(record)]},
    }


class ConsolidationRedriver:
    """Redrives Kafka-record letters to the consumer."""

    name = "consolidation"

    def __init__(self, *, lambda_client: Any, consumer_function: str | None = None) -> None:
        self.lambda_client = lambda_client
        self._consumer = consumer_function
        self._by_source: dict[str, str | None] = {}

    def accepts(self, letter: Letter) -> bool:
        source = letter.source
        return letter.kind is Kind.DEAD_LETTER and (
            {"topic", "partition", "offset"} <= source.keys() or "rowsSha256" in source
        )

    def consumer_for(self, event_source_arn: str | None) -> str | None:
        if self._consumer is not None or not event_source_arn:
            return self._consumer
        if event_source_arn not in self._by_source:
            mappings = self.lambda_client.list_event_source_mappings(
                EventSourceArn=event_source_arn
            ).get("EventSourceMappings", [])
            self._by_source[event_source_arn] = (
                str(mappings[0]["FunctionArn"]) if mappings else None
            )
        return self._by_source[event_source_arn]

    def plan(self, letter: Letter, *, force: bool = False) -> Plan:
        source = letter.source
        if "rowsSha256" in source:
            return skip(
                "rows of a consolidated file: fix the chargebacks table, then replay the "
                "consolidation event (see the module docstring)"
            )
        record = letter.payload
        if letter.truncated or not isinstance(record, Mapping):
            return skip("the letter holds no whole Kafka record")
        arn = source.get("eventSourceArn")
        arn = arn if isinstance(arn, str) else None
        consumer = self.consumer_for(arn)
        if consumer is None:
            return skip("no consumer found: pass --function")
        event = msk_event(record, arn)
        where = f"{source.get('topic')}/{source.get('partition')}@{source.get('offset')}"
        return Plan(
            "invoke",
            consumer,
            event,
            note=f"Kafka record {where}",
            perform=lambda: invoke_batch(self.lambda_client, consumer, event),
        )
