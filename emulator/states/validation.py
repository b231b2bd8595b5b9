"""Construction-time checks, so a broken definition fails where AWS would: at create time.

Every ValueError names the state (or field) at fault. Checked: top-level fields, state
types and their allowed fields (per query language), Next/End, transition targets,
unreachable states, names unique across the whole machine (nested scopes included),
Retry/Catch shape, choice rules, payload-template and intrinsic syntax, Map processor,
reader and batcher configuration, and that Express workflows avoid `.sync` and
`.waitForTaskToken` integrations, which AWS refuses for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from emulator.states import choice, readers, results
from emulator.states.errors import ALL
from emulator.states.paths import PathSyntaxError, parse_path
from emulator.states.payload import check_expression, check_template
from emulator.states.timestamps import parse_timestamp
from orderflow.aws_facts import STEP_FUNCTIONS_MAX_INPUT_BYTES_PER_BATCH

JSONPATH: Final = "JSONPath"
JSONATA: Final = "JSONata"
STANDARD: Final = "STANDARD"
EXPRESS: Final = "EXPRESS"
WORKFLOW_TYPES: Final = frozenset({STANDARD, EXPRESS})

TOP_LEVEL_FIELDS: Final = frozenset(
    {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
)
SCOPE_FIELDS: Final = frozenset({"Comment", "StartAt", "States", "ProcessorConfig"})
_COMMON: Final = frozenset({"Type", "Comment", "QueryLanguage"})
_FLOW: Final = frozenset({"Next", "End"})
_ERRORS: Final = frozenset({"Retry", "Catch"})
_IO: Final = frozenset({"InputPath", "OutputPath", "Output", "Assign"})
_RESULT: Final = frozenset({"ResultPath", "ResultSelector"})
STATE_FIELDS: Final[dict[str, frozenset[str]]] = {
    "Task": _IO
    | _RESULT
    | _ERRORS
    | _FLOW
    | {
        "Resource",
        "Parameters",
        "Arguments",
        "Credentials",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
    },
    "Pass": _IO | _FLOW | {"Result", "ResultPath", "Parameters"},
    "Choice": _IO | {"Choices", "Default"},
    "Wait": _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": frozenset({"InputPath", "OutputPath", "Output"}),
    "Fail": frozenset({"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": _IO | _RESULT | _ERRORS | _FLOW | {"Branches", "Parameters", "Arguments"},
    "Map": _IO
    | _RESULT
    | _ERRORS
    | _FLOW
    | {
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "Items",
        "ItemSelector",
        "Parameters",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "Label",
    },
}
_JSONPATH_ONLY: Final = frozenset({"Parameters", "ResultSelector", "Result", "Iterator"})
_JSONATA_ONLY: Final = frozenset({"Arguments", "Output", "Items"})
_RETRIER_FIELDS: Final = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
_CATCHER_FIELDS: Final = frozenset(
    {"ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"}
)
_ITEM_READER_FIELDS: Final = frozenset({"Resource", "ReaderConfig", "Parameters", "Arguments"})
_ITEM_BATCHER_FIELDS: Final = frozenset(
    {
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
        "BatchInput",
    }
)
S3_GET_OBJECT: Final = "arn:aws:states:::s3:getObject"
S3_LIST_OBJECTS: Final = "arn:aws:states:::s3:listObjectsV2"
_VARIABLE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_NAME: Final = 80


@dataclass
class Analysis:
    """What the interpreter needs from validation: each state's query language."""

    languages: dict[str, str] = field(default_factory=dict)

    @property
    def uses_jsonata(self) -> bool:
        return JSONATA in self.languages.values()


def validate_definition(definition: Any, workflow_type: str) -> Analysis:
    """Check a whole state machine definition; ValueError on the first problem."""
    if workflow_type not in WORKFLOW_TYPES:
        raise ValueError(f"workflow_type must be STANDARD or EXPRESS, got {workflow_type!r}")
    if not isinstance(definition, dict):
        raise ValueError("the definition must be a JSON object")
    unknown = sorted(set(definition) - TOP_LEVEL_FIELDS)
    if unknown:
        raise ValueError(f"unknown top-level field(s): {', '.join(unknown)}")
    language = definition.get("QueryLanguage", JSONPATH)
    if language not in (JSONPATH, JSONATA):
        raise ValueError(f"QueryLanguage must be JSONPath or JSONata, got {language!r}")
    if "TimeoutSeconds" in definition:
        _positive_int(definition["TimeoutSeconds"], "top-level TimeoutSeconds")
    analysis = Analysis()
    _Validator(analysis, workflow_type).scope(definition, "the state machine", language)
    return analysis


