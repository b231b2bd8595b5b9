"""A faster moto UpdateItem for the plain `SET #a = :a, b = :b` expressions handlers send.

moto parses an UpdateExpression into an AST twice per call (request validation and the
backend), deep-copies it and runs ten tree-walking validators over it: about 2 ms per
UpdateItem, which is most of the cost of updating 20,000 chargebacks. While an emulator
is open:

- parsed update expressions and lexed condition expressions are cached by their text,
  and condition trees by text, names and values (moto deep-copies the update AST before
  changing it, condition tokens are immutable tuples and a condition tree only reads the
  item it is evaluated on, so sharing them is safe), and
- an expression made only of top-level `name = :value` assignments is applied directly:
  the condition is still evaluated by moto, the key cannot be assigned, every name and
  value must be given, and the item rules still hold (`dynamodb_limits` checks the
  result and undoes a refused update). Anything else (functions, arithmetic, nested
  paths, REMOVE/ADD/DELETE, a table with a stream, a name assigned twice, a missing
  placeholder) goes through moto unchanged, errors included.
"""

from __future__ import annotations

import functools
import json
import re
from collections import deque
from contextlib import AbstractContextManager
from typing import Any, Final
from unittest import mock

from moto.dynamodb.comparisons import ConditionExpressionParser, create_condition_expression_parser
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

_ASSIGNMENT: Final = re.compile(r"\s*(#?[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z0-9_]+)\s*")
_SET: Final = re.compile(r"\s*SET\s+(.*)", re.IGNORECASE | re.DOTALL)
CACHE_SIZE: Final = 256


@functools.lru_cache(maxsize=256)
def plain_assignments(expression: str) -> tuple[tuple[str, str], ...] | None:
    """`SET #a = :a, b = :b` → ((`#a`, `:a`), (`b`, `:b`)); None for anything else."""
    match = _SET.fullmatch(expression)
    if match is None:
        return None
    pairs = []
    for part in match.group(1).split(","):
        assignment = _ASSIGNMENT.fullmatch(part)
        if assignment is None:
            return None
        pairs.append((assignment.group(1), assignment.group(2)))
    return tuple(pairs)


def patches() -> list[AbstractContextManager[Any]]:
    original_make = UpdateExpressionParser.make.__func__
    original_update = DynamoDBBackend.update_item
    original_lex = ConditionExpressionParser._lex_condition_expression
    lexed: dict[str | None, tuple[Any, ...]] = {}

    def lex(parser: ConditionExpressionParser) -> deque[Any]:
        """Tokens of a condition (immutable tuples), lexed once per expression text."""
        text = parser.condition_expression
        if text not in lexed:
            if len(lexed) >= CACHE_SIZE:
                lexed.clear()
            lexed[text] = tuple(original_lex(parser))
        return deque(lexed[text])

    original_parse = ConditionExpressionParser.parse
    parsed: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}

    def parse(parser: ConditionExpressionParser) -> Any:
        """The condition's operator tree, built once per expression, names and values.

        The tree only reads the item it is evaluated on; the names and values it found are
        replayed because moto's request validation reads them from the parser.
        """
        key = json.dumps(
            [
                parser.condition_expression,
                parser.expression_attribute_names,
                parser.expression_attribute_values,
            ],
            sort_keys=True,
        )
        if key not in parsed:
            if len(parsed) >= CACHE_SIZE:
                parsed.clear()
            op = original_parse(parser)
            found = (tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found))
            parsed[key] = (op, *found)
            return op
        op, names, values = parsed[key]
        parser.expr_attr_names_found.extend(names)
        parser.expr_attr_values_found.extend(values)
        return op

    made: dict[str, Any] = {}

    def make(cls: Any, expression: str) -> Any:
        """The update expression's AST, parsed once per text (moto copies it before use)."""
        if expression not in made:
            if len(made) >= CACHE_SIZE:
                made.clear()
            made[expression] = original_make(cls, expression)
        return made[expression]

    def update_item(  # noqa: PLR0917 - moto's signature
        backend: DynamoDBBackend,
        table_name: str,
        key: dict[str, dict[str, Any]],
        update_expression: str,
        expression_attribute_names: dict[str, Any],
        expression_attribute_values: dict[str, Any],
        attribute_updates: dict[str, Any] | None = None,
        expected: dict[str, Any] | None = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Item:
        if not attribute_updates and not expected:
            fast = _fast_update(
                backend,
                table_name,
                key,
                expression=update_expression,
                names=expression_attribute_names or {},
                values=expression_attribute_values or {},
                condition=condition_expression,
                return_old_on_failure=return_values_on_condition_check_failure,
            )
            if fast is not None:
                return fast
        return original_update(
            backend,
            table_name,
            key,
            update_expression,
            expression_attribute_names,
            expression_attribute_values,
            attribute_updates,
            expected,
            condition_expression,
            return_values_on_condition_check_failure,
        )

    return [
        mock.patch.object(ConditionExpressionParser, "_lex_condition_expression", lex),
        mock.patch.object(ConditionExpressionParser, "parse", parse),
        mock.patch.object(UpdateExpressionParser, "make", classmethod(make)),
        mock.patch.object(DynamoDBBackend, "update_item", update_item),
    ]


def _fast_update(
    backend: DynamoDBBackend,
    table_name: str,
    key: dict[str, dict[str, Any]],
    *,
    expression: str | None,
    names: dict[str, str],
    values: dict[str, Any],
    condition: str | None,
    return_old_on_failure: str | None,
) -> Item | None:
    """Apply a plain SET update, or return None to let moto do it."""
    if not expression:
        return None
    pairs = plain_assignments(expression)
    if pairs is None:
        return None
    table = backend.get_table(table_name)
    if table.stream_shard is not None or set(key) - {table.hash_key_attr, table.range_key_attr}:
        return None
    targets = [names.get(name) if name.startswith("#") else name for name, _ in pairs]
    if (
        any(target is None for target in targets)
        or any(value not in values for _, value in pairs)
        or len(set(targets)) != len(targets)
        or set(targets) & set(table.attribute_keys)
        or table.hash_key_attr not in key
    ):
        return None
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    item = table.get_item(hash_value, range_value)
    check = create_condition_expression_parser(condition, names, values).parse()
    if not check.expr(item):
        if return_old_on_failure == "ALL_OLD" and item is not None:
            raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
        raise ConditionalCheckFailed
    assigned = {str(t): DynamoType(values[v]) for t, (_, v) in zip(targets, pairs, strict=True)}
    # The result's size (and every other item rule) is checked by `dynamodb_limits`, which
    # wraps this update and undoes it when AWS would refuse it.
    if item is None:
        data = {table.hash_key_attr: key[table.hash_key_attr]}
        if table.range_key_attr:
            data[table.range_key_attr] = key[table.range_key_attr]
        table.put_item(data)
        item = table.get_item(hash_value, range_value)
        if item is None:  # pragma: no cover - put_item just stored it
            return None
    # The size was checked above for the whole item: skip moto's per-attribute re-sum.
    for name, value in assigned.items():
        dict.__setitem__(item.attrs, name, value)
    return item
