"""The pattern pass: one left-to-right scan, linear in the length of the text.

It runs in the task process's background writer, inside a 2 s flush budget, on exception
messages a caller controls, so its cost must not depend on how the text is built. Hence:

- one search for every *anchor* (a fixed string each credential contains: ``://``, a key-name
  fragment such as ``pass`` or ``token``, a token prefix such as ``ghp_``), then a match
  anchored there, never a pattern tried at every position;
- no nested quantifiers, and any repetition that may fail after a long run either has a small
  bound or is never run twice over the same characters (the scan resumes after what it read,
  and remembers where a search for a closing ``@`` or key footer found none);
- masked spans are collected and applied once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from observability.redact.keys import BARE_KEY_MIN_VALUE, KEYWORDS, secret_name
from observability.redact.shapes import SHAPES, TOKEN_CHARS, Shape

REDACTED = "***"

_NAME_CHARS_BEFORE = re.compile(r"[a-z0-9_.-]{0,64}")
"""A key name read backwards from its keyword: dotted qualifiers included, at most 64."""
_NAME_CHARS_AFTER = re.compile(r"[a-z0-9_-]*")
_SEPARATOR = re.compile(r"[\"']?[ \t]{0,16}(?:=>|:=|[=:])[ \t]{0,16}")
_BARE_VALUE = re.compile(r"[^\s&,;\"'}\]]*")
_QUOTED_VALUE = {
    '"': re.compile(r'(?:[^"\\\n]|\\.)*'),
    "'": re.compile(r"(?:[^'\\\n]|\\.)*"),
}
_RESCANNED_VALUE = 128
"""The longest value whose inside is scanned for keys too."""
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate"})
_SCHEME_CREDENTIAL = re.compile(r"(?:bearer|basic|token)[ \t]{1,16}([a-z0-9._~+/=-]{8,})")
_SPACE_THEN_TOKEN = re.compile(r"[ \t]{1,16}([^\s&,;\"'}\]]+)")

_URL_USER = re.compile(r"[^\s/:@\"'<>]*")
_URL_AUTHORITY_END = re.compile(r"[\s\"'<>?#]")

_KEY_HEADER_START = "-----begin "
_KEY_HEADER = re.compile(r"-----begin [a-z0-9 ]{0,40}private key(?: block)?-----")
_KEY_FOOTER = re.compile(r"-----end [a-z0-9 ]{0,40}private key(?: block)?-----")
_KEY_BODY = re.compile(r"[a-z0-9+/=\s\\:,-]*")
"""What follows a header whose footer is missing (a cut message): base64 and PEM headers."""

Span = tuple[int, int]


class _Scan:
    """One text's scan: the lower-cased text, the spans found, and what earlier anchors learnt
    about the rest of the text (so that no later anchor reads it again)."""

    def __init__(self, original: str, lower: str) -> None:
        self.original = original
        self.lower = lower
        self.spans: list[Span] = []
        self._reversed: str | None = None
        self._no_userinfo_until = -1
        self._footer_search: tuple[int, int] = (len(lower) + 1, -1)
        """(searched from, found at or -1): the last search for a private key's footer."""

    def run(self) -> list[Span]:
        lower, position = self.lower, 0
        while (anchor := _ANCHORS.search(lower, position)) is not None:
            start = anchor.start()
            position = start + 1
            for handler in _HANDLERS[anchor.group()]:
                span, resume = handler(self, start)
                position = max(position, resume)
                if span is not None:
                    if span[1] > span[0]:
                        self.spans.append(span)
                        # A key block's header may hide in a value (``password: -----BEGIN``),
                        # its body past the value's end: look from the header on.
                        header = lower.find(
                            _KEY_HEADER_START, span[0], span[1] + len(_KEY_HEADER_START)
                        )
                        if header > start:
                            position = header
                    break
        return self.spans

    # Handlers: each returns the span to mask (or None) and where the scan may resume.

    def key_value(self, start: int) -> tuple[Span | None, int]:
        """``name=value``, ``name: value``, ``"name": "value"`` where the name holds a secret."""
        lower = self.lower
        if self._reversed is None:
            self._reversed = lower[::-1]
        before = _NAME_CHARS_BEFORE.match(self._reversed, len(lower) - start)
        name_start = start - (before.end() - before.start()) if before else start
        name_end = _match_end(_NAME_CHARS_AFTER, lower, start)
        separator = _SEPARATOR.match(lower, name_end)
        if separator is None or name_end == start:
            return None, name_end
        secret = secret_name(self.original[name_start:name_end])
        if secret is False:
            return None, name_end
        value_start = separator.end()
        quote = lower[value_start : value_start + 1]
        if quote in _QUOTED_VALUE:
            value_start += 1
            value_end = _match_end(_QUOTED_VALUE[quote], lower, value_start)
        else:
            value_end = _closing_bracket_kept(
                lower, value_start, _match_end(_BARE_VALUE, lower, value_start)
            )
            if lower[value_start:value_end] in _AUTH_SCHEMES:  # Authorization: Bearer <token>
                credential = _SPACE_THEN_TOKEN.match(lower, value_end)
                if credential is not None:
                    value_start, value_end = credential.span(1)
        if value_end == value_start or (
            secret is None and value_end - value_start < BARE_KEY_MIN_VALUE
        ):
            return None, name_end
        # A short value may be a key's name (``key= password = x``): the scan resumes inside
        # it. Past a long one, so that no text is scanned again more than once.
        resume = value_start if value_end - value_start <= _RESCANNED_VALUE else value_end
        return (value_start, value_end), resume

    def scheme_credential(self, start: int) -> tuple[Span | None, int]:
        """``Bearer <token>``, ``Basic <base64>``, ``token <token>`` outside any key."""
        if not _token_starts(self.lower, start):
            return None, start + 1
        match = _SCHEME_CREDENTIAL.match(self.lower, start)
        if match is None:
            return None, start + 1
        # The scan resumes inside the credential: the word after ``token`` may be a key's
        # name (``token password = hunter2``), whose value lies past it.
        return match.span(1), match.start(1)

    def url_password(self, start: int) -> tuple[Span | None, int]:
        """``scheme://user:password@host``; the password may hold ``/``, ``:`` and ``@``: it
        runs to the last ``@`` before the path's query, fragment or the URL's end."""
        lower = self.lower
        user_end = _match_end(_URL_USER, lower, start + 3)
        if lower[user_end : user_end + 1] != ":" or user_end < self._no_userinfo_until:
            return None, start + 1
        end_match = _URL_AUTHORITY_END.search(lower, user_end)
        authority_end = end_match.start() if end_match else len(lower)
        at = lower.rfind("@", user_end, authority_end)
        if at < 0:
            self._no_userinfo_until = authority_end
            return None, start + 1
        return (user_end + 1, at), at

    def private_key(self, start: int) -> tuple[Span | None, int]:
        """A PEM private key block, header to footer; with no footer, the base64 that follows."""
        lower = self.lower
        header = _KEY_HEADER.match(lower, start)
        if header is None:
            return None, start + 1
        footer_at = self._footer_after(header.end())
        if footer_at >= 0:
            footer = _KEY_FOOTER.match(lower, footer_at)
            end = footer.end() if footer else footer_at
        else:
            end = _match_end(_KEY_BODY, lower, header.end())
        return (start, end), end

    def _footer_after(self, position: int) -> int:
        searched_from, found = self._footer_search
        if searched_from <= position and (found < 0 or found >= position):
            return found
        match = _KEY_FOOTER.search(self.lower, position)
        found = match.start() if match else -1
        self._footer_search = (position, found)
        return found