def _positive_int(value: Any, where: str, *, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{where} must be an integer >= {minimum}, got {value!r}")


def _path(value: Any, where: str, *, reference: bool = False) -> None:
    if value is None:
        return
    try:
        parsed = parse_path(value)
    except PathSyntaxError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if reference and not parsed.is_reference:
        raise ValueError(f"{where}: {value!r} must be a reference path like $.a.b")


@dataclass
class _Validator:
    analysis: Analysis
    workflow_type: str

    def scope(self, scope: Any, where: str, language: str) -> None:
        if not isinstance(scope, dict):
            raise ValueError(f"{where} must be an object with StartAt and States")
        states = scope.get("States")
        if not isinstance(states, dict) or not states:
            raise ValueError(f"{where}: States must be a non-empty object")
        if scope.get("StartAt") not in states:
            raise ValueError(f"{where}: StartAt {scope.get('StartAt')!r} is not a state")
        for name, state in states.items():
            if name in self.analysis.languages:
                raise ValueError(f"state {name!r}: state names must be unique in a machine")
            if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME:
                raise ValueError(f"state {name!r}: names are 1 to {_MAX_NAME} characters")
            self.analysis.languages[name] = self.state(name, state, states, language)
        _check_reachable(scope["StartAt"], states, where)

    def state(self, name: str, state: Any, known: Mapping[str, Any], inherited: str) -> str:
        where = f"state {name!r}"
        if not isinstance(state, dict):
            raise ValueError(f"{where} must be an object")
        kind = state.get("Type")
        if kind not in STATE_FIELDS:
            raise ValueError(f"{where}: unknown state type {kind!r}")
        unknown = sorted(set(state) - _COMMON - STATE_FIELDS[kind])
        if unknown:
            raise ValueError(f"{where}: unknown field(s) for a {kind} state: {unknown}")
        language = state.get("QueryLanguage", inherited)
        if language not in (JSONPATH, JSONATA) or (inherited == JSONATA != language):
            raise ValueError(f"{where}: QueryLanguage {language!r} is not allowed here")
        self._language_fields(where, state, language)
        self._transition(where, kind, state, known)
        self._common_fields(where, state, language)
        getattr(self, f"_{kind.lower()}")(where, state, known, language)
        return str(language)

    def _language_fields(self, where: str, state: Mapping[str, Any], language: str) -> None:
        jsonpath_only = {key for key in state if key.endswith("Path") or key in _JSONPATH_ONLY}
        wrong = jsonpath_only if language == JSONATA else set(state) & _JSONATA_ONLY
        if wrong:
            raise ValueError(f"{where}: field(s) {sorted(wrong)} are not allowed in {language}")

    def _transition(
        self, where: str, kind: str, state: Mapping[str, Any], known: Mapping[str, Any]
    ) -> None:
        if kind in ("Choice", "Succeed", "Fail"):
            if _FLOW & set(state):
                raise ValueError(f"{where}: a {kind} state cannot have Next or End")
            return
        has_next, ends = "Next" in state, state.get("End") is True
        if "End" in state and state["End"] is not True:
            raise ValueError(f"{where}: End must be true when present")
        if has_next == ends:
            raise ValueError(f"{where}: needs exactly one of Next or End: true")
        if has_next and state["Next"] not in known:
            raise ValueError(f"{where}: Next {state['Next']!r} is not a state in this scope")

    def _common_fields(self, where: str, state: Mapping[str, Any], language: str) -> None:
        for key in ("InputPath", "OutputPath"):
            if key in state:
                _path(state[key], f"{where}.{key}")
        if "ResultPath" in state:
            _path(state["ResultPath"], f"{where}.ResultPath", reference=True)
        for key in ("Parameters", "ResultSelector"):
            if key in state:
                check_template(state[key], f"{where}.{key}")
        if "Assign" in state:
            _assign(state["Assign"], f"{where}.Assign", language)

    def _task(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        resource = state.get("Resource")
        if not isinstance(resource, str) or not resource.startswith("arn:"):
            raise ValueError(f"{where}: Resource must be an ARN string, got {resource!r}")
        if self.workflow_type == EXPRESS and resource.endswith((".sync", ".waitForTaskToken")):
            raise ValueError(f"{where}: Express workflows do not support {resource!r}")
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            if key in state and not _expression(state[key], language):
                _positive_int(state[key], f"{where}.{key}")
        if "Credentials" in state:
            check_template(state["Credentials"], f"{where}.Credentials")
        self._retry_catch(where, state, known, language)

    def _pass(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        return None

    def _succeed(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        return None

    def _choice(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        rules = state.get("Choices")
        if not isinstance(rules, list) or not rules:
            raise ValueError(f"{where}: Choices must be a non-empty list")
        for position, rule in enumerate(rules):
            rule_where = f"{where}.Choices[{position}]"
            if language == JSONATA:
                if not isinstance(rule, dict) or "Condition" not in rule:
                    raise ValueError(f"{rule_where}: a JSONata choice rule needs a Condition")
                if rule.get("Next") not in known:
                    raise ValueError(f"{rule_where}: Next {rule.get('Next')!r} is not a state")
            else:
                choice.validate_rule(rule, rule_where, top_level=True, known=known)
            if isinstance(rule, dict) and "Assign" in rule:
                _assign(rule["Assign"], f"{rule_where}.Assign", language)
        if "Default" in state and state["Default"] not in known:
            raise ValueError(f"{where}: Default {state['Default']!r} is not a state")

    def _wait(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        given = [
            key for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if key in state
        ]
        if len(given) != 1:
            raise ValueError(
                f"{where}: needs exactly one of Seconds, SecondsPath, Timestamp, "
                f"TimestampPath (got {given})"
            )
        key, value = given[0], state[given[0]]
        if _expression(value, language):
            return
        if key == "Seconds":
            _positive_int(value, f"{where}.Seconds", minimum=0)
        elif key == "Timestamp":
            if parse_timestamp(value) is None:
                raise ValueError(f"{where}: Timestamp {value!r} is not RFC 3339")
        else:
            _path(value, f"{where}.{key}")

    def _fail(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        for key in ("Error", "Cause"):
            if key in state and f"{key}Path" in state:
                raise ValueError(f"{where}: give {key} or {key}Path, not both")
            if f"{key}Path" in state:
                check_expression(state[f"{key}Path"], f"{where}.{key}Path")
            elif key in state and not isinstance(state[key], str):
                raise ValueError(f"{where}: {key} must be a string")

    def _parallel(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise ValueError(f"{where}: Branches must be a non-empty list")
        for position, branch in enumerate(branches):
            self._nested(branch, f"{where}.Branches[{position}]", language, self.workflow_type)
        self._retry_catch(where, state, known, language)

    def _map(self, where: str, state: Mapping[str, Any], known: Any, language: str) -> None:
        if ("ItemProcessor" in state) == ("Iterator" in state):
            raise ValueError(f"{where}: needs exactly one of ItemProcessor or Iterator")
        if "ItemSelector" in state and "Parameters" in state:
            raise ValueError(f"{where}: give ItemSelector or Parameters, not both")
        processor = state.get("ItemProcessor", state.get("Iterator"))
        child_type = self._processor_type(where, state, processor)
        self._nested(processor, f"{where}.ItemProcessor", language, child_type)
        if "ItemsPath" in state:
            _path(state["ItemsPath"], f"{where}.ItemsPath")
        if "ItemSelector" in state and language == JSONPATH:
            check_template(state["ItemSelector"], f"{where}.ItemSelector")
        if "MaxConcurrency" in state and not _expression(state["MaxConcurrency"], language):
            _positive_int(state["MaxConcurrency"], f"{where}.MaxConcurrency", minimum=0)
        _tolerance(where, state, language)
        if "ItemReader" in state:
            _item_reader(state["ItemReader"], f"{where}.ItemReader", language)
        if "ItemBatcher" in state:
            _item_batcher(state["ItemBatcher"], f"{where}.ItemBatcher", language)
        if "ResultWriter" in state:
            _result_writer(state["ResultWriter"], f"{where}.ResultWriter")
        self._retry_catch(where, state, known, language)

    def _processor_type(self, where: str, state: Mapping[str, Any], processor: Any) -> str:
        """The workflow type the Map's iterations run as (checks ProcessorConfig)."""
        config = processor.get("ProcessorConfig", {}) if isinstance(processor, dict) else {}
        mode = config.get("Mode", "INLINE")
        if mode not in ("INLINE", "DISTRIBUTED"):
            raise ValueError(f"{where}: ProcessorConfig.Mode must be INLINE or DISTRIBUTED")
        if mode == "INLINE":
            for key in ("ItemReader", "ItemBatcher", "ResultWriter"):
                if key in state:
                    raise ValueError(f"{where}: {key} needs ProcessorConfig.Mode DISTRIBUTED")
            return self.workflow_type
        child_type = config.get("ExecutionType")
        if child_type not in WORKFLOW_TYPES:
            raise ValueError(
                f"{where}: a DISTRIBUTED Map needs ExecutionType STANDARD or EXPRESS, "
                f"got {child_type!r}"
            )
        return str(child_type)

    def _nested(self, scope: Any, where: str, language: str, workflow_type: str) -> None:
        if not isinstance(scope, dict):
            raise ValueError(f"{where} must be an object with StartAt and States")
        unknown = sorted(set(scope) - SCOPE_FIELDS - {"QueryLanguage"})
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}")
        nested_language = scope.get("QueryLanguage", language)
        if language == JSONATA != nested_language:
            raise ValueError(f"{where}: cannot switch back to JSONPath inside JSONata")
        _Validator(self.analysis, workflow_type).scope(scope, where, nested_language)

    def _retry_catch(
        self, where: str, state: Mapping[str, Any], known: Mapping[str, Any], language: str
    ) -> None:
        for key, allowed in (("Retry", _RETRIER_FIELDS), ("Catch", _CATCHER_FIELDS)):
            entries = state.get(key, [])
            if not isinstance(entries, list):
                raise ValueError(f"{where}: {key} must be a list")
            for position, entry in enumerate(entries):
                entry_where = f"{where}.{key}[{position}]"
                _error_equals(entry, entry_where, allowed, last=position == len(entries) - 1)
                if key == "Retry":
                    _retrier(entry, entry_where)
                    continue
                if entry.get("Next") not in known:
                    raise ValueError(f"{entry_where}: Next {entry.get('Next')!r} is not a state")
                if "ResultPath" in entry:
                    _path(entry["ResultPath"], f"{entry_where}.ResultPath", reference=True)
                if "Assign" in entry:
                    _assign(entry["Assign"], f"{entry_where}.Assign", language)


def _expression(value: Any, language: str) -> bool:
    return language == JSONATA and isinstance(value, str) and value.startswith("{%")


def _assign(assign: Any, where: str, language: str) -> None:
    if not isinstance(assign, dict):
        raise ValueError(f"{where} must be an object")
    for key, value in assign.items():
        name = key[:-2] if key.endswith(".$") and language == JSONPATH else key
        if not _VARIABLE_NAME.fullmatch(name) or name == "states":
            raise ValueError(f"{where}: {key!r} is not a valid variable name")
        if language == JSONPATH:
            if key.endswith(".$"):
                check_expression(value, f"{where}.{key}")
            else:
                check_template(value, f"{where}.{key}")


def _error_equals(entry: Any, where: str, allowed: frozenset[str], *, last: bool) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    names = entry.get("ErrorEquals")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: ErrorEquals must be a non-empty list of error names")
    if ALL in names and (len(names) != 1 or not last):
        raise ValueError(f"{where}: States.ALL must appear alone, in the last entry")


def _retrier(entry: Mapping[str, Any], where: str) -> None:
    if "IntervalSeconds" in entry:
        _positive_int(entry["IntervalSeconds"], f"{where}.IntervalSeconds")
    if "MaxAttempts" in entry:
        _positive_int(entry["MaxAttempts"], f"{where}.MaxAttempts", minimum=0)
    if "MaxDelaySeconds" in entry:
        _positive_int(entry["MaxDelaySeconds"], f"{where}.MaxDelaySeconds")
    rate = entry.get("BackoffRate", 2.0)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 1.0:
        raise ValueError(f"{where}: BackoffRate must be a number >= 1.0, got {rate!r}")
    if entry.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
        raise ValueError(f"{where}: JitterStrategy must be FULL or NONE")


def _tolerance(where: str, state: Mapping[str, Any], language: str) -> None:
    percentage = state.get("ToleratedFailurePercentage")
    if percentage is not None and not _expression(percentage, language):
        number_ok = isinstance(percentage, int | float) and not isinstance(percentage, bool)
        if not number_ok or not 0 <= percentage <= 100:
            raise ValueError(f"{where}: ToleratedFailurePercentage must be 0..100")
    count = state.get("ToleratedFailureCount")
    if count is not None and not _expression(count, language):
        _positive_int(count, f"{where}.ToleratedFailureCount", minimum=0)


def _item_reader(reader: Any, where: str, language: str) -> None:
    if not isinstance(reader, dict):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(set(reader) - _ITEM_READER_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    resource = reader.get("Resource")
    if resource not in (S3_GET_OBJECT, S3_LIST_OBJECTS):
        raise ValueError(f"{where}: unsupported Resource {resource!r}")
    if "Parameters" in reader:
        check_template(reader["Parameters"], f"{where}.Parameters")
    config = reader.get("ReaderConfig", {})
    if not isinstance(config, dict):
        raise ValueError(f"{where}.ReaderConfig must be an object")
    unknown = sorted(set(config) - readers.READER_CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"{where}.ReaderConfig: unknown or unsupported field(s) {unknown}")
    if "MaxItems" in config and not _expression(config["MaxItems"], language):
        _positive_int(config["MaxItems"], f"{where}.ReaderConfig.MaxItems")
    if resource == S3_GET_OBJECT:
        _object_reader_config(config, f"{where}.ReaderConfig")


def _object_reader_config(config: Mapping[str, Any], where: str) -> None:
    input_type = config.get("InputType")
    if input_type not in readers.INPUT_TYPES:
        raise ValueError(
            f"{where}.InputType must be one of {sorted(readers.INPUT_TYPES)}, got {input_type!r}"
        )
    pointer = config.get("ItemsPointer")
    if pointer is not None and (input_type != "JSON" or not str(pointer).startswith("/")):
        raise ValueError(
            f"{where}.ItemsPointer needs InputType JSON and a JSON Pointer like /orders, "
            f"got {pointer!r}"
        )
    if config.get("CSVHeaderLocation", "FIRST_ROW") not in ("FIRST_ROW", "GIVEN"):
        raise ValueError(f"{where}.CSVHeaderLocation must be FIRST_ROW or GIVEN")
    if config.get("CSVHeaderLocation") == "GIVEN" and not config.get("CSVHeaders"):
        raise ValueError(f"{where}: CSVHeaderLocation GIVEN needs CSVHeaders")
    if config.get("CSVDelimiter", "COMMA") not in readers.CSV_DELIMITERS:
        raise ValueError(f"{where}.CSVDelimiter must be one of {sorted(readers.CSV_DELIMITERS)}")


def _item_batcher(batcher: Any, where: str, language: str) -> None:
    if not isinstance(batcher, dict):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(set(batcher) - _ITEM_BATCHER_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    limits = set(batcher) & (_ITEM_BATCHER_FIELDS - {"BatchInput"})
    if not limits:
        raise ValueError(f"{where}: needs MaxItemsPerBatch or MaxInputBytesPerBatch")
    items = batcher.get("MaxItemsPerBatch")
    if items is not None and not _expression(items, language):
        _positive_int(items, f"{where}.MaxItemsPerBatch")
    size = batcher.get("MaxInputBytesPerBatch")
    if size is not None and not _expression(size, language):
        _positive_int(size, f"{where}.MaxInputBytesPerBatch")
        if size > (most := STEP_FUNCTIONS_MAX_INPUT_BYTES_PER_BATCH.value):
            raise ValueError(f"{where}.MaxInputBytesPerBatch cannot exceed {most}")
    for key in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"):
        if key in batcher:
            _path(batcher[key], f"{where}.{key}")
    if "BatchInput" in batcher and language == JSONPATH:
        check_template(batcher["BatchInput"], f"{where}.BatchInput")


def _result_writer(writer: Any, where: str) -> None:
    if not isinstance(writer, dict):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(set(writer) - results.WRITER_FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    if "Resource" not in writer and "WriterConfig" not in writer:
        raise ValueError(f"{where}: needs a Resource or a WriterConfig")
    if "Resource" in writer and writer["Resource"] != results.S3_PUT_OBJECT:
        raise ValueError(f"{where}: Resource must be {results.S3_PUT_OBJECT}")
    if "Parameters" in writer:
        check_template(writer["Parameters"], f"{where}.Parameters")
    config = writer.get("WriterConfig", {})
    if not isinstance(config, dict) or set(config) - results.WRITER_CONFIG_FIELDS:
        raise ValueError(f"{where}.WriterConfig may only hold Transformation and OutputType")
    if config.get("Transformation", "NONE") not in results.TRANSFORMATIONS:
        raise ValueError(f"{where}.WriterConfig.Transformation must be NONE, COMPACT or FLATTEN")
    if config.get("OutputType", "JSON") not in results.OUTPUT_TYPES:
        raise ValueError(f"{where}.WriterConfig.OutputType must be JSON or JSONL")


def _targets(state: Mapping[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [rule["Next"] for rule in state.get("Choices", []) if "Next" in rule]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def _check_reachable(start: str, states: Mapping[str, Any], where: str) -> None:
    seen, frontier = {start}, [start]
    while frontier:
        for target in _targets(states[frontier.pop()]):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    unreachable = [name for name in states if name not in seen]
    if unreachable:
        raise ValueError(f"state {unreachable[0]!r} is unreachable from StartAt in {where}")
