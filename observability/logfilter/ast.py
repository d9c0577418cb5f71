"""Syntax tree of a Logging query.

Nodes are frozen dataclasses so a parsed filter can be cached, shared and compared
in tests. Every node records the 0-based ``pos`` of its first character so the
compiler can point at the right place when it rejects something; ``pos`` takes no
part in equality, which lets tests build expected trees without positions.

A parenthesized right-hand side such as ``resource.type=("a" OR "b")`` is already
distributed by the parser: the tree holds ``Or(Comparison(..."a"), Comparison(..."b"))``,
which is how Cloud Logging defines it ("the field name and the comparison operator are
applied to each element").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Operator: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">=", ":", "=~", "!~"]
ValueKind: TypeAlias = Literal["string", "word", "number", "null"]


@dataclass(frozen=True, slots=True)
class Value:
    """A literal: a quoted ``string``, an unquoted ``word``, a ``number`` or ``NULL_VALUE``.

    ``text`` is the literal as the user meant it (escapes resolved, quotes removed);
    the type it converts to is decided later by the field it is compared with.
    """

    text: str
    kind: ValueKind
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Wildcard:
    """The ``*`` of ``field:*`` (presence test)."""

    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A field reference such as ``jsonPayload.exception.type`` or ``labels."task-id"``.

    ``segments`` are the unquoted names exactly as written; mapping them to the
    LogEntry's JSON keys (camelCase/snake_case, defaults) is the compiler's job.
    """

    segments: tuple[str, ...]
    pos: int = field(default=0, compare=False, repr=False)
    positions: tuple[int, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """``name(args...)``: a restriction (``log_id``, ``SEARCH``...) or a value (``cast``).

    ``name`` is lower-cased: Cloud Logging accepts ``cast`` and ``CAST`` alike.
    """

    name: str
    args: tuple[Argument, ...]
    pos: int = field(default=0, compare=False, repr=False)


Argument: TypeAlias = "FieldPath | Value | FunctionCall"
Operand: TypeAlias = "FieldPath | FunctionCall"


@dataclass(frozen=True, slots=True)
class Comparison:
    """``lhs op rhs``: the basic restriction on one field."""

    lhs: Operand
    op: Operator
    rhs: Value | Wildcard
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class GlobalRestriction:
    """A lone value: matches when any field of the entry "has" it."""

    value: Value
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction; an empty one (the empty filter) matches every entry."""

    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Or:
    """Disjunction of two or more children."""

    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    """Negation (``NOT x`` or ``-x``)."""

    child: Node
    pos: int = field(default=0, compare=False, repr=False)


Node: TypeAlias = "And | Or | Not | Comparison | GlobalRestriction | FunctionCall"
