"""What a Distributed Map reads from S3, and the `s3:prefix` condition on listing it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.engine import Emulator
from emulator.iam.actions import Need, needs_for
from emulator.iam.policies import Decision, Principal, decide
from emulator.services.s3_reader import list_objects, object_body
from emulator.states.errors import TaskError
from emulator.states.readers import items_from_object

ROLE = Principal.role("arn:aws:iam::123456789012:role/reader")
LISTING = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::data",
                "Condition": {"StringLike": {"s3:prefix": ["consolidated/*"]}},
            }
        ],
    }
)


def listing(params: dict[str, Any]) -> Decision:
    (need,) = needs_for("s3", "ListObjectsV2", {"Bucket": "data", **params}, "us-east-1")
    return decide(
        need.action,
        need.resource,
        principal=ROLE,
        identity_policies=[LISTING],
        resource_policy=None,
        request_context=need.context,
    )


def test_a_listing_carries_its_prefix_as_a_condition_key() -> None:
    assert needs_for("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p/"}, "us-east-1") == [
        Need("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", "p/"),))
    ]


def test_the_prefix_condition_allows_only_matching_listings() -> None:
    assert listing({"Prefix": "consolidated/day=1/"}) is Decision.ALLOW
    assert listing({"Prefix": "elsewhere/"}) is Decision.IMPLICIT_DENY
    assert listing({}) is Decision.IMPLICIT_DENY  # no prefix: the key is absent


@pytest.fixture(scope="module")
def s3(bare: Emulator) -> Any:
    client = bare.client("s3")
    client.create_bucket(Bucket="data")
    for n in range(5):
        client.put_object(Bucket="data", Key=f"consolidated/part-{n}.csv", Body=b"id\n1\n")
    client.put_object(Bucket="data", Key="other/x.csv", Body=b"id\n")
    return client


def test_a_listing_follows_every_page_and_yields_step_functions_items(s3: Any) -> None:
    listed = list_objects(s3, {"Bucket": "data", "Prefix": "consolidated/", "MaxKeys": 2})
    keys = [item["Key"] for item in listed["Contents"]]
    assert keys == [f"consolidated/part-{n}.csv" for n in range(5)]
    first = listed["Contents"][0]
    assert set(first) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert isinstance(first["LastModified"], int)
    assert first["Size"] == 5


def test_object_bodies_are_text_bytes_or_undecodable_parquet() -> None:
    assert object_body(b"id\n1\n") == "id\n1\n"
    assert object_body(b"\xff\xfe") == b"\xff\xfe"
    parquet = b"PAR1 columns PAR1"
    assert object_body(parquet) == parquet  # pyarrow is not a dependency
    with pytest.raises(TaskError) as failed:
        items_from_object(parquet, {"InputType": "PARQUET"}, source="s3://data/x.parquet")
    assert failed.value.error == "States.ItemReaderFailed"
    assert "pyarrow" in failed.value.cause
