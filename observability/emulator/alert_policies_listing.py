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

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from observability.emulator.errors import ApiError

View = Mapping[str, Any]
Test = Callable[[View], bool]

DEFAULT_PAGE_SIZE: Final = 1000

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|<=|>=|=|<|>|:)
      | (?P<punct>[(),])
      | (?P<minus>-)
      | (?P<word>[A-Za-z0-9_@/+*][A-Za-z0-9_@/+*\-]*
          (?:\.(?:[A-Za-z0-9_@/+*\-]+|"(?:[^"\\]|\\.)*"))*)
    )""",
    re.VERBOSE,
)
_FUNCTIONS = {"starts_with", "ends_with", "has_substring"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _tokenize(text: str, field: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _error(field, text, "unexpected character", pos)
        kind = match.lastgroup or ""
        tokens.append(_Tok(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


def _error(field: str, text: str, message: str, pos: int) -> ApiError:
    return ApiError.invalid(
        f'Field {field} had an invalid value of "{text}": {message} at position {pos}'
    )


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
                    label = _unquote(label)
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
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


class _Parser:
    def __init__(self, text: str, schema: Schema, field: str) -> None:
        self.text = text
        self.schema = schema
        self.field = field
        self.tokens = _tokenize(text, field)
        self.i = 0

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, message: str, token: _Tok) -> ApiError:
        return _error(self.field, self.text, message, token.pos)

    def parse(self) -> Test:
        test = self.or_expr()
        if self.peek().kind != "end":
            raise self.fail(f"unexpected {self.peek().text!r}", self.peek())
        return test

    def or_expr(self) -> Test:
        parts = [self.and_expr()]
        while self.peek().kind == "word" and self.peek().text == "OR":
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda view: any(part(view) for part in parts)

    def and_expr(self) -> Test:
        parts = [self.unary()]
        while True:
            token = self.peek()
            if token.kind == "end" or (token.kind == "punct" and token.text == ")"):
                break
            if token.kind == "word" and token.text == "OR":
                break
            if token.kind == "word" and token.text == "AND":
                self.take()
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda view: all(part(view) for part in parts)

    def unary(self) -> Test:
        token = self.peek()
        if token.kind == "minus" or (token.kind == "word" and token.text == "NOT"):
            self.take()
            inner = self.unary()
            return lambda view: not inner(view)
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self.or_expr()
            closing = self.take()
            if closing.text != ")":
                raise self.fail("expected ')'", closing)
            return inner
        return self.comparison()

    def comparison(self) -> Test:
        token = self.take()
        if token.kind != "word":
            raise self.fail(f"expected a field name, got {token.text or 'the end'!r}", token)
        path = token.text
        suffix = None
        where = self.schema.resolve(path)
        if where is None and path.rsplit(".", 1)[-1] in ("size", "empty"):
            base, suffix = path.rsplit(".", 1)
            where = self.schema.resolve(base)
        if where is None:
            raise self.fail(f"unknown field {path!r}", token)
        resolved = where
        if suffix == "empty" and (self.peek().kind != "op"):
            return lambda view: not _lookup(view, resolved)
        op_token = self.take()
        if op_token.kind != "op":
            raise self.fail("expected an operator (=, !=, :, <, >...)", op_token)
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
            literal = _unquote(token.text)
        elif token.kind == "word" and token.text in _FUNCTIONS and self.peek().text == "(":
            self.take()
            arg = self.take()
            if arg.kind != "string":
                raise self.fail("expected a quoted string", arg)
            closing = self.take()
            if closing.text != ")":
                raise self.fail("expected ')'", closing)
            needle = _unquote(arg.text)
            if op not in ("=", "!=", ":"):
                raise self.fail(f"{token.text}() needs '=' or ':'", token)
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
            raise self.fail(f"expected a value, got {token.text or 'the end'!r}", token)
        if op in ("=", "!="):
            return lambda actual: _equal(actual, literal)
        if op == ":":
            return lambda actual: _has(actual, literal)
        return lambda actual: _order(op, actual, literal)


def compile_list_filter(text: str, schema: Schema, field: str = "filter") -> Test:
    """A predicate over views; a blank filter keeps everything. Raises INVALID_ARGUMENT."""
    if not text.strip():
        return lambda view: True
    return _Parser(text, schema, field).parse()


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
        try:
            start = int(base64.urlsafe_b64decode(page_token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError.invalid(
                f'Field page_token had an invalid value of "{page_token}": not a token this '
                "list returned"
            ) from None
        if start < 0:
            raise ApiError.invalid(f'Field page_token had an invalid value of "{page_token}"')
    if page_size < 0:
        raise ApiError.invalid(f'Field page_size had an invalid value of "{page_size}"')
    size = page_size or DEFAULT_PAGE_SIZE
    chunk = list(items[start : start + size])
    end = start + size
    token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return chunk, token
