"""ASL intrinsic functions (`States.Format(...)` and friends) for JSONPath states.

Parsed once at construction (a syntax error is a definition error, as in AWS) and
evaluated per use. Arguments are single-quoted strings (escapes `\\'`, `\\{`, `\\}`,
`\\\\`), numbers, `true`/`false`/`null`, paths (`$.x`, `$$.x`, `$var`) and nested calls.
A function applied to the wrong kind of value fails with States.Runtime, as in AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from emulator.states.errors import RUNTIME, TaskError
from emulator.states.limits import json_text
from emulator.states.paths import PathSyntaxError, parse_path

PREFIX: Final = "States."
_NAME: Final = re.compile(r"States\.([A-Za-z0-9]+)\s*\(")
_NUMBER: Final = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_KEYWORDS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None}
_MAX_STRING: Final = 10_000
_MAX_RANGE: Final = 1_000
_HASHES: Final = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


@dataclass(frozen=True)
class Literal:
    """A literal argument; a string also keeps where its unescaped `{}` placeholders are."""

    value: Any
    template: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PathArg:
    path: str


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Literal | PathArg | Call, ...]


Argument = Literal | PathArg | Call
Resolver = Callable[[str], Any]


def is_intrinsic(text: str) -> bool:
    return text.startswith(PREFIX)


@lru_cache(maxsize=1024)
def parse_intrinsic(text: str) -> Call:
    """Parse a whole `States.X(...)` expression; ValueError describes a syntax error."""
    parser = _Parser(text)
    call = parser.call()
    parser.skip_space()
    if parser.position != len(text):
        raise ValueError(f"{text!r}: unexpected text after the closing parenthesis")
    return call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def call(self) -> Call:
        match = _NAME.match(self.text, self.position)
        if match is None:
            raise ValueError(f"{self.text!r}: expected States.<Function>( at {self.position}")
        name = PREFIX + match.group(1)
        if name not in FUNCTIONS:
            raise ValueError(f"{self.text!r}: unknown intrinsic function {name}")
        self.position = match.end()
        args: list[Argument] = []
        self.skip_space()
        if self.text.startswith(")", self.position):
            self.position += 1
            return Call(name, ())
        while True:
            args.append(self.argument())
            self.skip_space()
            if self.text.startswith(",", self.position):
                self.position += 1
            elif self.text.startswith(")", self.position):
                self.position += 1
                return Call(name, tuple(args))
            else:
                raise ValueError(f"{self.text!r}: expected ',' or ')' at {self.position}")

    def argument(self) -> Argument:
        self.skip_space()
        rest = self.text[self.position :]
        if rest.startswith("'"):
            return self.string()
        if rest.startswith(PREFIX):
            return self.call()
        if rest.startswith("$"):
            return self.path()
        number = _NUMBER.match(rest)
        if number:
            self.position += number.end()
            raw = number.group(0)
            return Literal(float(raw) if number.group(1) or number.group(2) else int(raw))
        for keyword, value in _KEYWORDS.items():
            if re.match(rf"{keyword}\b", rest):
                self.position += len(keyword)
                return Literal(value)
        raise ValueError(f"{self.text!r}: cannot parse an argument at {self.position}")

    def string(self) -> Literal:
        parts: list[str] = []
        current: list[str] = []
        i = self.position + 1
        while i < len(self.text):
            char = self.text[i]
            if char == "\\" and i + 1 < len(self.text):
                escaped = self.text[i + 1]
                current.append(escaped if escaped in "'{}\\" else char + escaped)
                i += 2
                continue
            if char == "'":
                self.position = i + 1
                parts.append("".join(current))
                return Literal("{}".join(parts), tuple(parts))
            if self.text.startswith("{}", i):
                parts.append("".join(current))
                current = []
                i += 2
                continue
            current.append(char)
            i += 1
        raise ValueError(f"{self.text!r}: unterminated string literal")

    def path(self) -> PathArg:
        start, depth, quote = self.position, 0, ""
        i = start
        while i < len(self.text):
            char = self.text[i]
            if quote:
                if char == quote:
                    quote = ""
            elif char in "'\"" and depth:
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])" and depth:
                depth -= 1
            elif char in ",)":
                break
            i += 1
        self.position = i
        path = self.text[start:i].strip()
        try:
            parse_path(path)
        except PathSyntaxError as exc:
            raise ValueError(str(exc)) from exc
        return PathArg(path)


def evaluate_intrinsic(call: Call, resolve: Resolver, rng: random.Random) -> Any:
    """Evaluate a parsed call; `resolve` looks up path arguments (raising PathMissing)."""
    values = [_value(arg, resolve, rng) for arg in call.args]
    return FUNCTIONS[call.name](_Invocation(call, values, rng))


def _value(arg: Argument, resolve: Resolver, rng: random.Random) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArg):
        return resolve(arg.path)
    return evaluate_intrinsic(arg, resolve, rng)


@dataclass
class _Invocation:
    call: Call
    values: list[Any]
    rng: random.Random

    def fail(self, message: str) -> TaskError:
        return TaskError(RUNTIME, f"{self.call.name}: {message}")

    def arity(self, *counts: int) -> None:
        if len(self.values) not in counts:
            expected = " or ".join(str(count) for count in counts)
            raise self.fail(f"expected {expected} argument(s), got {len(self.values)}")

    def string(self, index: int, *, limit: int | None = None) -> str:
        value = self.values[index]
        if not isinstance(value, str):
            raise self.fail(f"argument {index + 1} must be a string, got {_kind(value)}")
        if limit is not None and len(value) > limit:
            raise self.fail(f"argument {index + 1} is longer than {limit} characters")
        return value

    def integer(self, index: int) -> int:
        value = self.values[index]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"argument {index + 1} must be an integer, got {_kind(value)}")
        return value

    def array(self, index: int) -> list[Any]:
        value = self.values[index]
        if not isinstance(value, list):
            raise self.fail(f"argument {index + 1} must be an array, got {_kind(value)}")
        return value

    def obj(self, index: int) -> dict[str, Any]:
        value = self.values[index]
        if not isinstance(value, dict):
            raise self.fail(f"argument {index + 1} must be an object, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def _format(inv: _Invocation) -> str:
    if not inv.values:
        raise inv.fail("expected a template argument")
    first = inv.call.args[0]
    template = first.template if isinstance(first, Literal) else None
    parts = list(template) if template is not None else inv.string(0).split("{}")
    inserts = inv.values[1:]
    if len(parts) - 1 != len(inserts):
        raise inv.fail(f"the template has {len(parts) - 1} placeholder(s), got {len(inserts)}")
    out = [parts[0]]
    for value, part in zip(inserts, parts[1:], strict=True):
        if isinstance(value, dict | list):
            raise inv.fail("only strings, numbers, booleans and null can be formatted")
        out.append(value if isinstance(value, str) else json_text(value))
        out.append(part)
    return "".join(out)


def _string_to_json(inv: _Invocation) -> Any:
    inv.arity(1)
    text = inv.string(0)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise inv.fail(f"the string is not JSON: {exc}") from exc


def _json_to_string(inv: _Invocation) -> str:
    inv.arity(1)
    return json_text(inv.values[0])


def _array(inv: _Invocation) -> list[Any]:
    return list(inv.values)


def _array_partition(inv: _Invocation) -> list[list[Any]]:
    inv.arity(2)
    items, size = inv.array(0), inv.integer(1)
    if size <= 0:
        raise inv.fail("the chunk size must be a positive integer")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(inv: _Invocation) -> bool:
    inv.arity(2)
    needle = _canonical(inv.values[1])
    return any(_canonical(item) == needle for item in inv.array(0))


def _array_range(inv: _Invocation) -> list[int]:
    inv.arity(3)
    start, end, step = inv.integer(0), inv.integer(1), inv.integer(2)
    if step == 0:
        raise inv.fail("the step cannot be 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    if len(values) > _MAX_RANGE:
        raise inv.fail(f"the range has {len(values)} items, more than {_MAX_RANGE}")
    return values


def _array_get_item(inv: _Invocation) -> Any:
    inv.arity(2)
    items, index = inv.array(0), inv.integer(1)
    if not 0 <= index < len(items):
        raise inv.fail(f"index {index} is out of bounds for an array of {len(items)}")
    return items[index]


def _array_length(inv: _Invocation) -> int:
    inv.arity(1)
    return len(inv.array(0))


def _array_unique(inv: _Invocation) -> list[Any]:
    inv.arity(1)
    seen: set[str] = set()
    unique = []
    for item in inv.array(0):
        key = _canonical(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _canonical(value: Any) -> str:
    """Deep-equality key: 1 and 1.0 are the same JSON number, key order does not matter."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_canonical(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    return json.dumps(value)