def _match_end(pattern: re.Pattern[str], text: str, position: int) -> int:
    match = pattern.match(text, position)
    return match.end() if match else position


def _token_starts(lower: str, position: int) -> bool:
    return position == 0 or lower[position - 1] not in TOKEN_CHARS


def _shape_handler(shape: Shape) -> Callable[[_Scan, int], tuple[Span | None, int]]:
    def handler(scan: _Scan, start: int) -> tuple[Span | None, int]:
        if shape.token_start and not _token_starts(scan.lower, start):
            return None, start + 1
        match = shape.pattern.match(scan.lower, start)
        if match is None:
            return None, start + 1
        return match.span(shape.group), match.end()

    return handler


Handler = Callable[[_Scan, int], tuple[Span | None, int]]


def _handlers() -> dict[str, tuple[Handler, ...]]:
    table: dict[str, list[Handler]] = {}
    for keyword in KEYWORDS:
        table.setdefault(keyword, []).append(_Scan.key_value)
    for scheme in ("bearer", "basic", "token"):
        table.setdefault(scheme, []).append(_Scan.scheme_credential)
    table.setdefault("://", []).append(_Scan.url_password)
    table.setdefault(_KEY_HEADER_START, []).append(_Scan.private_key)
    for shape in SHAPES:
        for prefix in shape.prefixes:
            table.setdefault(prefix, []).append(_shape_handler(shape))
    return {anchor: tuple(handlers) for anchor, handlers in table.items()}


_HANDLERS = _handlers()


def _alternation(anchors: list[str]) -> str:
    """The anchors as one regular expression shaped like a trie (``a(?:iza|kia)|b...``): the
    search then tests each position against one branch per letter, not one per anchor, and
    skips in C every character no anchor starts with. No anchor is a prefix of another, so
    the one found at a position is the only one there."""
    by_first: dict[str, list[str]] = {}
    for anchor in anchors:
        by_first.setdefault(anchor[0], []).append(anchor[1:])
    branches = []
    for first, rests in sorted(by_first.items()):
        rest = rests[0] if len(rests) == 1 else None
        tail = re.escape(rest) if rest is not None else f"(?:{_alternation(rests)})"
        branches.append(re.escape(first) + tail)
    return "|".join(branches)


_ANCHORS = re.compile(_alternation(list(_HANDLERS)))


def secret_spans(original: str, lower: str) -> list[Span]:
    """The spans of ``original`` to mask, found on ``lower`` (its lower-cased copy, same length)."""
    return _Scan(original, lower).run()


def masked(text: str, spans: list[Span]) -> str:
    """``text`` with each span (sorted by start; overlapping ones merge) replaced by ``***``."""
    pieces, last = [], 0
    for start, end in spans:
        if start < last:  # overlaps the previous span: extend it
            last = max(last, end)
            continue
        pieces.append(text[last:start])
        pieces.append(REDACTED)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _closing_bracket_kept(lower: str, value_start: int, value_end: int) -> int:
    """A bare value's trailing ``)`` closes the text around it, as in ``(token=abc)``: leave
    it in place unless the value opened a ``(`` of its own. A password ending in ``)``
    shows only that last character."""
    closing = value_end
    while closing > value_start and lower[closing - 1] == ")":
        closing -= 1
    if closing == value_end or "(" in lower[value_start:closing]:
        return value_end
    return closing
