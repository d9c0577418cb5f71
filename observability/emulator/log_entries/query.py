"""Turn a Logging filter into the SQL that narrows the candidates, plus the exact matcher.

The filter package decides what matches; this module only derives, from the same syntax
tree, restrictions on the store's indexed columns that every matching entry must satisfy
(a superset, never a subset). ``timestamp >= "..."``, ``logName = "..."``, ``log_id(...)``,
``severity >= ERROR`` and ``resource.type = "..."`` in the top-level conjunction (or in an
OR whose every branch is one of them) become SQL; everything else is left to the matcher.
That is what lets a query over 100,000+ entries look at a few rows instead of all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from observability.emulator.log_entries.convert import (
    SEVERITY_NUMBERS,
    EntryInvalid,
    parse_timestamp_ns,
)
from observability.emulator.log_entries.store import SqlClause, clamp_int64, parse_log_name
from observability.logfilter import (
    And,
    Comparison,
    FieldPath,
    FunctionCall,
    Node,
    Or,
    Value,
    compile_filter,
)

# Inclusive bounds for the strict operators: narrowing must never drop a match.
_RANGE_SQL = {"=": "=", "<": "<=", "<=": "<=", ">": ">=", ">=": ">="}


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """A compiled filter: SQL narrowing for the store and the exact per-entry test."""

    narrowing: SqlClause
    matches: Callable[[dict[str, Any]], bool] | None


def compile_query(filter_text: str) -> EntryQuery:
    """Compile ``filter_text``; raises ``observability.logfilter.FilterError`` if it is bad.

    A blank filter matches everything and needs no per-entry test at all.
    """
    if not filter_text.strip():
        return EntryQuery(SqlClause(), None)
    log_filter = compile_filter(filter_text)
    return EntryQuery(_narrow(log_filter.node) or SqlClause(), log_filter.matches)


def _narrow(node: Node) -> SqlClause | None:
    """SQL every entry matching ``node`` satisfies, or None when no such SQL is derived."""
    if isinstance(node, And):
        parts = [clause for child in node.children if (clause := _narrow(child)) is not None]
        return _join(parts, "AND") if parts else None
    if isinstance(node, Or):
        branches = [_narrow(child) for child in node.children]
        if any(branch is None for branch in branches):
            return None
        return _join([branch for branch in branches if branch is not None], "OR")
    if isinstance(node, FunctionCall):
        return _narrow_function(node)
    if (
        isinstance(node, Comparison)
        and isinstance(node.lhs, FieldPath)
        and isinstance(node.rhs, Value)
    ):
        return _narrow_comparison(node.lhs.segments, node.op, node.rhs)
    return None


def _join(parts: list[SqlClause], operator: str) -> SqlClause:
    if len(parts) == 1:
        return parts[0]
    return SqlClause(
        f" {operator} ".join(f"({part.sql})" for part in parts),
        tuple(param for part in parts for param in part.params),
    )


def _narrow_function(call: FunctionCall) -> SqlClause | None:
    if call.name == "log_id" and len(call.args) == 1 and isinstance(call.args[0], Value):
        return SqlClause("log_id = ?", (call.args[0].text,))
    return None


def _narrow_comparison(path: tuple[str, ...], op: str, value: Value) -> SqlClause | None:
    if op not in _RANGE_SQL or value.kind == "null":
        return None
    sql_op = _RANGE_SQL[op]
    if path == ("timestamp",):
        ns = parse_timestamp_ns(value.text)
        return None if ns is None else SqlClause(f"ts {sql_op} ?", (clamp_int64(ns),))
    if path == ("severity",):
        number = _severity_number(value)
        return None if number is None else SqlClause(f"severity {sql_op} ?", (clamp_int64(number),))
    # String equality is case-insensitive; the columns fold ASCII case only.
    if op != "=" or not value.text.isascii():
        return None
    if path in (("logName",), ("log_name",)):
        try:
            return SqlClause("log_id = ?", (parse_log_name(value.text).log_id,))
        except EntryInvalid:
            return None
    if path == ("resource", "type"):
        return SqlClause("resource_type = ?", (value.text,))
    return None


def _severity_number(value: Value) -> int | None:
    if value.kind == "number":
        try:
            return int(value.text)
        except ValueError:
            return None
    return SEVERITY_NUMBERS.get(value.text.upper())
