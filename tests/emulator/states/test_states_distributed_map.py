"""Distributed Map: ItemReader formats, ItemSelector, ItemBatcher, tolerance, children."""

from __future__ import annotations

import json
from typing import Any

import pytest
from states_support import (
    FN,
    LAMBDA_INVOKE,
    S3_GET_OBJECT,
    FakeDispatcher,
    always,
    run,
    single,
    task,
    types,
)

from emulator.states import TaskError
from emulator.states.limits import MAX_PAYLOAD_BYTES
from emulator.states.map_state import FailureTolerance, VirtualScheduler, make_batches
from emulator.states.readers import read_items

CHILD = f"{FN}child"
BUCKET, KEY = "uploads", "incoming/file"


def child_task(**fields: Any) -> dict[str, Any]:
    return task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": CHILD, "Payload.$": "$"},
        OutputPath="$.Payload",
        **fields,
    )


def dmap(
    reader_config: dict[str, Any] | None = None,
    *,
    execution_type: str = "EXPRESS",
    processor: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            **(processor or single(child_task(), "Child")),
        },
        "End": True,
        **fields,
    }
    if reader_config is not None:
        state["ItemReader"] = {
            "Resource": S3_GET_OBJECT,
            "ReaderConfig": reader_config,
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        }
    return single(state, "Fan")


def with_catch(definition: dict[str, Any]) -> dict[str, Any]:
    fan = definition["States"]["Fan"]
    del fan["End"]
    fan["Next"] = "Done"
    fan["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
    definition["States"]["Done"] = {"Type": "Succeed"}
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    return definition


def execute(
    definition: dict[str, Any],
    body: Any = None,
    dispatcher: FakeDispatcher | None = None,
    payload: Any = None,
) -> Any:
    dispatcher = dispatcher or FakeDispatcher()
    if body is not None:
        dispatcher.put_object(BUCKET, KEY, body)
    return run(
        definition, payload if payload is not None else {"bucket": BUCKET, "key": KEY}, dispatcher
    )


def test_json_array_reader_runs_one_child_per_item() -> None:
    dispatcher = FakeDispatcher()
    result = execute(
        dmap({"InputType": "JSON"}), json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]), dispatcher
    )
    assert result.status == "SUCCEEDED"
    assert result.output == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [child.name for child in result.children] == [
        "exec-1:Fan:0",
        "exec-1:Fan:1",
        "exec-1:Fan:2",
    ]
    assert all(":express:test-machine/Fan:" in child.execution_arn for child in result.children)
    assert all(child.state_transitions == 2 for child in result.children)
    assert result.state_transitions == 2  # children are billed on their own
    reader_call = dispatcher.calls_to(S3_GET_OBJECT)[0]
    assert reader_call.parameters == {"Bucket": BUCKET, "Key": KEY}
    assert reader_call.context.state_name == "Fan"
    child_call = dispatcher.calls_to(CHILD)[0]
    assert child_call.context.workflow_type == "EXPRESS"
    assert child_call.context.execution_name == "exec-1:Fan:0"
    assert {"MapRunStarted", "MapRunSucceeded"} <= set(types(result))


def test_items_pointer_selects_a_nested_array() -> None:
    body = json.dumps({"meta": {"v": 1}, "orders": [{"id": "a"}, {"id": "b"}]})
    result = execute(dmap({"InputType": "JSON", "ItemsPointer": "/orders"}), body)
    assert result.output == [{"id": "a"}, {"id": "b"}]


@pytest.mark.parametrize(
    ("config", "body", "cause"),
    [
        ({"InputType": "JSON", "ItemsPointer": "/orders"}, '{"order": []}', "does not match"),
        (
            {"InputType": "JSON", "ItemsPointer": "/orders"},
            '{"orders": {"a": 1}}',
            "not a JSON array",
        ),
        ({"InputType": "JSON"}, '{"orders": []}', "not a JSON array"),
        ({"InputType": "JSON"}, "[1, 2", "not valid JSON"),
        ({"InputType": "JSONL"}, '{"a": 1}\r\n{"a": 2}\nnot json\n', "line 3"),
        ({"InputType": "CSV"}, "a,b\n1,2\n3\n", "line 3"),
    ],
)
def test_unreadable_files_fail_with_item_reader_failed(
    config: dict[str, Any], body: str, cause: str
) -> None:
    result = execute(with_catch(dmap(config)), body)
    assert result.status == "SUCCEEDED"
    assert result.output["error"]["Error"] == "States.ItemReaderFailed"
    assert cause in result.output["error"]["Cause"]
    assert result.children == []
    assert "MapRunFailed" in types(result)


