"""Lambda runtime of the PremiumOrderPipe: orders-table stream records in, domain events out.

`domain` holds the pure rules, `config` the settings, `publisher` and `idempotency` the AWS
access, and `handler` the two thin entry points the EventBridge Pipes invoke.
"""
