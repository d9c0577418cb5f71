"""Go's double-quoted string literals (``strconv.Quote`` / ``strconv.Unquote``).

Alertmanager's UTF-8 matcher parser decodes a quoted name or value with ``strconv.Unquote``
(``\\t``, ``\\x41``, ``\\u00e9``, ``\\U0001f642``, octal ``\\101``; the result must be valid
UTF-8) and prints names that need quoting with ``strconv.Quote``; these are exact ports, so a
string means the same here and there.
"""

from __future__ import annotations

_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_SIMPLE_OUT = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
_HEX = set("0123456789abcdefABCDEF")


class UnquoteError(ValueError):
    """Not a valid Go double-quoted string literal."""


def unquote(literal: str) -> str:
    """Decode ``"..."`` as Go does; UnquoteError when Go would refuse it."""
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"' or "\n" in literal:
        raise UnquoteError("invalid syntax")
    body = literal[1:-1]
    out = bytearray()
    position = 0
    while position < len(body):
        char = body[position]
        if char == '"':
            raise UnquoteError("invalid syntax")
        if char != "\\":
            out += char.encode("utf-8", "surrogatepass")
            position += 1
            continue
        position = _escape(body, position + 1, out)
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise UnquoteError("quoted string contains invalid UTF-8 code points") from None


def _escape(body: str, position: int, out: bytearray) -> int:
    """Decode the escape after a backslash at ``position - 1`` into ``out``; the next index."""
    if position >= len(body):
        raise UnquoteError("invalid syntax")
    kind = body[position]
    if kind in _SIMPLE:
        out.append(_SIMPLE[kind])
        return position + 1
    if kind in "xuU":
        width = {"x": 2, "u": 4, "U": 8}[kind]
        digits = body[position + 1 : position + 1 + width]
        if len(digits) != width or not set(digits) <= _HEX:
            raise UnquoteError("invalid syntax")
        value = int(digits, 16)
        if kind == "x":
            out.append(value)
        elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise UnquoteError("invalid syntax")
        else:
            out += chr(value).encode("utf-8")
        return position + 1 + width
    if kind in "01234567":
        digits = body[position : position + 3]
        if len(digits) != 3 or not set(digits) <= set("01234567") or int(digits, 8) > 255:
            raise UnquoteError("invalid syntax")
        out.append(int(digits, 8))
        return position + 3
    raise UnquoteError("invalid syntax")


def quote(text: str) -> str:
    """``strconv.Quote``: printable characters as they are, the rest escaped."""
    parts = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            parts.append("\\" + char)
        elif char == " " or char.isprintable():
            parts.append(char)
        elif code in _SIMPLE_OUT:
            parts.append(_SIMPLE_OUT[code])
        elif code < 0x20 or code == 0x7F:
            parts.append(f"\\x{code:02x}")
        elif code < 0x10000:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)
