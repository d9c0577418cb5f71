"""The ``filter`` and ``orderBy`` of alertPolicies.list and notificationChannels.list, and
their page tokens.

Cloud Monitoring's "Sorting and filtering" language, over a flat view of the resource::

    user_labels."managed-by" = "composer-observability" AND NOT display_name : "test"
    display_name = starts_with("Composer") OR conditions.count > 1
    order_by: "user_label.team,-display_name"

A view maps field paths (``display_name``, ``documentation.content``, ``conditions.count``,
``enabled``...) to values and label maps (``user_labels``, ``labels``) to dicts; a label is
addressed as ``user_labels.KEY``, ``user_label.KEY`` or with a quoted KEY. Operators: ``=``,
``!=``, ``:`` (has: substring of a string, member of a list), ``<``, ``<=``, ``>``, ``>=``;
values: quoted strings, bare words, numbers, ``true``/``false`` and ``starts_with``,
``ends_with``, ``has_substring``; ``field.size`` and ``field.empty`` work on any field;
``AND``, ``OR``, ``NOT`` (or ``-``) and parentheses. An unknown field is refused naming it,
never silently matched against nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from observability.emulator.common import page_tokens
from observability.emulator.common.boolean_filter import (
    DOUBLE_QUOTED,
    ORDERINGS,
    BooleanParser,
    Token,
    compile_test,
    token_pattern,
    unquote,
)
from observability.emulator.common.errors import ApiError

View = Mapping[str, Any]
Test = Callable[[View], bool]

DEFAULT_PAGE_SIZE: Final = 1000

_PATTERN = token_pattern(
    operators=r"!=|<=|>=|=|<|>|:",
    minus=r"-",
    word=rf"""[A-Za-z0-9_@/+*][A-Za-z0-9_@/+*\-]*
        (?:\.(?:[A-Za-z0-9_@/+*\-]+|{DOUBLE_QUOTED}))*""",
)
_FUNCTIONS = {"starts_with", "ends_with", "has_substring"}


@dataclass(frozen=True)
class Schema:
    """The fields one resource kind exposes to filters and ordering."""

    fields: frozenset[str]
    """Plain field paths of the view."""
    maps: Mapping[str, str]
    """Label-map aliases -> view key: ``{"user_labels": "user_labels", "user_label": ...}``."""

    def resolve(self, path: str) -> tuple[str, str | None] | None:
        """``(view key, map key or None)`` of a field path, or None if unknown."""
        if path in self.fields:
            return path, None
        for alias, key in self.maps.items():
            if path.startswith(alias + "."):
                label = path[len(alias) + 1 :]
                if label.startswith('"') and label.endswith('"') and len(label) >= 2:
                    label = unquote(label)
                return key, label
            if path == alias:
                return key, None
        return None


def _lookup(view: View, where: tuple[str, str | None]) -> Any:
    key, label = where
    value = view.get(key)
    if label is not None:
        return value.get(label) if isinstance(value, Mapping) else None
    return value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _equal(actual: Any, literal: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, bool):
        return literal.lower() == str(actual).lower()
    if isinstance(actual, (int, float)):
        number = _as_number(literal)
        return number is not None and float(actual) == number
    if isinstance(actual, (list, tuple)):
        return any(_equal(item, literal) for item in actual)
    return str(actual) == literal


def _has(actual: Any, literal: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, Mapping):
        return literal in actual
    if isinstance(actual, (list, tuple)):
        return any(_has(item, literal) for item in actual)
    if isinstance(actual, (bool, int, float)):
        return _equal(actual, literal)
    return literal.lower() in str(actual).lower()


def _order(op: str, actual: Any, literal: str) -> bool:
    if actual is None or isinstance(actual, (list, tuple, Mapping)):
        return False
    left: Any = actual
    right: Any = literal
    number = _as_number(literal)
    if isinstance(actual, (int, float)) and number is not None:
        left, right = float(actual), number
    else:
        left = str(actual)
    return ORDERINGS[op](left, right)


class _Parser(BooleanParser[Test]):
    pattern = _PATTERN

    def __init__(self, text: str, schema: Schema, field: str) -> None:
        self.schema = schema
        self.field = field
        super().__init__(text)

    def error(self, message: str, pos: int) -> ApiError:
        return ApiError.invalid(
            f'Field {self.field} had an invalid value of "{self.text}": {message} at position {pos}'
        )

    def unexpected_character(self, gap_start: int, pos: int) -> ApiError:
        # Unlike the metric filter, points where the previous token ended (before any
        # whitespace): the position these errors have always given.
        return self.error("unexpected character", gap_start)

    def missing(self, want: str, token: Token) -> ApiError:
        return self.error(f"expected {want}", token.pos)

    def term(self) -> Test:
        token = self.take()
        if token.kind != "word":
            raise self.error(f"expected a field name, got {token.text or 'the end'!r}", token.pos)
        path = token.text
        suffix = None
        where = self.schema.resolve(path)
        if where is None and path.rsplit(".", 1)[-1] in ("size", "empty"):
            base, suffix = path.rsplit(".", 1)
            where = self.schema.resolve(base)
        if where is None:
            raise self.error(f"unknown field {path!r}", token.pos)
        resolved = where
        if suffix == "empty" and (self.peek().kind != "op"):
            return lambda view: not _lookup(view, resolved)
        op_token = self.take()
        if op_token.kind != "op":
            raise self.error("expected an operator (=, !=, :, <, >...)", op_token.pos)
        op = op_token.text
        predicate = self.value(op)

        def get(view: View) -> Any:
            value = _lookup(view, resolved)
            if suffix == "size":
                return len(value) if value is not None else 0
            if suffix == "empty":
                return not value
            return value

        if op == "!=":
            return lambda view: not predicate(get(view))
        return lambda view: predicate(get(view))

    def value(self, op: str) -> Callable[[Any], bool]:
        token = self.take()
        if token.kind == "string":
            literal = unquote(token.text)
        elif token.kind == "word" and token.text in _FUNCTIONS and self.peek().text == "(":
            self.take()
            arg = self.take()
            if arg.kind != "string":
                raise self.error("expected a quoted string", arg.pos)
            self.expect("punct", ")")
            needle = unquote(arg.text)
            if op not in ("=", "!=", ":"):
                raise self.error(f"{token.text}() needs '=' or ':'", token.pos)
            function = token.text

            def call(actual: Any) -> bool:
                if actual is None:
                    return False
                text = str(actual)
                if function == "starts_with":
                    return text.startswith(needle)
                if function == "ends_with":
                    return text.endswith(needle)
                return needle in text

            return call
        elif token.kind == "word":
            literal = token.text
        else:
            raise self.error(f"expected a value, got {token.text or 'the end'!r}", token.pos)
        if op in ("=", "!="):
            return lambda actual: _equal(actual, literal)
        if op == ":":
            return lambda actual: _has(actual, literal)
        return lambda actual: _order(op, actual, literal)


def compile_list_filter(text: str, schema: Schema, field: str = "filter") -> Test:
    """A predicate over views; a blank filter keeps everything. Raises INVALID_ARGUMENT."""
    if not text.strip():
        return lambda view: True
    return compile_test(_Parser(text, schema, field).parse(), lambda test: test)


class _Desc:
    """Reverses the order of whatever it wraps."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (bool, int, float)):
        return (1, float(value))
    if isinstance(value, (list, tuple, Mapping)):
        return (1, float(len(value)))
    return (2, str(value))