def test_jsonl_reader_takes_crlf_and_a_final_newline() -> None:
    body = '{"id": 1}\r\n{"id": 2}\r\n"three"\r\n'
    result = execute(dmap({"InputType": "JSONL"}), body)
    assert result.output == [{"id": 1}, {"id": 2}, "three"]


@pytest.mark.parametrize(
    "body",
    [
        '{"id": 1}\n\n{"id": 2}\n',
        '{"id": 1}\n  \r\n{"id": 2}',
        '{"id": 1}\n\n',
        '\ufeff{"id": 1}\n',
    ],
)
def test_jsonl_reader_refuses_blank_lines_and_a_byte_order_mark(body: str) -> None:
    """Not documented either way for AWS's reader: the emulator takes the strict reading."""
    result = execute(dmap({"InputType": "JSONL"}), body)
    assert "MapRunFailed" in types(result) or result.error == "States.ItemReaderFailed"


def test_bad_jsonl_line_is_caught_as_item_reader_failed() -> None:
    result = execute(with_catch(dmap({"InputType": "JSONL"})), '{"id": 1}\n{"id": \n')
    assert result.output["error"]["Error"] == "States.ItemReaderFailed"
    assert "line 2" in result.output["error"]["Cause"]


def test_csv_reader_first_row_and_given_headers() -> None:
    body = 'id,name\n1,"Lovelace, Ada"\n2,Turing\n'
    first_row = execute(dmap({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}), body)
    assert first_row.output == [{"id": "1", "name": "Lovelace, Ada"}, {"id": "2", "name": "Turing"}]
    given = execute(
        dmap({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["k", "v"]}), body
    )
    assert given.output[0] == {"k": "id", "v": "name"}
    assert len(given.output) == 3


def test_max_items_limits_the_items_read() -> None:
    body = "\n".join(json.dumps({"n": n}) for n in range(10)) + "\nnot json after the limit\n"
    result = execute(dmap({"InputType": "JSONL", "MaxItems": 3}), body)
    assert result.output == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_missing_object_is_item_reader_failed() -> None:
    result = execute(with_catch(dmap({"InputType": "JSON"})))
    assert result.output["error"]["Error"] == "States.ItemReaderFailed"
    assert "S3.NoSuchKey" in result.output["error"]["Cause"]


def test_without_reader_items_come_from_items_path() -> None:
    result = execute(dmap(ItemsPath="$.list"), payload={"list": [1, 2]})
    assert result.output == [1, 2]


def test_item_selector_sees_index_value_and_state_input() -> None:
    selector = {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "file.$": "$.key"}
    result = execute(dmap({"InputType": "JSON"}, ItemSelector=selector), '["a", "b"]')
    assert result.output == [
        {"index": 0, "value": "a", "file": KEY},
        {"index": 1, "value": "b", "file": KEY},
    ]


def test_item_batcher_by_count_with_batch_input() -> None:
    batcher = {"MaxItemsPerBatch": 2, "BatchInput": {"file.$": "$.key", "fixed": 1}}
    result = execute(dmap({"InputType": "JSON"}, ItemBatcher=batcher), json.dumps(list(range(5))))
    assert [child.input for child in result.children] == [
        {"Items": [0, 1], "BatchInput": {"file": KEY, "fixed": 1}},
        {"Items": [2, 3], "BatchInput": {"file": KEY, "fixed": 1}},
        {"Items": [4], "BatchInput": {"file": KEY, "fixed": 1}},
    ]
    assert result.output == [child.input for child in result.children]


def test_item_batcher_by_bytes_measures_the_items_json() -> None:
    # '"aaaa"' is 6 bytes; n items make 2 + 6n + (n - 1) bytes: two fit in 15, three do not.
    batcher = {"MaxInputBytesPerBatch": 15}
    result = execute(dmap({"InputType": "JSON"}, ItemBatcher=batcher), json.dumps(["aaaa"] * 5))
    assert [len(child.input["Items"]) for child in result.children] == [2, 2, 1]
    assert "BatchInput" not in result.children[0].input


def test_make_batches_rules() -> None:
    assert make_batches([1, 2, 3], max_items=None, max_bytes=None) == [[1, 2, 3]]
    assert make_batches(["x" * 50, "y"], max_items=5, max_bytes=10) == [["x" * 50], ["y"]]
    assert make_batches(list(range(7)), max_items=3, max_bytes=7) == [[0, 1, 2], [3, 4, 5], [6]]
    assert make_batches(list(range(4)), max_items=3, max_bytes=5) == [[0, 1], [2, 3]]


