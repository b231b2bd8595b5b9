"""JSONPath as ASL uses it: reference paths, query paths, and ResultPath writes.

Why our own evaluator rather than jsonpath-ng (present only as a moto dependency): ASL
must know whether a path is *definite* (`$.a.b`, `$.a[0]`: one value, and no match is
an error) or *indefinite* (`$.a[*]`, `$..b`, slices, unions, filters: always a list,
possibly empty), it must resolve `$$` (the context object) and `$name` (variables), and
ResultPath must write through a path creating objects on the way. Supported syntax:
`$`, `.name`, `['name']`, `["name"]`, `['a','b']`, `[0]`, `[-1]`, `[0,2]`, `[1:3]`,
`[::2]`, `[*]`, `.*`, `..name`, `..*` and simple filters `[?(@.x == 'y')]`,
`[?(@.n > 1 && @.flag)]` (comparisons ==, !=, <, <=, >, >=, existence, `&&`, `||`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from emulator.states.errors import RESULT_PATH_MATCH_FAILURE, TaskError

CONTEXT_ROOT: Final = "$$"
INPUT_ROOT: Final = "$"
_CURRENT_ROOT: Final = "@"
_VARIABLE: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_INT: Final = re.compile(r"-?\d+")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


class PathSyntaxError(ValueError):
    """The text is not a JSONPath this interpreter understands."""


class PathMissing(LookupError):
    """A definite path matched nothing (or named an unknown variable)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Name:
    key: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Union:
    members: tuple[str | int, ...]


@dataclass(frozen=True)
class Filter:
    predicate: Callable[[Any], bool]
    text: str


@dataclass(frozen=True)
class Descendants:
    """`..x`: apply `inner` to the node and every node below it."""

    inner: Name | Index | Wildcard | Slice | Union | Filter


Segment = Name | Index | Wildcard | Slice | Union | Filter | Descendants


@dataclass(frozen=True)
class JsonPath:
    """A parsed path. `root` is "$", "$$", "@" or a variable name."""

    text: str
    root: str
    segments: tuple[Segment, ...]

    @property
    def definite(self) -> bool:
        """One value or an error, rather than a list of matches."""
        return all(isinstance(s, Name | Index) for s in self.segments)

    @property
    def is_reference(self) -> bool:
        """A Reference Path (what ResultPath allows): `$` plus names and indexes."""
        return self.root == INPUT_ROOT and self.definite

    def find(self, document: Any) -> list[Any]:
        """Every match, in document order."""
        nodes = [document]
        for segment in self.segments:
            nodes = [child for node in nodes for child in _apply(segment, node)]
        return nodes

    def get(self, document: Any) -> Any:
        """A definite path's value (PathMissing if none); an indefinite path's match list."""
        matches = self.find(document)
        if not self.definite:
            return matches
        if not matches:
            raise PathMissing(self.text)
        return matches[0]


def _apply(segment: Segment, node: Any) -> list[Any]:
    return _STEPS[type(segment)](segment, node)


def _apply_name(segment: Any, node: Any) -> list[Any]:
    return [node[segment.key]] if isinstance(node, dict) and segment.key in node else []


def _apply_index(segment: Any, node: Any) -> list[Any]:
    if isinstance(node, list) and -len(node) <= segment.index < len(node):
        return [node[segment.index]]
    return []


def _apply_slice(segment: Any, node: Any) -> list[Any]:
    return node[segment.start : segment.stop : segment.step] if isinstance(node, list) else []


def _apply_union(segment: Any, node: Any) -> list[Any]:
    return [m for member in segment.members for m in _apply(_member(member), node)]


def _apply_filter(segment: Any, node: Any) -> list[Any]:
    candidates = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    return [item for item in candidates if segment.predicate(item)]


def _apply_descendants(segment: Any, node: Any) -> list[Any]:
    return [m for each in _walk(node) for m in _apply(segment.inner, each)]


_STEPS: Final[dict[type, Callable[[Any, Any], list[Any]]]] = {
    Name: _apply_name,
    Index: _apply_index,
    Wildcard: lambda _segment, node: _children(node),
    Slice: _apply_slice,
    Union: _apply_union,
    Filter: _apply_filter,
    Descendants: _apply_descendants,
}


