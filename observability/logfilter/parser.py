"""Recursive-descent parser for the Logging query language.

Grammar (precedence is Cloud Logging's, which is unusual: NOT binds tightest, then
OR, then AND, so ``a b OR c`` is ``a AND (b OR c)``)::

    filter      := [ conjunction ] EOF
    conjunction := disjunction { [ "AND" ] disjunction }     -- juxtaposition is AND
    disjunction := unary { "OR" unary }
    unary       := ( "NOT" | "-" ) unary | primary
    primary     := "(" conjunction ")" | function | restriction | value
    restriction := operand OP ( value | "*" | "(" value-expression ")" )
    operand     := path | function                           -- cast(...), regexp_extract(...)
    path        := name { "." name }                         -- name: word or "quoted"

A value-expression is the same boolean grammar with values as leaves; the parser
distributes the comparison over it. Nesting is limited to ``MAX_DEPTH`` so that a
hostile filter gets a FilterError instead of a RecursionError.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, cast

from observability.logfilter.ast import (
    And,
    Argument,
    Comparison,
    FieldPath,
    FunctionCall,
    GlobalRestriction,
    Node,
    Not,
    Operand,
    Operator,
    Or,
    Value,
    Wildcard,
)
from observability.logfilter.errors import FilterError
from observability.logfilter.lexer import Token, TokenKind, tokenize

MAX_DEPTH = 100

FunctionRole = Literal["restriction", "value", "option"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """What the parser needs to know about a built-in function."""

    role: FunctionRole  # restriction: stands alone; value: left side of a comparison
    min_args: int
    max_args: int


FUNCTIONS: dict[str, FunctionSpec] = {
    "log_id": FunctionSpec("restriction", 1, 1),
    "source": FunctionSpec("restriction", 1, 1),
    "sample": FunctionSpec("restriction", 2, 2),
    "ip_in_net": FunctionSpec("restriction", 2, 2),
    "search": FunctionSpec("restriction", 1, 2),
    "cast": FunctionSpec("value", 2, 3),
    "regexp_extract": FunctionSpec("value", 2, 2),
    "timezone": FunctionSpec("option", 1, 1),  # only as cast()'s third argument
}

_TERM_START = frozenset(
    {
        TokenKind.WORD,
        TokenKind.STRING,
        TokenKind.NUMBER,
        TokenKind.LPAREN,
        TokenKind.MINUS,
    }
)

_LeafParser: TypeAlias = Callable[[], Node]


def parse_filter(text: str) -> Node:
    """Parse a Logging filter into its syntax tree.

    An empty or whitespace/comment-only filter gives ``And(())``, which matches every
    entry, as an empty filter does in entries.list. Raises FilterError (never anything
    else) with the position of the first problem.
    """
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.in_values = False  # inside a parenthesized right-hand side

    # -- token helpers -------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self) -> Token:
        """The token after the current one (EOF at the end)."""
        return self.tokens[min(self.i + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not TokenKind.EOF:
            self.i += 1
        return token

    def is_keyword(self, word: str) -> bool:
        return self.tok.kind is TokenKind.KEYWORD and self.tok.text == word

    def error(self, message: str, pos: int | None = None) -> FilterError:
        return FilterError(message, self.tok.start if pos is None else pos, self.text)

    def unexpected(self, expected: str | None = None) -> FilterError:
        return FilterError(f"unexpected {self.tok.describe()}", self.tok.start, self.text, expected)

    def expect(self, kind: TokenKind, expected: str) -> Token:
        if self.tok.kind is not kind:
            raise self.unexpected(expected)
        return self.advance()

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"filter is nested more than {MAX_DEPTH} levels deep", pos)

    def leave(self) -> None:
        self.depth -= 1

    def starts_term(self) -> bool:
        return self.tok.kind in _TERM_START or self.is_keyword("NOT")

    # -- boolean structure ---------------------------------------------------------

    def parse(self) -> Node:
        if self.tok.kind is TokenKind.EOF:
            return And(())
        node = self.conjunction(self.primary)
        if self.tok.kind is not TokenKind.EOF:
            raise self.unexpected("AND, OR or the end of the filter")
        return node

    def conjunction(self, leaf: _LeafParser) -> Node:
        start = self.tok.start
        children = [self.disjunction(leaf)]
        while True:
            if self.is_keyword("AND"):
                self.advance()
                if not self.starts_term():
                    raise self.unexpected("a restriction after AND")
            elif not self.starts_term():
                break
            children.append(self.disjunction(leaf))
        return children[0] if len(children) == 1 else And(tuple(children), start)

    def disjunction(self, leaf: _LeafParser) -> Node:
        start = self.tok.start
        children = [self.unary(leaf)]
        while self.is_keyword("OR"):
            self.advance()
            if not self.starts_term():
                raise self.unexpected("a restriction after OR")
            children.append(self.unary(leaf))
        return children[0] if len(children) == 1 else Or(tuple(children), start)

    def unary(self, leaf: _LeafParser) -> Node:
        token = self.tok
        if self.in_values and self.at_negative_number():
            return leaf()  # x=(-5 OR 7): a negative number, not NOT 5
        if self.is_keyword("NOT") or token.kind is TokenKind.MINUS:
            self.advance()
            if not self.starts_term():
                raise self.unexpected(f"a restriction after {token.text}")
            self.enter(token.start)
            child = self.unary(leaf)
            self.leave()
            return Not(child, token.start)
        return leaf()

    def group(self, leaf: _LeafParser) -> Node:
        opening = self.advance()
        self.enter(opening.start)
        if self.tok.kind is TokenKind.RPAREN:
            raise self.error('empty parentheses "()"')
        node = self.conjunction(leaf)
        self.expect(TokenKind.RPAREN, 'AND, OR or ")"')
        self.leave()
        return node

    # -- restrictions ----------------------------------------------------------------

    def primary(self) -> Node:
        token = self.tok
        if token.kind is TokenKind.LPAREN:
            return self.group(self.primary)
        if token.kind is TokenKind.WORD and self.at_call():
            call = self.function_call()
            if self.tok.kind is TokenKind.OP:
                return self.comparison(call)
            if FUNCTIONS[call.name].role == "option":
                raise self.error(f"{call.name}() is only allowed inside cast()", call.pos)
            if FUNCTIONS[call.name].role != "restriction":
                raise self.error(
                    f'{call.name}() gives a value: compare it, e.g. {call.name}(...) = "x"',
                    call.pos,
                )
            return call
        if token.kind in (TokenKind.WORD, TokenKind.STRING):
            if self.peek().kind in (TokenKind.DOT, TokenKind.OP):
                return self.comparison(self.path())
            self.advance()
            kind = "string" if token.kind is TokenKind.STRING else _word_kind(token.text)
            return GlobalRestriction(Value(token.text, kind, token.start), token.start)
        if token.kind is TokenKind.NUMBER:
            self.advance()
            if self.tok.kind is TokenKind.OP:
                raise self.error(
                    f"a number cannot be a field name: {token.describe()}", token.start
                )
            return GlobalRestriction(Value(token.text, "number", token.start), token.start)
        if token.kind is TokenKind.STAR:
            raise self.error('"*" is only allowed right after ":" (field:*)')
        raise self.unexpected("a restriction")

    def path(self) -> FieldPath:
        first = self.tok
        segments: list[str] = []
        positions: list[int] = []
        while True:
            token = self.tok
            if token.kind not in (
                TokenKind.WORD,
                TokenKind.STRING,
                TokenKind.KEYWORD,
                TokenKind.NUMBER,
            ) or (token.kind is TokenKind.KEYWORD and not segments):
                raise self.unexpected("a field name")
            if token.kind is TokenKind.NUMBER and not token.text.isdigit():
                raise self.error(f"bad field name {token.describe()}: quote it")
            segments.append(token.text)
            positions.append(token.start)
            self.advance()
            if self.tok.kind is not TokenKind.DOT:
                return FieldPath(tuple(segments), first.start, tuple(positions))
            self.advance()

    def comparison(self, lhs: Operand) -> Node:
        if self.tok.kind is not TokenKind.OP:
            raise self.unexpected('a comparison operator such as "=" or ":"')
        op_token = self.advance()
        op = cast(Operator, op_token.text)  # the lexer emits only the nine operators
        if self.tok.kind is TokenKind.STAR:
            star = self.advance()
            if op != ":":
                raise self.error('"*" is only allowed after ":" (field:*)', star.start)
            return Comparison(lhs, op, Wildcard(star.start), op_token.start)
        if self.tok.kind is TokenKind.LPAREN:
            # Parenthesized right-hand side: the comparison is applied to each value.
            def leaf() -> Node:
                if self.tok.kind is TokenKind.LPAREN:
                    return self.group(leaf)
                value = self.value()
                return Comparison(lhs, op, value, value.pos)

            outer, self.in_values = self.in_values, True
            node = self.group(leaf)
            self.in_values = outer
            return node
        return Comparison(lhs, op, self.value(), op_token.start)

    def value(self) -> Value:
        token = self.tok
        if token.kind is TokenKind.STRING:
            self.advance()
            return Value(token.text, "string", token.start)
        if token.kind is TokenKind.NUMBER:
            self.advance()
            return Value(token.text, "number", token.start)
        if token.kind is TokenKind.MINUS:
            if self.at_negative_number():
                self.advance()
                return Value("-" + self.advance().text, "number", token.start)
            raise self.error('a value starting with "-" must be a number or be quoted', token.start)
        if token.kind is TokenKind.WORD:
            if self.at_call():
                raise self.error(f"a function call cannot be a value: {token.text}(...)")
            self.advance()
            if self.tok.kind is TokenKind.DOT:
                raise self.error('quote values that contain "." (e.g. "a.b")')
            return Value(token.text, _word_kind(token.text), token.start)
        if token.kind is TokenKind.STAR:
            raise self.error('"*" is only allowed right after ":" (field:*)')
        raise self.unexpected("a value")

    # -- functions -------------------------------------------------------------------

    def at_negative_number(self) -> bool:
        """A "-" glued to a number, read as a negative number where a value is due."""
        nxt = self.peek()
        return (
            self.tok.kind is TokenKind.MINUS
            and nxt.kind is TokenKind.NUMBER
            and nxt.start == self.tok.end
        )

    def at_call(self) -> bool:
        """A word glued to "(" is a call; ``foo (bar)`` is two restrictions."""
        nxt = self.peek()
        return nxt.kind is TokenKind.LPAREN and nxt.start == self.tok.end

    def function_call(self) -> FunctionCall:
        name_token = self.advance()
        name = name_token.text.lower()
        spec = FUNCTIONS.get(name)
        if spec is None:
            known = ", ".join(sorted(n for n, s in FUNCTIONS.items() if s.role != "option"))
            raise self.error(
                f"unknown function {name_token.text}() (known: {known})", name_token.start
            )
        self.enter(name_token.start)
        self.advance()  # "("
        args: list[Argument] = []
        if self.tok.kind is not TokenKind.RPAREN:
            args.append(self.argument())
            while self.tok.kind is TokenKind.COMMA:
                self.advance()
                args.append(self.argument())
        self.expect(TokenKind.RPAREN, f'"," or ")" in {name}()')
        self.leave()
        if not spec.min_args <= len(args) <= spec.max_args:
            wanted = (
                str(spec.min_args)
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            raise self.error(
                f"{name}() takes {wanted} argument(s), got {len(args)}", name_token.start
            )
        return FunctionCall(name, tuple(args), name_token.start)

    def argument(self) -> Argument:
        token = self.tok
        if token.kind is TokenKind.WORD and self.at_call():
            return self.function_call()
        if token.kind is TokenKind.WORD:
            return self.path()
        if token.kind is TokenKind.STRING and self.peek().kind is TokenKind.DOT:
            return self.path()
        if token.kind in (TokenKind.STRING, TokenKind.NUMBER, TokenKind.MINUS):
            return self.value()
        raise self.unexpected("a function argument")


def _word_kind(text: str) -> Literal["word", "null"]:
    return "null" if text == "NULL_VALUE" else "word"