def failing_child(bad: set[int]) -> FakeDispatcher:
    def handler(payload: Any) -> Any:
        values = payload["Items"] if isinstance(payload, dict) and "Items" in payload else [payload]
        if any(value in bad for value in values):
            raise TaskError("Validation.Failed", f"bad item in {values}")
        return "ok"

    return FakeDispatcher().on(CHILD, handler)


@pytest.mark.parametrize(
    ("tolerance", "bad", "status"),
    [
        ({"ToleratedFailureCount": 2}, {1, 5}, "SUCCEEDED"),
        ({"ToleratedFailureCount": 2}, {1, 5, 7}, "FAILED"),
        ({"ToleratedFailurePercentage": 20}, {1, 5}, "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 20}, {1, 5, 7}, "FAILED"),
        ({}, {3}, "FAILED"),
        ({}, set(), "SUCCEEDED"),
    ],
)
def test_tolerated_failures(tolerance: dict[str, Any], bad: set[int], status: str) -> None:
    definition = dmap(ItemsPath="$.items", **tolerance)
    result = execute(definition, dispatcher=failing_child(bad), payload={"items": list(range(10))})
    assert result.status == status
    if status == "FAILED":
        assert result.error == "States.ExceedToleratedFailureThreshold"
        assert "Validation.Failed" in (result.cause or "")
        assert len(result.children) < 10  # the run stops once the threshold is exceeded
    else:
        assert [result.output[i] for i in sorted(bad)] == [
            {"Error": "Validation.Failed", "Cause": f"bad item in [{i}]"} for i in sorted(bad)
        ]
        assert sum(child.status == "FAILED" for child in result.children) == len(bad)


def test_a_failed_batch_counts_all_its_items() -> None:
    definition = dmap(
        ItemsPath="$.items", ToleratedFailureCount=2, ItemBatcher={"MaxItemsPerBatch": 3}
    )
    result = execute(definition, dispatcher=failing_child({0}), payload={"items": list(range(9))})
    assert result.error == "States.ExceedToleratedFailureThreshold"
    assert "3 of 9 items" in (result.cause or "")


def test_failure_tolerance_arithmetic() -> None:
    assert not FailureTolerance(10).exceeded(0)
    assert FailureTolerance(10).exceeded(1)
    assert not FailureTolerance(10, percentage=10).exceeded(1)
    assert FailureTolerance(10, percentage=10).exceeded(2)
    assert FailureTolerance(10, count=5, percentage=10).exceeded(2)


def test_children_run_within_max_concurrency_in_virtual_time() -> None:
    processor = single({"Type": "Wait", "Seconds": 10, "End": True}, "Sleep")
    definition = dmap(
        ItemsPath="$.items", MaxConcurrency=2, processor=processor, execution_type="STANDARD"
    )
    result = execute(definition, payload={"items": [1, 2, 3, 4, 5]})
    assert result.virtual_seconds == 30
    assert [child.virtual_seconds for child in result.children] == [10] * 5
    assert ":execution:test-machine/Fan:" in result.children[0].execution_arn


def test_virtual_scheduler() -> None:
    scheduler = VirtualScheduler(start=5, slots=2)
    for duration in (10, 1, 1, 1):
        start = scheduler.next_start()
        scheduler.finish(start + duration)
    assert scheduler.end == 15
    unlimited = VirtualScheduler(start=0, slots=0)
    for _ in range(3):
        unlimited.finish(unlimited.next_start() + 4)
    assert unlimited.end == 4


def test_retries_inside_children_are_counted_in_the_child() -> None:
    calls = {"n": 0}

    def handler(payload: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TaskError("Lambda.ServiceException", "transient")
        return payload

    processor = single(child_task(Retry=[{"ErrorEquals": ["Lambda.ServiceException"]}]), "Child")
    definition = dmap(ItemsPath="$.items", processor=processor)
    dispatcher = FakeDispatcher().on(CHILD, handler)
    result = execute(definition, dispatcher=dispatcher, payload={"items": ["a", "b"]})
    assert result.output == ["a", "b"]
    assert [child.state_transitions for child in result.children] == [3, 2]
    assert result.children[0].virtual_seconds == 1
    assert result.virtual_seconds == 1


def test_a_full_batch_plus_batch_input_exceeds_the_child_input_limit() -> None:
    """MaxInputBytesPerBatch bounds the Items array only: the envelope can tip it over."""
    # 261 items of 1,002 JSON bytes plus one of 359 make an Items array of exactly 256 KiB.
    items = ["z" * 1000] * 261 + ["f" * 357]
    assert len(json.dumps(items, separators=(",", ":"))) == MAX_PAYLOAD_BYTES
    batcher = {"MaxInputBytesPerBatch": MAX_PAYLOAD_BYTES, "BatchInput": {"file.$": "$.key"}}
    definition = dmap({"InputType": "JSON"}, ItemBatcher=batcher)
    result = execute(definition, json.dumps(items))
    assert result.error == "States.ExceedToleratedFailureThreshold"
    assert len(result.children) == 1
    assert result.children[0].error == "States.DataLimitExceeded"
    assert len(result.children[0].input["Items"]) == len(items)


def test_nested_distributed_map_children_are_recorded_recursively() -> None:
    inner = dmap(ItemsPath="$.inner")
    inner["States"]["Fan2"] = inner["States"].pop("Fan")
    inner["StartAt"] = "Fan2"
    inner["States"]["Fan2"]["ItemProcessor"]["StartAt"] = "Child2"
    inner["States"]["Fan2"]["ItemProcessor"]["States"] = {"Child2": child_task()}
    definition = dmap(ItemsPath="$.outer", processor=inner, execution_type="STANDARD")
    result = execute(definition, payload={"outer": [{"inner": [1, 2]}, {"inner": [3]}]})
    assert result.output == [[1, 2], [3]]
    assert [len(child.children) for child in result.children] == [2, 1]
    assert result.children[0].children[0].name == "exec-1:Fan:0:Fan2:0"


@pytest.mark.parametrize(
    ("text", "config", "expected"),
    [
        ('{"a": {"b/c": [1]}}', {"InputType": "JSON", "ItemsPointer": "/a/b~1c"}, [1]),
        ("[[0], [1, 2]]", {"InputType": "JSON", "ItemsPointer": "/1"}, [1, 2]),
        ("a|b\n1|2\n", {"InputType": "CSV", "CSVDelimiter": "PIPE"}, [{"a": "1", "b": "2"}]),
        ("a\tb\n1\t2\n\n", {"InputType": "CSV", "CSVDelimiter": "TAB"}, [{"a": "1", "b": "2"}]),
        ("", {"InputType": "JSONL"}, []),
    ],
)
def test_read_items(text: str, config: dict[str, Any], expected: Any) -> None:
    assert read_items(text, config, source="s3://b/k") == expected


def test_byte_bodies_are_decoded_and_a_bom_is_not_json() -> None:
    dispatcher = FakeDispatcher()
    assert execute(dmap({"InputType": "JSON"}), b"[1]", dispatcher).output == [1]
    result = execute(with_catch(dmap({"InputType": "JSON"})), "\ufeff[1]")
    assert result.output["error"]["Error"] == "States.ItemReaderFailed"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ItemBatcher": {"MaxItemsPerBatch": 2}}, "ItemBatcher needs"),
        (
            {"ItemReader": {"Resource": S3_GET_OBJECT, "ReaderConfig": {"InputType": "XML"}}},
            "InputType",
        ),
        (
            {
                "ItemReader": {
                    "Resource": S3_GET_OBJECT,
                    "ReaderConfig": {"InputType": "JSONL", "ItemsPointer": "/a"},
                }
            },
            "ItemsPointer",
        ),
    ],
)
def test_invalid_map_configurations(fields: dict[str, Any], message: str) -> None:
    inline = {
        "Type": "Map",
        "ItemProcessor": single({"Type": "Pass", "End": True}, "P"),
        "End": True,
        **fields,
    }
    if "ItemReader" in fields:
        inline["ItemProcessor"]["ProcessorConfig"] = {
            "Mode": "DISTRIBUTED",
            "ExecutionType": "EXPRESS",
        }
    with pytest.raises(ValueError, match=message):
        run(single(inline, "M"))