def _member(member: str | int) -> Name | Index:
    return Index(member) if isinstance(member, int) else Name(member)


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def parse_path(text: str) -> JsonPath:
    """Parse (and cache) a path; PathSyntaxError says what is wrong with it."""
    path = _parse(text)
    if path.root == _CURRENT_ROOT:
        raise PathSyntaxError(f"{text!r}: '@' is only valid inside a filter")
    return path


@lru_cache(maxsize=4096)
def _parse(text: str) -> JsonPath:
    """Parse any path, including the `@` paths of filter expressions."""
    if not isinstance(text, str) or not text:
        raise PathSyntaxError(f"{text!r} is not a JSONPath")
    root, position = _parse_root(text)
    segments: list[Segment] = []
    while position < len(text):
        segment, position = _parse_segment(text, position)
        segments.append(segment)
    return JsonPath(text=text, root=root, segments=tuple(segments))


def _parse_root(text: str) -> tuple[str, int]:
    if text.startswith(CONTEXT_ROOT):
        return CONTEXT_ROOT, 2
    variable = _VARIABLE.match(text)
    if variable:
        return variable.group(1), variable.end()
    if text[0] in (INPUT_ROOT, _CURRENT_ROOT):
        return text[0], 1
    raise PathSyntaxError(f"{text!r} must start with '$'")


def _parse_segment(text: str, position: int) -> tuple[Segment, int]:
    if text.startswith("..", position):
        inner, end = _parse_step(text, position + 2, after_dots=True)
        if isinstance(inner, Descendants):
            raise PathSyntaxError(f"{text!r}: '...' is not a path step")
        return Descendants(inner), end
    if text[position] == ".":
        return _parse_step(text, position + 1, after_dots=False)
    if text[position] == "[":
        return _parse_bracket(text, position)
    raise PathSyntaxError(f"{text!r}: unexpected {text[position]!r} at {position}")


def _parse_step(text: str, position: int, *, after_dots: bool) -> tuple[Segment, int]:
    if position >= len(text):
        raise PathSyntaxError(f"{text!r} ends with '.'")
    if after_dots and text[position] == "[":
        return _parse_bracket(text, position)
    if text[position] == "*":
        return Wildcard(), position + 1
    end = position
    while end < len(text) and text[end] not in ".[":
        end += 1
    if end == position:
        raise PathSyntaxError(f"{text!r}: empty name at {position}")
    return Name(text[position:end]), end


def _closing_bracket(text: str, position: int) -> int:
    """Index of the `]` closing the `[` at `position`, skipping quoted strings."""
    depth, quote, i = 0, "", position
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise PathSyntaxError(f"{text!r}: unclosed '['")


def _parse_bracket(text: str, position: int) -> tuple[Segment, int]:
    end = _closing_bracket(text, position)
    body = text[position + 1 : end].strip()
    after = end + 1
    if body == "*":
        return Wildcard(), after
    if body.startswith("?(") and body.endswith(")"):
        expression = body[2:-1]
        return Filter(_parse_filter(expression, text), expression), after
    if ":" in body and not body.startswith(("'", '"')):
        return _parse_slice(body, text), after
    members = tuple(_parse_member(part.strip(), text) for part in _split_top(body, ","))
    if len(members) == 1:
        return _member(members[0]), after
    return Union(members), after


def _parse_slice(body: str, text: str) -> Slice:
    parts = [part.strip() for part in body.split(":")]
    if len(parts) > 3 or any(part and not _INT.fullmatch(part) for part in parts):
        raise PathSyntaxError(f"{text!r}: bad slice [{body}]")
    numbers = [int(part) if part else None for part in parts] + [None] * (3 - len(parts))
    if numbers[2] == 0:
        raise PathSyntaxError(f"{text!r}: slice step cannot be 0")
    return Slice(numbers[0], numbers[1], numbers[2])


def _parse_member(part: str, text: str) -> str | int:
    if _INT.fullmatch(part):
        return int(part)
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
        return _unquote(part[1:-1])
    raise PathSyntaxError(f"{text!r}: bad subscript [{part}]")


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", r"\1", body)