def _base64_encode(inv: _Invocation) -> str:
    inv.arity(1)
    return base64.b64encode(inv.string(0, limit=_MAX_STRING).encode("utf-8")).decode("ascii")


def _base64_decode(inv: _Invocation) -> str:
    inv.arity(1)
    try:
        raw = base64.b64decode(inv.string(0, limit=_MAX_STRING), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise inv.fail(f"not valid base64 of UTF-8 text: {exc}") from exc


def _hash(inv: _Invocation) -> str:
    inv.arity(2)
    data = inv.values[0]
    text = data if isinstance(data, str) else json_text(data)
    if len(text) > _MAX_STRING:
        raise inv.fail(f"the data is longer than {_MAX_STRING} characters")
    algorithm = inv.string(1)
    if algorithm not in _HASHES:
        raise inv.fail(f"unsupported algorithm {algorithm!r}; use one of {', '.join(_HASHES)}")
    digest = hashlib.new(_HASHES[algorithm], text.encode("utf-8"), usedforsecurity=False)
    return digest.hexdigest()


def _json_merge(inv: _Invocation) -> dict[str, Any]:
    inv.arity(3)
    left, right, deep = inv.obj(0), inv.obj(1), inv.values[2]
    if not isinstance(deep, bool):
        raise inv.fail("argument 3 must be a boolean")
    if deep:
        raise inv.fail("only shallow merging (false) is supported, as in AWS")
    return {**left, **right}


def _math_random(inv: _Invocation) -> int:
    inv.arity(2, 3)
    start, end = inv.integer(0), inv.integer(1)
    if end <= start:
        raise inv.fail("the end must be greater than the start")
    # Not for security: ASL's MathRandom is a plain PRNG, seeded for reproducible runs.
    rng = random.Random(inv.integer(2)) if len(inv.values) == 3 else inv.rng  # noqa: S311
    return rng.randrange(start, end)


def _math_add(inv: _Invocation) -> int:
    inv.arity(2)
    return inv.integer(0) + inv.integer(1)


def _string_split(inv: _Invocation) -> list[str]:
    inv.arity(2)
    text, delimiters = inv.string(0), inv.string(1)
    if not delimiters:
        return [text] if text else []
    pattern = "[" + re.escape(delimiters) + "]"
    return [part for part in re.split(pattern, text) if part]


def _uuid(inv: _Invocation) -> str:
    inv.arity(0)
    return str(uuid.UUID(int=inv.rng.getrandbits(128), version=4))


FUNCTIONS: Final[dict[str, Callable[[_Invocation], Any]]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
