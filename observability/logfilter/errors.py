"""The one exception the filter package raises for a filter it cannot accept."""

from __future__ import annotations

_CONTEXT = 60  # characters of the offending line shown on each side of the caret


class FilterError(ValueError):
    """A filter that is malformed or uses something this implementation does not support.

    Callers (the emulator's entries.list, metric and alert validation) turn it into an
    INVALID_ARGUMENT answer, so it carries the 0-based character ``position`` of the
    problem and the ``filter_text`` it was found in; ``str()`` says what is wrong and
    where (``unexpected ")" at position 17; expected ...``), followed by the offending
    line and a caret under the position.
    """

    def __init__(
        self, message: str, position: int, filter_text: str, expected: str | None = None
    ) -> None:
        super().__init__(message, position, filter_text, expected)
        self.message = message
        self.position = position
        self.filter_text = filter_text
        self.expected = expected  # what the parser was looking for, when it knows

    def __str__(self) -> str:
        text = self.filter_text
        pos = max(0, min(self.position, len(text)))
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        if line_end == -1:
            line_end = len(text)
        where = f"at position {self.position}"
        if "\n" in text:
            line_no = text.count("\n", 0, pos) + 1
            where += f" (line {line_no}, column {pos - line_start + 1})"
        start = max(line_start, pos - _CONTEXT)
        end = min(line_end, pos + _CONTEXT)
        prefix = "..." if start > line_start else ""
        suffix = "..." if end < line_end else ""
        snippet = prefix + text[start:end] + suffix
        caret = " " * (len(prefix) + pos - start) + "^"
        hint = f"; expected {self.expected}" if self.expected else ""
        return f"{self.message} {where}{hint}\n  {snippet}\n  {caret}"
