r"""Cloud Monitoring's filter language (ListTimeSeries, ListMetricDescriptors, alert conditions).

A different language from Logging's. What it selects are time series, by their metric and
monitored resource::

    metric.type = "logging.googleapis.com/user/failures" AND
    resource.type = "cloud_composer_environment" AND
    metric.label.dag_id = one_of("etl", "report") AND
    NOT resource.labels.location = starts_with("us-")

Selectors: ``project``, ``metric.type``, ``metric.label[s].KEY``, ``resource.type``,
``resource.label[s].KEY`` (a quoted KEY is allowed), ``metadata.user_labels.KEY`` and
``metadata.system_labels.KEY`` (always empty here). Operators: ``=``, ``!=``, ``:``
(substring), ``=~`` and ``!=~`` (RE2, full match), and ``<``, ``<=``, ``>``, ``>=`` (numbers
when both sides are numbers, else strings). Values: a quoted string, a bare word or number, or
``starts_with("p")``, ``ends_with("s")``, ``has_substring("x")``, ``one_of("a", "b", ...)``,
``monitoring.regex.full_match("re")``. ``AND``, ``OR``, ``NOT`` (also ``-``) with the usual
precedence (NOT, then AND, then OR); juxtaposition is AND; parentheses group. Comparisons
are case-sensitive; a label the series lacks compares as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from observability.logfilter.re2 import RegexError, compile_re2


class MonitoringFilterError(ValueError):
    """A filter that does not parse; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


SeriesView = Mapping[str, Any]
"""What a filter reads: ``{"project", "metric.type", "resource.type": str,
"metric.labels", "resource.labels", "metadata.user_labels", "metadata.system_labels": dict}``."""

