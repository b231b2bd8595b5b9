"""ConsolidationConsumer runtime: MSK consolidation events → chargebacks updated once, in order.

`handler.consume` decodes and validates each Kafka record, dead-letters poison, records the
consolidation once and starts the fan-out workflow; `handler.apply_updates` applies one
consolidation to a batch of chargeback rows read by that workflow's Distributed Map.
"""
