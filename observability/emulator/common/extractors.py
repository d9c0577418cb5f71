"""The extractors of Cloud Logging: ``EXTRACT(field)`` and ``REGEXP_EXTRACT(field, "re")``.

Log-based metrics read their label and distribution values with them, and so do the
``labelExtractors`` of an alert policy's log-match condition; both validate and compile them
here. An extractor is a closure over a LogEntry's REST JSON dict; it returns None when the
field is absent or the regular expression does not match.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from observability.emulator.common.errors import ApiError
from observability.logfilter import Comparison, FieldPath, FilterError, parse_filter
from observability.logfilter.access import make_getter
from observability.logfilter.re2 import RegexError, compile_re2
from observability.logfilter.schema import MISSING, resolve

_EXTRACT = re.compile(r"\s*EXTRACT\s*\(\s*(?P<field>.*?)\s*\)\s*", re.DOTALL)
_REGEXP_EXTRACT = re.compile(
    r"\s*REGEXP_EXTRACT\s*\(\s*(?P<field>[^,]*?)\s*,\s*"
    r"(?P<re>\"(?:[^\"\\]|\\.)*\")\s*\)\s*",
    re.DOTALL,
)

_EXTRACTOR_KEYS: dict[str, str] = {}
"""Field path text of an extractor -> the top-level LogEntry key it reads."""

_FIELD_IN_EXTRACTOR = re.compile(r"\s*(?:REGEXP_)?EXTRACT\s*\(\s*(?P<field>[^,)]*?)\s*[,)]")

Extractor = Callable[[dict[str, Any]], Any]
"""Reads a value out of an entry (REST JSON dict); returns None when extraction fails."""


def extractor_key(text: str) -> str | None:
    """The top-level LogEntry key an extractor (already parsed) reads, or None if unknown."""
    match = _FIELD_IN_EXTRACTOR.match(text)
    return _EXTRACTOR_KEYS.get(match["field"]) if match else None


def _field_getter(text: str, where: str) -> Callable[[dict[str, Any]], Any]:
    """A getter for a Logging field path such as ``jsonPayload.dag_id`` or ``labels."a-b"``."""
    try:
        node = parse_filter(f"{text}:*")
        if not isinstance(node, Comparison) or not text:
            raise FilterError("expected a field path", 0, text)
        if not isinstance(node.lhs, FieldPath):
            raise FilterError("expected a field path", 0, text)
        field = resolve(node.lhs, text)
    except FilterError as error:
        raise ApiError.invalid(
            f"{where}: {text!r} is not a log entry field: {error.message}"
        ) from error
    getter = make_getter(field)
    default = field.default
    _EXTRACTOR_KEYS[text] = field.keys[0]

    def get(entry: dict[str, Any]) -> Any:
        value = getter(entry)
        if value is MISSING:
            return None if default is MISSING else default
        return value

    return get


def parse_extractor(text: str, where: str) -> Extractor:
    """``EXTRACT(field)`` or ``REGEXP_EXTRACT(field, "re with one group")`` as a closure."""
    match = _REGEXP_EXTRACT.fullmatch(text)
    if match:
        get = _field_getter(match["field"], where)
        source = match["re"][1:-1]
        pattern_text = re.sub(r"\\([\"\\])", r"\1", source)
        try:
            pattern = compile_re2(pattern_text)
        except RegexError as error:
            raise ApiError.invalid(f"{where}: {error}") from error
        if pattern.groups != 1:
            raise ApiError.invalid(
                f"{where}: the regular expression must have exactly one capture group, "
                f"it has {pattern.groups}"
            )

        def regexp_extract(entry: dict[str, Any]) -> Any:
            value = get(entry)
            if value is None:
                return None
            return pattern.extract(entry_text(value))

        return regexp_extract
    match = _EXTRACT.fullmatch(text)
    if match and not match["field"].upper().startswith("REGEXP_EXTRACT"):
        return _field_getter(match["field"], where)
    raise ApiError.invalid(
        f'{where}: must be EXTRACT(field) or REGEXP_EXTRACT(field, "regex"), got {text!r}'
    )


def entry_text(value: Any) -> str:
    """An extracted value as the text a label or a regular expression reads."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list) and value:
        return entry_text(value[0])
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