# -- results: the 256 KiB array, ResultWriter, other readers ------------------------------


def test_child_results_over_256_kib_fail_even_with_result_path_null() -> None:
    """As on AWS (aws-cdk#24799): the aggregated result is limited before ResultPath."""
    items = list(range(300))
    dispatcher = FakeDispatcher().on(CHILD, lambda _payload: "r" * 1000)
    definition = with_catch(dmap({"InputType": "JSON"}, ResultPath=None))
    result = execute(definition, json.dumps(items), dispatcher)
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert len(result.children) == 300


def test_result_writer_exports_through_the_dispatcher() -> None:
    written: dict[str, str] = {}

    def put(params: dict[str, Any]) -> dict[str, Any]:
        written[params["Key"]] = params["Body"]
        assert params["Bucket"] == "results"
        return {"ETag": "e"}

    dispatcher = FakeDispatcher().on("arn:aws:states:::s3:putObject", put)
    dispatcher.on(CHILD, lambda payload: "r" * 1000)
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "results", "Prefix.$": "$.key"},
    }
    result = execute(
        dmap({"InputType": "JSON"}, ResultWriter=writer), json.dumps(list(range(300))), dispatcher
    )

    assert result.status == "SUCCEEDED"
    details = result.output["ResultWriterDetails"]
    assert result.output["MapRunArn"].startswith(
        "arn:aws:states:us-east-1:123456789012:mapRun:test-machine/Fan:"
    )
    manifest = json.loads(written[details["Key"]])
    assert details["Key"].startswith(f"{KEY}/")
    assert details["Key"].endswith("/manifest.json")
    assert manifest["MapRunArn"] == result.output["MapRunArn"]
    succeeded = manifest["ResultFiles"]["SUCCEEDED"][0]
    records = json.loads(written[succeeded["Key"]])
    assert len(records) == 300
    assert records[0]["Status"] == "SUCCEEDED"
    assert json.loads(records[0]["Input"]) == 0
    assert json.loads(records[0]["Output"]) == "r" * 1000
    assert manifest["ResultFiles"]["FAILED"] == []