Test = Callable[[SeriesView], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=~|=~|!=|<=|>=|=|<|>|:)
      | (?P<punct>[(),])
      | (?P<minus>-(?![0-9.]))
      | (?P<word>[A-Za-z0-9_.+\-/@*]+)
    )""",
    re.VERBOSE,
)
_FUNCTIONS = {
    "starts_with",
    "ends_with",
    "has_substring",
    "one_of",
    "monitoring.regex.full_match",
}
_LABEL_SELECTORS = {
    "metric.label": "metric.labels",
    "metric.labels": "metric.labels",
    "resource.label": "resource.labels",
    "resource.labels": "resource.labels",
    "metadata.user_labels": "metadata.user_labels",
    "metadata.system_labels": "metadata.system_labels",
}
_PLAIN_SELECTORS = {"project", "metric.type", "resource.type"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, op, punct, word, minus, end
    text: str
    pos: int


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise MonitoringFilterError(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        start = match.start(kind)
        tokens.append(_Token(kind, match.group(kind), start))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


@dataclass(frozen=True, slots=True)
class MonitoringFilter:
    """A compiled filter: ``matches(view)`` and the metric types it pins down, if any."""

    text: str
    test: Test
    metric_types: frozenset[str] | None
    """The exact ``metric.type`` values a match must have, when the filter says so."""
    mentions_metric_type: bool

    def matches(self, view: SeriesView) -> bool:
        return self.test(view)


def compile_monitoring_filter(text: str) -> MonitoringFilter:
    """Parse ``text``; raises ``MonitoringFilterError``. A blank filter matches everything."""
    if not text.strip():
        return MonitoringFilter(text, lambda view: True, None, False)
    parser = _Parser(text)
    test, types = parser.parse()
    return MonitoringFilter(text, test, types, parser.mentions_metric_type)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.mentions_metric_type = False

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.take()
        if token.kind != kind or (text is not None and token.text != text):
            want = repr(text) if text else kind
            got = repr(token.text) if token.kind != "end" else "the end of the filter"
            raise MonitoringFilterError(f"expected {want}, got {got}", token.pos)
        return token

    def parse(self) -> tuple[Test, frozenset[str] | None]:
        test, types = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise MonitoringFilterError(f"unexpected {token.text!r}", token.pos)
        return test, types

    # Each level returns the test and the metric types it restricts to (None: any).

    def or_expr(self) -> tuple[Test, frozenset[str] | None]:
        parts = [self.and_expr()]
        while self.peek().kind == "word" and self.peek().text == "OR":
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        tests = [t for t, _ in parts]
        types: frozenset[str] | None = frozenset()
        for _, part_types in parts:
            types = None if part_types is None or types is None else types | part_types
        return (lambda view: any(t(view) for t in tests)), types

    def and_expr(self) -> tuple[Test, frozenset[str] | None]:
        parts = [self.unary()]
        while True:
            token = self.peek()
            if token.kind == "end" or (token.kind == "punct" and token.text in "),"):
                break
            if token.kind == "word" and token.text == "OR":
                break
            if token.kind == "word" and token.text == "AND":
                self.take()
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        tests = [t for t, _ in parts]
        types: frozenset[str] | None = None
        for _, part_types in parts:
            if part_types is not None:
                types = part_types if types is None else types & part_types
        return (lambda view: all(t(view) for t in tests)), types

    def unary(self) -> tuple[Test, frozenset[str] | None]:
        token = self.peek()
        if token.kind == "minus" or (token.kind == "word" and token.text == "NOT"):
            self.take()
            inner, _ = self.unary()
            return (lambda view: not inner(view)), None
        if token.kind == "punct" and token.text == "(":
            self.take()
            result = self.or_expr()
            self.expect("punct", ")")
            return result
        return self.comparison()

    def selector(self) -> tuple[str, str | None]:
        token = self.take()
        if token.kind != "word":
            got = repr(token.text) if token.kind != "end" else "the end of the filter"
            raise MonitoringFilterError(
                f"expected a selector such as metric.type, got {got}", token.pos
            )
        name = token.text
        if name in _PLAIN_SELECTORS:
            return name, None
        if name.endswith(".") and name[:-1] in _LABEL_SELECTORS:  # metric.label."a-b"
            key = self.expect("string")
            return _LABEL_SELECTORS[name[:-1]], _unquote(key.text)
        base, _, key_text = name.rpartition(".")
        if base in _LABEL_SELECTORS and key_text:
            return _LABEL_SELECTORS[base], key_text
        raise MonitoringFilterError(
            f"unknown selector {name!r} (known: project, metric.type, metric.label.KEY, "
            "resource.type, resource.label.KEY, metadata.user_labels.KEY, "
            "metadata.system_labels.KEY)",
            token.pos,
        )

    def comparison(self) -> tuple[Test, frozenset[str] | None]:
        field, key = self.selector()
        op_token = self.take()
        if op_token.kind != "op":
            raise MonitoringFilterError(
                f"expected an operator (=, !=, :, =~, <, >...) after the selector, got "
                f"{op_token.text!r}",
                op_token.pos,
            )
        op = op_token.text
        value_test, exact = self.value(op)
        if field == "metric.type":
            self.mentions_metric_type = True
        if key is None:

            def read(view: SeriesView) -> str:
                return str(view.get(field, ""))

        else:
            label = key

            def read(view: SeriesView) -> str:
                labels = view.get(field) or {}
                return str(labels.get(label, ""))

        if op in ("!=", "!=~"):

            def test(view: SeriesView) -> bool:
                return not value_test(read(view))

        else:

            def test(view: SeriesView) -> bool:
                return value_test(read(view))

        types = exact if field == "metric.type" and op not in ("!=", "!=~") else None
        return test, types

    def string_arg(self) -> str:
        token = self.take()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "word":
            return token.text
        raise MonitoringFilterError("expected a string", token.pos)

    def value(self, op: str) -> tuple[Callable[[str], bool], frozenset[str] | None]:
        token = self.peek()
        if token.kind == "word" and (token.text in _FUNCTIONS) and self._is_call():
            self.take()
            self.expect("punct", "(")
            args = [self.string_arg()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.take()
                args.append(self.string_arg())
            self.expect("punct", ")")
            if op not in ("=", "!="):
                raise MonitoringFilterError(
                    f"{token.text}() needs = or != before it, got {op!r}", token.pos
                )
            return self._function(token, args)
        literal = self.string_arg()
        if op in ("=", "!="):
            return (lambda value: value == literal), frozenset({literal})
        if op == ":":
            return (lambda value: literal in value), None
        if op in ("=~", "!=~"):
            pattern = self._regex(literal, token.pos)
            return (lambda value: pattern.fullmatch(value) is not None), None
        return _ordering(op, literal), None

    def _is_call(self) -> bool:
        following = self.tokens[self.i + 1]
        return following.kind == "punct" and following.text == "("

    def _regex(self, pattern: str, pos: int) -> re.Pattern[str]:
        try:
            return compile_re2(pattern)
        except RegexError as error:
            raise MonitoringFilterError(str(error), pos) from error

    def _function(
        self, token: _Token, args: list[str]
    ) -> tuple[Callable[[str], bool], frozenset[str] | None]:
        name = token.text
        if name == "one_of":
            choices = frozenset(args)
            return (lambda value: value in choices), choices
        if len(args) != 1:
            raise MonitoringFilterError(f"{name}() takes one argument", token.pos)
        (arg,) = args
        if name == "starts_with":
            return (lambda value: value.startswith(arg)), None
        if name == "ends_with":
            return (lambda value: value.endswith(arg)), None
        if name == "has_substring":
            return (lambda value: arg in value), None
        pattern = self._regex(arg, token.pos)
        return (lambda value: pattern.fullmatch(value) is not None), None


def _ordering(op: str, literal: str) -> Callable[[str], bool]:
    try:
        number: float | None = float(literal)
    except ValueError:
        number = None

    def compare(left: Any, right: Any) -> bool:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)

    def test(value: str) -> bool:
        if number is not None:
            try:
                return compare(float(value), number)
            except ValueError:
                pass
        return compare(value, literal)

    return test