def sort_views(
    views: list[Any], order_by: str, schema: Schema, view_of: Callable[[Any], View]
) -> None:
    """Sort ``views`` (any items; ``view_of`` gives each one's view) by ``order_by`` in place."""
    if not order_by.strip():
        return
    keys: list[tuple[bool, tuple[str, str | None], str | None]] = []
    for part in order_by.split(","):
        path = part.strip()
        descending = path.startswith("-") or path.startswith("~")
        path = path.lstrip("-~").strip()
        suffix = None
        where = schema.resolve(path)
        if where is None and path.rsplit(".", 1)[-1] == "size":
            base, suffix = path.rsplit(".", 1)
            where = schema.resolve(base)
        if where is None:
            raise ApiError.invalid(
                f'Field order_by had an invalid value of "{order_by}": unknown field {path!r}'
            )
        keys.append((descending, where, suffix))

    def key(item: Any) -> tuple[Any, ...]:
        view = view_of(item)
        out: list[Any] = []
        for descending, where, suffix in keys:
            value = _lookup(view, where)
            if suffix == "size":
                value = len(value) if value is not None else 0
            sort_key = _sort_key(value)
            out.append(_Desc(sort_key) if descending else sort_key)
        return tuple(out)

    views.sort(key=key)


def page(items: Sequence[Any], page_size: int, page_token: str) -> tuple[list[Any], str]:
    """One page of ``items`` and the token of the next one ("" at the end)."""
    start = 0
    if page_token:
        (start,) = page_tokens.decode(page_token, (int,), "page_token")
        if start < 0:
            raise ApiError.invalid(f'Field page_token had an invalid value of "{page_token}"')
    if page_size < 0:
        raise ApiError.invalid(f'Field page_size had an invalid value of "{page_size}"')
    size = page_size or DEFAULT_PAGE_SIZE
    chunk = list(items[start : start + size])
    end = start + size
    token = page_tokens.encode(end) if end < len(items) else ""
    return chunk, token
