r"""Cloud Logging's query language (the filter of entries.list, log-based metrics and
log alerts): a parser, a compiler to Python closures, and the evaluator they form.

    >>> from observability.logfilter import compile_filter
    >>> f = compile_filter('resource.type="cloud_composer_environment" severity>=ERROR')
    >>> f.matches({"resource": {"type": "cloud_composer_environment"}, "severity": "ERROR"})
    True

Entries are dicts in the Logging REST JSON shape (camelCase keys). Semantics follow
Google's "Logging query language" reference. Where it is silent or where this
implementation chose, the choice is:

* Absent LogEntry fields are *defaulted* (severity DEFAULT, textPayload "", status 0,
  timestamp the epoch), so ``textPayload!="x"`` is true on a jsonPayload entry;
  absent payload/label fields are *missing*, so every comparison on them is false.
  ``field:*`` is true only for explicitly present fields (a JSON null is present).
* ``:`` is a case-insensitive substring test on strings, searches nested values of
  objects and maps (``jsonPayload:"x"``), and is equality on numbers, booleans and
  enums. A global restriction is ``:`` applied to the whole entry.
* Regexes (``=~``/``!~``) are RE2, case-sensitive and unanchored (search); they apply
  to strings, severity names and timestamp text, are false on payload numbers, and
  are an error on typed non-string fields (``httpRequest.status=~"5.."``).
* Payload strings compare as instants when both sides are full RFC 3339 timestamps;
  ``timestamp``/``receiveTimestamp`` also accept a bare ``YYYY-MM-DD`` (midnight UTC).
* A value that does not convert to the field's type (``severity=BOGUS``,
  ``timestamp>"yesterday"``) makes the comparison false, as documented, not an error.
* SEARCH() tokenizes like BigQuery's LOG_ANALYZER, where ``_``, ``.``, ``-`` and ``/``
  are delimiters: ``SEARCH("task")`` finds ``task_failed``. All tokens must appear;
  a backtick phrase must appear as consecutive tokens of one field; only text counts.
* LogEntry's own field names match ignoring case and ``_`` (``json_payload``);
  payload and label keys are exact, except protoPayload's, which ignore case/``_``.
* A function call is a name glued to ``(``; ``-5`` where a value is due is a
  negative number, elsewhere ``-`` is NOT; ``--`` starts a comment; an unknown
  string escape such as ``"\d"`` keeps its backslash (for regexes).
"""

from observability.logfilter.ast import (
    And,
    Comparison,
    FieldPath,
    FunctionCall,
    GlobalRestriction,
    Node,
    Not,
    Or,
    Value,
    Wildcard,
)
from observability.logfilter.compiler import LogFilter, compile_filter
from observability.logfilter.errors import FilterError
from observability.logfilter.parser import parse_filter

__all__ = [
    "And",
    "Comparison",
    "FieldPath",
    "FilterError",
    "FunctionCall",
    "GlobalRestriction",
    "LogFilter",
    "Node",
    "Not",
    "Or",
    "Value",
    "Wildcard",
    "compile_filter",
    "parse_filter",
]
