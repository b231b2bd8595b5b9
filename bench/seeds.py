"""The seeds' own designs, rebuilt only as references to measure orderflow against.

Nothing here is deployed or shipped. Each reference follows its seed as written, filling
in only what the seed leaves unsaid, and always in the seed's favour (smallest outputs,
no retries, the cheapest Lambda price), so a ratio against it is not inflated:

- seed 001: a Standard workflow reads the uploaded file into its state, an inline Map
  (≤ 40 concurrent iterations) invokes a Lambda per record, then `dynamodb:putItem` or
  `sqs:sendMessage` per record. The file must fit Step Functions' 256 KiB payload.
- seed 000: per late event, a Standard workflow: Pass (`FlagLateOrder`) + Lambda task.
- seed 003: two pipes with the seed's filters (its `anything-but "*test.com*"` is a
  literal and excludes no test customer; amounts cannot be compared in a filter), batch
  size 100, Lambdas that only print.
- seed 002: one Lambda invocation per message updating every chargeback it names, one
  UpdateItem after another (there is no fan-out in the seed).

Lambda settings the seeds do not state are the console defaults: 128 MB (seed 002 says
256 MB). The console's default architecture is x86_64; the references are priced at the
arm64 rate anyway (20% cheaper) so the comparison isolates the design.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

SEED_LAMBDA_MEMORY_MB: Final = 128
SEED_002_LAMBDA_MEMORY_MB: Final = 256  # "Memory: 256 MB" in the seed's cost estimate
SEED_003_BATCH_SIZE: Final = 100
LAMBDA_MAX_SECONDS: Final = 15 * 60
SEED_002_PARTITION_RECORDS: Final = 1_250_000  # "records_processed": 1250000
INLINE_MAP_MAX_CONCURRENCY: Final = 40
STANDARD_HISTORY_LIMIT: Final = 25_000

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
SEED_001_FUNCTION: Final = "ps-validate-sales-record"
SEED_001_TABLE: Final = "SalesOrders"
SEED_001_QUEUE_URL: Final = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/SalesOrdersDLQ"
SEED_000_FUNCTION: Final = "ps-reconcile-lambda"
SEED_001_ATTRIBUTES: Final = ("OrderId", "ItemId", "ItemDesc", "Qty", "Name", "Email")


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# -- seed 001 ----------------------------------------------------------------------------


def seed001_definition(
    function: str = SEED_001_FUNCTION,
    table: str = SEED_001_TABLE,
    queue_url: str = SEED_001_QUEUE_URL,
) -> dict[str, Any]:
    """The seed's workflow: read the file, inline Map, Lambda per record, put or DLQ.

    The seed shows no definition text; this is its diagram in ASL. In its favour: each
    iteration outputs `{}` (so the Map's collected results stay tiny) and nothing retries.
    """
    return {
        "Comment": "seed 001 reference: one Lambda invocation per record (bench only)",
        "StartAt": "ReadFile",
        "States": {
            "ReadFile": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {
                    "Bucket.$": "$.detail.bucket.name",
                    "Key.$": "$.detail.object.key",
                },
                "ResultSelector": {"Body.$": "States.StringToJson($.Body)"},
                "ResultPath": "$.file",
                "Next": "ProcessRecords",
            },
            "ProcessRecords": {
                "Type": "Map",
                "ItemsPath": "$.file.Body.orders",
                "MaxConcurrency": INLINE_MAP_MAX_CONCURRENCY,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "ValidateRecord",
                    "States": {
                        "ValidateRecord": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": function, "Payload.$": "$"},
                            "ResultSelector": {"item.$": "$.Payload"},
                            "ResultPath": "$.validated",
                            "Catch": [
                                {
                                    "ErrorEquals": ["States.ALL"],
                                    "ResultPath": "$.error",
                                    "Next": "SendToDLQ",
                                }
                            ],
                            "Next": "PutRecord",
                        },
                        "PutRecord": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::dynamodb:putItem",
                            "Parameters": {
                                "TableName": table,
                                "Item": {
                                    name: {"S.$": f"$.validated.item.{name}"}
                                    for name in SEED_001_ATTRIBUTES
                                },
                            },
                            "ResultPath": None,
                            "OutputPath": None,
                            "End": True,
                        },
                        "SendToDLQ": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::sqs:sendMessage",
                            "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$"},
                            "ResultPath": None,
                            "OutputPath": None,
                            "End": True,
                        },
                    },
                },
                "ResultPath": None,
                "End": True,
            },
        },
    }


def _field(section: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in section:
            return section[name]
    return None


def seed001_validate(event: dict[str, Any], context: Any) -> dict[str, str]:
    """The seed's Lambda: return the record when it has order and contact info, else raise.

    (The seed's sample spells `OrderId` and `orderId`; both are read, in its favour.)
    """
    order, contact = event.get("order-info"), event.get("contact-info")
    if not isinstance(order, dict) or not isinstance(contact, dict):
        raise ValueError("record is missing order-info or contact-info")
    return {
        "OrderId": str(_field(order, "OrderId", "orderId")),
        "ItemId": str(_field(order, "item-id")),
        "ItemDesc": str(_field(order, "item-desc")),
        "Qty": str(_field(order, "qty")),
        "Name": str(_field(contact, "name")),
        "Email": str(_field(contact, "email")),
    }


# -- seed 000 ----------------------------------------------------------------------------


def seed000_definition(function: str = SEED_000_FUNCTION) -> dict[str, Any]:
    """The seed's `ps-reconcile-workflow`, verbatim but for the function name."""
    return {
        "Comment": "Reconcile late orders",
        "StartAt": "FlagLateOrder",
        "States": {
            "FlagLateOrder": {
                "Type": "Pass",
                "Result": {"flag": "Late order flagged"},
                "ResultPath": "$.flag",
                "Next": "TriggerCorrection",
            },
            "TriggerCorrection": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "End": True,
            },
        },
    }


def seed000_reconcile(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The seed's `ps-reconcile-lambda` (it prints and returns; nothing is stored)."""
    order = event.get("detail", event)
    order_id = order.get("orderId", "N/A")
    amount = order.get("amount", "N/A")
    reason = order.get("reason", "N/A")
    timestamp = datetime.datetime.now(datetime.UTC).isoformat()
    print("Starting late-order reconciliation job")
    print(f"Order ID: {order_id}, Amount: ${amount}, Reason: {reason}")
    print(f"Reconciled at {timestamp}")
    return {"orderId": order_id, "status": "reconciled", "time": timestamp}


# -- seed 003 ----------------------------------------------------------------------------

SEED_003_STANDARD_FILTER: Final[dict[str, Any]] = {
    "eventName": ["INSERT", "MODIFY"],
    "dynamodb": {
        "NewImage": {
            "status": {"S": ["pending", "shipped"]},
            "customerEmail": {"S": [{"anything-but": "*test.com*"}]},
        }
    },
}
SEED_003_PREMIUM_FILTER: Final[dict[str, Any]] = {
    "eventName": ["MODIFY"],
    "dynamodb": {
        "NewImage": {
            "status": {"S": ["shipped"]},
            "customerEmail": {"S": [{"anything-but": "*test.com*"}]},
        },
        "OldImage": {"status": {"S": ["pending"]}},
    },
}


def seed003_order_processor(event: dict[str, Any], context: Any) -> dict[str, int]:
    """The seed's `OrderProcessorLambda`, verbatim (reads `event["Records"]`)."""
    for record in event.get("Records", []):
        new_image = record.get("dynamodb", {}).get("NewImage", {})
        order_id = new_image.get("orderId", {}).get("S")
        amount = float(new_image.get("amount", {}).get("N", "0"))
        status = new_image.get("status", {}).get("S")
        if amount > 100:
            print(f"Processed order {order_id} | Status: {status} | Amount: {amount}")
        else:
            print(f"Skipped order {order_id} (Amount too low)")
    return {"statusCode": 200}


def seed003_premium_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The seed's `PremiumOrderLambda`, verbatim (reads `event["Records"]`)."""
    premium_orders = []
    for record in event.get("Records", []):
        new = record["dynamodb"].get("NewImage", {})
        old = record["dynamodb"].get("OldImage", {})
        order_id = new.get("orderId", {}).get("S")
        new_status = new.get("status", {}).get("S")
        old_status = old.get("status", {}).get("S")
        amount = float(new.get("amount", {}).get("N", "0"))
        if old_status == "pending" and new_status == "shipped" and amount > 1000:
            print(f"Premium order shipped! Order ID: {order_id} | Amount: {amount}")
            premium_orders.append(order_id)
    return {"statusCode": 200, "premiumOrdersProcessed": premium_orders}


def seed003_intended(record: dict[str, Any], pipe: str) -> bool:
    """What the seed's README says each pipe lets through: no test customers, and (for
    the premium pipe) only amounts above 1000. Pipes cannot express either check."""
    new = record.get("dynamodb", {}).get("NewImage", {})
    email = str(new.get("customerEmail", {}).get("S", "")).lower()
    if "test.com" in email:
        return False
    if pipe == "premium":
        return float(new.get("amount", {}).get("N", "0")) > 1000
    return True
