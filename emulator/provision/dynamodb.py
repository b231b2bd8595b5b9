"""DynamoDB tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.provision.registry import Provisioned, Request, provisioner

if TYPE_CHECKING:
    from emulator.engine import Emulator


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _throughput(spec: dict[str, Any], on_demand: bool) -> dict[str, Any]:
    if on_demand:
        return {}
    return {
        "ProvisionedThroughput": {
            "ReadCapacityUnits": int(spec.get("readCapacity") or 1),
            "WriteCapacityUnits": int(spec.get("writeCapacity") or 1),
        }
    }


def _index_key_schema(spec: dict[str, Any], hash_key: str | None) -> list[dict[str, str]]:
    """pulumi-aws 7 names an index's keys in `keySchemas`; older programs use hashKey/rangeKey."""
    if spec.get("keySchemas"):
        return [
            {"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
            for k in spec["keySchemas"]
        ]
    return _key_schema(hash_key or spec["hashKey"], spec.get("rangeKey"))


def _index(spec: dict[str, Any], on_demand: bool, *, hash_key: str | None = None) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": spec.get("projectionType", "ALL")}
    if spec.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = spec["nonKeyAttributes"]
    return {
        "IndexName": spec["name"],
        "KeySchema": _index_key_schema(spec, hash_key),
        "Projection": projection,
        **_throughput(spec, on_demand),
    }


@provisioner("aws:dynamodb/table:Table")
def table(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    on_demand = request.get("billingMode") == "PAY_PER_REQUEST"
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": _key_schema(request.get("hashKey"), request.get("rangeKey")),
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]}
            for a in request.get("attributes", [])
        ],
        "BillingMode": request.get("billingMode", "PROVISIONED"),
        "DeletionProtectionEnabled": bool(request.get("deletionProtectionEnabled", False)),
        **_throughput(request.inputs, on_demand),
    }
    if request.get("globalSecondaryIndexes"):
        params["GlobalSecondaryIndexes"] = [
            _index(i, on_demand) for i in request.get("globalSecondaryIndexes")
        ]
    if request.get("localSecondaryIndexes"):
        params["LocalSecondaryIndexes"] = [
            _index(i, True, hash_key=request.get("hashKey"))
            for i in request.get("localSecondaryIndexes")
        ]
    if request.get("streamEnabled"):
        params["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": request.get("streamViewType"),
        }
    sse = request.get("serverSideEncryption") or {}
    if sse.get("enabled"):
        params["SSESpecification"] = {
            "Enabled": True,
            "SSEType": "KMS",
            **({"KMSMasterKeyId": sse["kmsKeyArn"]} if sse.get("kmsKeyArn") else {}),
        }
    client = emulator.client("dynamodb")
    description = client.create_table(**params)["TableDescription"]
    ttl = request.get("ttl") or {}
    if ttl.get("enabled"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
        )
    if (request.get("pointInTimeRecovery") or {}).get("enabled"):
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    outputs = {"name": name, "arn": description["TableArn"]}
    if description.get("LatestStreamArn"):
        outputs.update(
            streamArn=description["LatestStreamArn"], streamLabel=description["LatestStreamLabel"]
        )
    return name, outputs
