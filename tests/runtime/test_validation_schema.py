"""The record schema: pure, so every rule is checked directly."""

from __future__ import annotations

from typing import Any

import pytest
from validation_support import seed_records, valid_record

from runtime.validation.schema import (
    MAX_QUANTITY,
    RECORD_REASONS,
    SCHEMA,
    Kind,
    Rejection,
    ValidRecord,
    normalise_key,
    validate_record,
)


def rejection(record: Any, **kwargs: Any) -> Rejection:
    outcome = validate_record(record, **kwargs)
    assert isinstance(outcome, Rejection), outcome
    assert outcome.reason in RECORD_REASONS
    return outcome


def accepted(record: Any) -> ValidRecord:
    outcome = validate_record(record)
    assert isinstance(outcome, ValidRecord), outcome
    return outcome


def test_seed_first_record_is_valid_with_capitalised_order_id() -> None:
    record = accepted(seed_records()[0])
    assert record == ValidRecord(
        order_id="1",
        item_id="101",
        item_description="Item One",
        quantity=1,
        customer_name="Foo Bar",
        customer_email="foobar@test.com",
    )


def test_seed_second_record_lacks_contact_info() -> None:
    outcome = rejection(seed_records()[1])
    assert outcome.reason == "missing_contact_info"
    assert "contact-info is missing" in outcome.message


def test_schema_is_declarative_and_covers_every_field() -> None:
    names = {(section.name, spec.name) for section in SCHEMA for spec in section.fields}
    assert names == {
        ("order-info", "orderId"),
        ("order-info", "item-id"),
        ("order-info", "item-desc"),
        ("order-info", "qty"),
        ("contact-info", "name"),
        ("contact-info", "email"),
    }
    optional = [spec.name for section in SCHEMA for spec in section.fields if not spec.required]
    assert optional == ["item-desc"]
    assert {spec.kind for section in SCHEMA for spec in section.fields} == set(Kind)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("OrderId", "orderid"),
        ("order_id", "orderid"),
        ("order-id", "orderid"),
        ("orderID", "orderid"),
        ("ORDER__ID", "orderid"),
        ("ContactInfo", "contactinfo"),
        ("contact_info", "contactinfo"),
    ],
)
def test_normalise_key(spelling: str, canonical: str) -> None:
    assert normalise_key(spelling) == canonical


def test_key_variants_everywhere_are_accepted() -> None:
    record = {
        "OrderInfo": {"order_id": "A-1", "ItemId": "9", "ITEM_DESC": "x", "Qty": "3"},
        "contact_info": {"Name": "N", "E-Mail": "n@example.com"},
    }
    assert accepted(record) == ValidRecord("A-1", "9", "x", 3, "N", "n@example.com")


def test_unknown_fields_are_ignored() -> None:
    record = valid_record(5)
    record["notes"] = {"anything": [1, 2, 3]}
    record["order-info"]["colour"] = "red"
    assert accepted(record).order_id == "5"


def test_integer_ids_are_stored_as_decimal_strings() -> None:
    record = valid_record(1, orderId=12345, **{"item-id": 0})
    parsed = accepted(record)
    assert (parsed.order_id, parsed.item_id) == ("12345", "0")


def test_strings_are_trimmed_and_blank_description_is_absent() -> None:
    record = valid_record(1, orderId="  7 ", **{"item-desc": "   "})
    record["contact-info"]["name"] = "  Foo  "
    parsed = accepted(record)
    assert (parsed.order_id, parsed.item_description, parsed.customer_name) == ("7", None, "Foo")


def test_null_description_is_absent_but_null_required_field_is_missing() -> None:
    assert accepted(valid_record(1, **{"item-desc": None})).item_description is None
    outcome = rejection(valid_record(1, qty=None))
    assert outcome.reason == "missing_field"
    assert "order-info.qty is missing" in outcome.message


@pytest.mark.parametrize(
    ("qty", "expected"),
    [(1, 1), ("1", 1), (" 42 ", 42), ("007", 7), (MAX_QUANTITY, MAX_QUANTITY)],
)
def test_good_quantities(qty: Any, expected: int) -> None:
    assert accepted(valid_record(1, qty=qty)).quantity == expected


@pytest.mark.parametrize(
    "qty",
    [0, -1, 1.5, 2.0, "1.5", "abc", "", "-1", "+1", "0", True, False, [1], {"n": 1},
     MAX_QUANTITY + 1, "9" * 5000, "\u0661"],
)  # fmt: skip
def test_bad_quantities(qty: Any) -> None:
    outcome = rejection(valid_record(1, qty=qty))
    assert outcome.reason == "invalid_field"
    assert outcome.message.startswith("order-info.qty ")


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "two@@example.com",
        "a@b@example.com",
        "@example.com",
        "user@localhost",
        "user@example.",
        "user@.com",
        "user@exa mple.com",
        "us er@example.com",
        "a" * 250 + "@example.com",
        "",
        42,
    ],
)
def test_bad_emails(email: Any) -> None:
    record = valid_record(1)
    record["contact-info"]["email"] = email
    outcome = rejection(record)
    assert outcome.reason == "invalid_field"
    assert "contact-info.email" in outcome.message


