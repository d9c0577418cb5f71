"""JSON parsed as :func:`json.loads` parses it, except that a key given twice in one object is
refused.

Python's :mod:`json` keeps the last of two equal keys without a word, so a dashboard with two
``"widgets"`` in one tile, or ``"displayName"`` written twice, would lose what the first one
said. Parsing stays in json's C code; only when a duplicate is seen is the text walked again,
in Python, to say where: the walk decodes keys and scalars with json's own decoder, so
``"\\u0074itle"`` and ``"title"`` are the same key here exactly as they are in the parsed data.
"""

from __future__ import annotations

import json
import re
from typing import Any

from observability.yaml_lines import KeyPath

_WHITESPACE = re.compile(r"[ \t\n\r]*")
"""What JSON allows between tokens (the same set :mod:`json` skips)."""


class DuplicateJsonKey(ValueError):
    """A key given twice in one object: its path, where the second one is and where the first
    was (1-based lines and columns, counted as :class:`json.JSONDecodeError` counts them)."""

    def __init__(
        self, path: KeyPath, line: int, column: int, first_line: int, first_column: int
    ) -> None:
        super().__init__(f"duplicate key (first given on line {first_line}, column {first_column})")
        self.path, self.line, self.column = path, line, column


class _Repeated(Exception):
    """Raised inside the parse to stop it at the first object with a key given twice."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Repeated
    return obj


def loads(text: str) -> Any:
    """``json.loads(text)``; raises :class:`DuplicateJsonKey` for a key given twice in one
    object (and :class:`json.JSONDecodeError` for bad JSON, as json does)."""
    try:
        return json.loads(text, object_pairs_hook=_unique)
    except _Repeated:
        duplicate = _first_duplicate(text)
        # json stopped at the close of an object holding a repeated key; everything before
        # that close parsed, so the walk reached that key (or an earlier repeat) without error.
        assert duplicate is not None
        raise duplicate from None


def _position(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of ``text[index]``."""
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


def _first_duplicate(text: str) -> DuplicateJsonKey | None:
    """The first key, in reading order, that repeats one before it in its own object."""
    decode = json.JSONDecoder().raw_decode

    def skip(index: int) -> int:
        match = _WHITESPACE.match(text, index)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def value(index: int, path: KeyPath) -> int:
        """Walk the value at ``index``; the index just after it."""
        index = skip(index)
        if text.startswith("{", index):
            return members(index + 1, path)
        if text.startswith("[", index):
            return items(index + 1, path)
        return decode(text, index)[1]

    def members(index: int, path: KeyPath) -> int:
        seen: dict[str, int] = {}
        index = skip(index)
        if text.startswith("}", index):
            return index + 1
        while True:
            index = skip(index)  # at the key's opening quote
            key, index_after = decode(text, index)
            if key in seen:
                raise DuplicateJsonKey(
                    (*path, key), *_position(text, index), *_position(text, seen[key])
                )
            seen[key] = index
            index = value(skip(index_after) + 1, (*path, key))  # past the ':'
            index = skip(index)
            if text.startswith("}", index):
                return index + 1
            index += 1  # past the ','

    def items(index: int, path: KeyPath) -> int:
        index = skip(index)
        if text.startswith("]", index):
            return index + 1
        position = 0
        while True:
            index = skip(value(index, (*path, position)))
            if text.startswith("]", index):
                return index + 1
            index += 1  # past the ','
            position += 1

    try:
        value(0, ())
    except DuplicateJsonKey as duplicate:
        return duplicate
    return None