def test_result_writer_failure_is_result_writer_failed() -> None:
    dispatcher = FakeDispatcher().on("arn:aws:states:::s3:putObject", always("S3.AccessDenied"))
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results"}}
    result = execute(
        with_catch(dmap(ItemsPath="$.items", ResultWriter=writer)),
        dispatcher=dispatcher,
        payload={"items": [1]},
    )
    assert result.output["error"]["Error"] == "States.ResultWriterFailed"


@pytest.mark.parametrize(
    ("transformation", "expected"),
    [("COMPACT", [[1, 2], [3]]), ("FLATTEN", [1, 2, 3])],
)
def test_writer_config_transformations(transformation: str, expected: Any) -> None:
    writer = {"WriterConfig": {"Transformation": transformation}}
    definition = dmap(ItemsPath="$.items", ResultWriter=writer)
    result = execute(definition, payload={"items": [[1, 2], [3]]})
    assert result.output == expected


def test_writer_config_none_describes_each_child() -> None:
    writer = {"WriterConfig": {"Transformation": "NONE"}}
    result = execute(dmap(ItemsPath="$.items", ResultWriter=writer), payload={"items": ["a"]})
    (record,) = result.output
    assert record["Name"] == "exec-1:Fan:0"
    assert record["StateMachineArn"].endswith(":stateMachine:test-machine/Fan")
    assert json.loads(record["Output"]) == "a"


def test_parquet_rows_must_come_decoded_from_the_dispatcher() -> None:
    decoded = execute(dmap({"InputType": "PARQUET"}), [{"id": 1}, {"id": 2}])
    assert decoded.output == [{"id": 1}, {"id": 2}]
    raw = execute(with_catch(dmap({"InputType": "PARQUET"})), b"PAR1...")
    assert raw.output["error"]["Error"] == "States.ItemReaderFailed"
    assert "PARQUET" in raw.output["error"]["Cause"]


def test_list_objects_reader() -> None:
    listing = "arn:aws:states:::s3:listObjectsV2"
    dispatcher = FakeDispatcher().on(
        listing,
        lambda params: {
            "Contents": [{"Key": f"{params['Prefix']}a"}, {"Key": f"{params['Prefix']}b"}]
        },
    )
    definition = dmap(ItemSelector={"key.$": "$$.Map.Item.Value.Key"})
    definition["States"]["Fan"]["ItemReader"] = {
        "Resource": listing,
        "Parameters": {"Bucket.$": "$.bucket", "Prefix": "in/"},
    }
    result = execute(definition, dispatcher=dispatcher)
    assert result.output == [{"key": "in/a"}, {"key": "in/b"}]
    assert dispatcher.calls_to(listing)[0].parameters == {"Bucket": BUCKET, "Prefix": "in/"}