@pytest.mark.parametrize("email", ["a@b.co", "first.last+tag@sub.example.org", "x@y.z.w"])
def test_good_emails(email: str) -> None:
    record = valid_record(1)
    record["contact-info"]["email"] = email
    assert accepted(record).customer_email == email


@pytest.mark.parametrize(
    ("section", "field", "value", "fragment"),
    [
        ("order-info", "orderId", "", "must not be empty"),
        ("order-info", "orderId", "   ", "must not be empty"),
        ("order-info", "orderId", 1.5, "must be a string or an integer, got number"),
        ("order-info", "orderId", True, "must be a string or an integer, got boolean"),
        ("order-info", "orderId", ["1"], "got array"),
        ("order-info", "orderId", "x" * 129, "over the limit of 128"),
        ("order-info", "orderId", 10**128, "more than 128 digits"),
        ("order-info", "item-id", {"id": 1}, "got object"),
        ("order-info", "item-desc", 5, "must be a string, got number"),
        ("order-info", "item-desc", "d" * 1025, "over the limit of 1024"),
        ("contact-info", "name", "", "must not be empty"),
        ("contact-info", "name", 7, "must be a string, got number"),
        ("contact-info", "name", "n" * 257, "over the limit of 256"),
        ("contact-info", "name", "bad \ud800 surrogate", "not valid Unicode"),
    ],
)
def test_malformed_values(section: str, field: str, value: Any, fragment: str) -> None:
    record = valid_record(1)
    record[section][field] = value
    outcome = rejection(record)
    assert outcome.reason == "invalid_field"
    assert outcome.message.startswith(f"{section}.{field} ")
    assert fragment in outcome.message


@pytest.mark.parametrize(
    ("field", "reason"),
    [("orderId", "missing_field"), ("item-id", "missing_field"), ("qty", "missing_field")],
)
def test_missing_required_fields(field: str, reason: str) -> None:
    record = valid_record(1)
    del record["order-info"][field]
    assert rejection(record).reason == reason


def test_missing_description_is_fine() -> None:
    record = valid_record(1)
    del record["order-info"]["item-desc"]
    assert accepted(record).item_description is None


def test_ambiguous_field_spellings_are_rejected() -> None:
    record = valid_record(1)
    record["order-info"]["OrderId"] = "2"
    outcome = rejection(record)
    assert outcome.reason == "ambiguous_field"
    assert "'orderId' and 'OrderId'" in outcome.message


def test_ambiguous_even_when_one_spelling_is_null() -> None:
    record = valid_record(1)
    record["order-info"]["order_id"] = None
    assert rejection(record).reason == "ambiguous_field"


def test_ambiguous_sections_are_rejected() -> None:
    record = valid_record(1)
    record["contact_info"] = dict(record["contact-info"])
    outcome = rejection(record)
    assert outcome.reason == "ambiguous_field"
    assert "contact-info is given twice" in outcome.message


@pytest.mark.parametrize("value", [None, [], "x", 1, True, 2.5])
def test_not_an_object(value: Any) -> None:
    assert rejection(value).reason == "not_an_object"


def test_missing_order_info() -> None:
    record = valid_record(1)
    del record["order-info"]
    assert rejection(record).reason == "missing_order_info"


def test_both_sections_missing_reports_order_info_first_and_mentions_both() -> None:
    outcome = rejection({"something": "else"})
    assert outcome.reason == "missing_order_info"
    assert "contact-info is missing" in outcome.message


def test_section_that_is_not_an_object() -> None:
    record = valid_record(1)
    record["contact-info"] = "Foo Bar <foo@bar.com>"
    outcome = rejection(record)
    assert outcome.reason == "invalid_field"
    assert "contact-info must be an object, got string" in outcome.message


def test_null_section_counts_as_missing() -> None:
    record = valid_record(1)
    record["contact-info"] = None
    assert rejection(record).reason == "missing_contact_info"


def test_structural_problems_outrank_field_problems_and_all_are_listed() -> None:
    record = valid_record(1, qty=0)
    del record["contact-info"]
    outcome = rejection(record)
    assert outcome.reason == "missing_contact_info"
    assert "order-info.qty must be a positive integer" in outcome.message


def test_a_record_nested_deeper_than_dynamodb_allows_is_refused() -> None:
    record = valid_record(1)
    deep: Any = "bottom"
    for _ in range(40):
        deep = {"more": deep}
    record["notes"] = deep
    outcome = rejection(record)
    assert outcome.reason == "record_too_deep"
    assert "41 levels" in outcome.message
    record["notes"] = {"a": {"b": [1, {"c": 2}]}}
    assert isinstance(validate_record(record), ValidRecord)


def test_a_record_too_deep_for_json_dumps_gets_a_reason_not_a_crash() -> None:
    record = valid_record(1)
    deep: Any = []
    for _ in range(5_000):
        deep = [deep]
    record["notes"] = deep
    assert rejection(record).reason == "record_too_deep"


def test_record_too_large() -> None:
    record = valid_record(1)
    record["padding"] = "x" * 70_000
    outcome = rejection(record)
    assert outcome.reason == "record_too_large"
    assert rejection(valid_record(1), max_bytes=50).reason == "record_too_large"
