"""How the router writes its log: one record, one line, whatever the record quotes.

Log records quote what senders control (request paths, label values in error messages, the
text of a receiver's answer). A ``%0a`` in a path would otherwise start a forged line, and a
``%00`` make the log binary. Control characters in a record's message are therefore written
escaped (``\\n``, ``\\x00``, ``\\u2028``); a traceback keeps its lines, each prefixed with
``  | `` and escaped likewise, so that no line of it can pass for a record of its own.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
TRACEBACK_PREFIX = "  | "


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (backslashes as they are:
    the escapes only have to make the line unambiguous to a reader, not reversible)."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class OneLineFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose records cannot forge other records (module docstring)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        return _prefixed(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return _prefixed(super().formatStack(stack_info))


def _prefixed(text: str) -> str:
    return "\n".join(TRACEBACK_PREFIX + escape_controls(line) for line in text.split("\n"))
