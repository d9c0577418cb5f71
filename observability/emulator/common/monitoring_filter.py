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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from observability.emulator.common.boolean_filter import (
    ORDERINGS,
    AllOf,
    AnyOf,
    BooleanParser,
    Expr,
    Not,
    Token,
    compile_test,
    token_pattern,
    unquote,
)
from observability.logfilter.re2 import Regex, RegexError, compile_re2


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

_PATTERN = token_pattern(
    operators=r"!=~|=~|!=|<=|>=|=|<|>|:",
    minus=r"-(?![0-9.])",
    word=r"[A-Za-z0-9_.+\-/@*]+",
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
    expr = parser.parse()
    test: Test = compile_test(expr, lambda comparison: comparison.test)
    return MonitoringFilter(text, test, _metric_types(expr), parser.mentions_metric_type)


@dataclass(frozen=True, slots=True)
class _Comparison:
    """One ``selector op value`` term and the metric types it restricts to (None: any)."""

    test: Test
    metric_types: frozenset[str] | None


def _metric_types(expr: Expr[_Comparison]) -> frozenset[str] | None:
    """The metric types every match of ``expr`` has one of, or None when it does not say.

    Lets ListTimeSeries read only the series of those types instead of testing them all.
    """
    if isinstance(expr, AnyOf):
        union: frozenset[str] | None = frozenset()
        for part in expr.parts:
            part_types = _metric_types(part)
            union = None if part_types is None or union is None else union | part_types
        return union
    if isinstance(expr, AllOf):
        intersection: frozenset[str] | None = None
        for part in expr.parts:
            part_types = _metric_types(part)
            if part_types is not None:
                intersection = part_types if intersection is None else intersection & part_types
        return intersection
    if isinstance(expr, Not):
        return None
    return expr.metric_types


def _got(token: Token) -> str:
    return repr(token.text) if token.kind != "end" else "the end of the filter"


class _Parser(BooleanParser[_Comparison]):
    pattern = _PATTERN
    and_stops = "),"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.mentions_metric_type = False

    def error(self, message: str, pos: int) -> MonitoringFilterError:
        return MonitoringFilterError(message, pos)

    def unexpected_character(self, gap_start: int, pos: int) -> MonitoringFilterError:
        return MonitoringFilterError(f"unexpected character {self.text[pos]!r}", pos)

    def missing(self, want: str, token: Token) -> MonitoringFilterError:
        return MonitoringFilterError(f"expected {want}, got {_got(token)}", token.pos)

    def selector(self) -> tuple[str, str | None]:
        token = self.take()
        if token.kind != "word":
            raise MonitoringFilterError(
                f"expected a selector such as metric.type, got {_got(token)}", token.pos
            )
        name = token.text
        if name in _PLAIN_SELECTORS:
            return name, None
        if name.endswith(".") and name[:-1] in _LABEL_SELECTORS:  # metric.label."a-b"
            key = self.expect("string")
            return _LABEL_SELECTORS[name[:-1]], unquote(key.text)
        base, _, key_text = name.rpartition(".")
        if base in _LABEL_SELECTORS and key_text:
            return _LABEL_SELECTORS[base], key_text
        raise MonitoringFilterError(
            f"unknown selector {name!r} (known: project, metric.type, metric.label.KEY, "
            "resource.type, resource.label.KEY, metadata.user_labels.KEY, "
            "metadata.system_labels.KEY)",
            token.pos,
        )

    def term(self) -> _Comparison:
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
        return _Comparison(test, types)

    def string_arg(self) -> str:
        token = self.take()
        if token.kind == "string":
            return unquote(token.text)
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
            return pattern.fullmatch, None
        return _ordering(op, literal), None

    def _is_call(self) -> bool:
        following = self.peek(1)
        return following.kind == "punct" and following.text == "("

    def _regex(self, pattern: str, pos: int) -> Regex:
        try:
            return compile_re2(pattern)
        except RegexError as error:
            raise MonitoringFilterError(str(error), pos) from error

    def _function(
        self, token: Token, args: list[str]
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
        return pattern.fullmatch, None


def _ordering(op: str, literal: str) -> Callable[[str], bool]:
    try:
        number: float | None = float(literal)
    except ValueError:
        number = None

    compare = ORDERINGS[op]

    def test(value: str) -> bool:
        if number is not None:
            try:
                return compare(float(value), number)
            except ValueError:
                pass
        return compare(value, literal)

    return test