def _split_top(body: str, separator: str) -> list[str]:
    """Split on `separator` outside quotes and brackets."""
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(body):
        char = body[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif depth == 0 and body.startswith(separator, i):
            parts.append(body[start:i])
            start = i + len(separator)
            i = start
            continue
        i += 1
    parts.append(body[start:])
    return parts


_COMPARISON: Final = re.compile(r"^(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+)$", re.DOTALL)
_MISSING: Final = object()


def _parse_filter(expression: str, text: str) -> Callable[[Any], bool]:
    alternatives = [
        [_parse_condition(atom.strip(), text) for atom in _split_top(branch, "&&")]
        for branch in _split_top(expression, "||")
    ]
    return lambda item: any(all(test(item) for test in branch) for branch in alternatives)


def _parse_condition(atom: str, text: str) -> Callable[[Any], bool]:
    if atom.startswith("(") and atom.endswith(")"):
        return _parse_filter(atom[1:-1], text)
    comparison = _COMPARISON.match(atom)
    if comparison is None:
        if not atom.startswith(_CURRENT_ROOT):
            raise PathSyntaxError(f"{text!r}: unsupported filter {atom!r}")
        path = _parse(atom)
        return lambda item: bool(path.find(item))
    path = _parse(comparison.group(1).strip())
    operator, literal = comparison.group(2), _filter_literal(comparison.group(3).strip(), text)
    return lambda item: _compare(_first(path, item), operator, literal)


def _filter_literal(raw: str, text: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return _unquote(raw[1:-1])
    if _NUMBER.fullmatch(raw):
        number = float(raw)
        return int(number) if _INT.fullmatch(raw) else number
    constants: dict[str, Any] = {"true": True, "false": False, "null": None}
    if raw in constants:
        return constants[raw]
    raise PathSyntaxError(f"{text!r}: unsupported filter value {raw!r}")


def _first(path: JsonPath, item: Any) -> Any:
    matches = path.find(item)
    return matches[0] if matches else _MISSING


def _compare(left: Any, operator: str, right: Any) -> bool:
    if left is _MISSING:
        return False
    if operator == "==":
        return bool(_same_type(left, right) and left == right)
    if operator == "!=":
        return not (_same_type(left, right) and left == right)
    if not _same_type(left, right) or isinstance(left, bool | dict | list) or left is None:
        return False
    ordering = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
    return bool(ordering[operator])


def _same_type(left: Any, right: Any) -> bool:
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool)
    if isinstance(left, numbers) and isinstance(right, numbers):
        return True
    return type(left) is type(right)


def query(text: str, data: Any, *, context: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
    """Evaluate a path against the state data, the context object or a variable."""
    path = parse_path(text)
    if path.root == INPUT_ROOT:
        document = data
    elif path.root == CONTEXT_ROOT:
        document = context
    elif path.root in variables:
        document = variables[path.root]
    else:
        raise PathMissing(text)
    return path.get(document)


def set_at(document: Any, text: str, value: Any) -> Any:
    """ResultPath: a copy of `document` with `value` written at the reference path `text`.

    Missing objects on the way are created; writing into something that is not an object
    (or an array index that does not exist) is States.ResultPathMatchFailure.
    """
    path = parse_path(text)
    if not path.segments:
        return value
    result = copy.deepcopy(document)
    node = result
    for position, segment in enumerate(path.segments):
        last = position == len(path.segments) - 1
        if isinstance(segment, Name) and isinstance(node, dict):
            if last:
                node[segment.key] = value
            else:
                node = node.setdefault(segment.key, {})
        elif (
            isinstance(segment, Index)
            and isinstance(node, list)
            and -len(node) <= segment.index < len(node)
        ):
            if last:
                node[segment.index] = value
            else:
                node = node[segment.index]
        else:
            raise TaskError(
                RESULT_PATH_MATCH_FAILURE,
                f"Unable to apply ResultPath {text!r} to the state input: "
                f"{_describe(node)} cannot hold {_step(segment)}",
            )
    return result


def _describe(node: Any) -> str:
    kind = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if node is None:
        return "null"
    return kind.get(type(node), "a number")


def _step(segment: Segment) -> str:
    return f"field {segment.key!r}" if isinstance(segment, Name) else "that array index"
