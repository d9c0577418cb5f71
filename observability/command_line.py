"""How every ``composer-obs`` command shows its help and its usage errors.

Two things typer does by default that cost a user reading a terminal or a CI log:

* **Placeholders.** Recent typer versions print the Python type after every parameter in
  ``--help``: ``--force <bool>`` (a flag takes no value), ``--port <int>``, ``--comment
  <str>``, ``MATCHERS <list[str]>``. Here a flag shows nothing after its name and a value is
  named as argparse and most Unix tools name it, after what it is (``--port PORT``,
  ``--spool-dir SPOOL_DIR``, choices as ``table|json``); a declaration's own ``metavar``
  wins (``--var NAME=VALUE``).
* **Usage errors.** typer draws a usage line, a hint line and a boxed panel; the message is
  one line here (``error: Invalid value for '--limit': ...``), with click's own suggestion
  when it has one (``No such option: --lmit Did you mean --limit?``) and where to read
  more, on stderr with exit code 2 (the README's convention for a user error).

The context, command and parameter types are ``Any``: recent typer versions vendor click,
so their classes differ between the typer versions this package allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, Final

import typer


def _click_class(name: str) -> type[Exception]:
    """One of click's exception classes, from the click typer uses (its own copy in recent
    versions): ``typer.BadParameter`` is click's and derives from the others."""
    return next(base for base in typer.BadParameter.__mro__ if base.__name__ == name)


_CLICK_ERROR: Final = _click_class("ClickException")


def error_line(error: Any) -> str:
    """A click error as one line: its message (which names the option and carries click's
    "Did you mean" when there is one) and the command whose help to read."""
    message = " ".join(str(error.format_message()).split())
    message = message.replace(": Value error, ", ": ")  # pydantic's prefix, as typer passes it
    context = getattr(error, "ctx", None)
    if context is None:
        return f"error: {message}"
    return f"error: {message} (see: {context.command_path} --help)"


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """Turn a usage error raised inside into one line on stderr and exit code 2.

    typer's ``--help`` for a command run without arguments travels as an error too
    (``NoArgsIsHelpError``, the help is already printed): it is left as it is.
    """
    try:
        yield
    except _CLICK_ERROR as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            raise
        typer.echo(error_line(error), err=True)
        raise typer.Exit(code=getattr(error, "exit_code", 2)) from None


def name_placeholders(command: Any, context: Any) -> None:
    """Give every parameter of ``command`` and of its sub-commands (``--help`` included) a
    placeholder that reads as what the value is; see the module's docstring."""
    help_option = None if context is None else command.get_help_option(context)
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if param.param_type_name == "argument":
            # Its name is the placeholder (``matchers...``); typer would add its type.
            param.display_type_rich = _no_type
        elif param.metavar is not None:
            continue
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            param.metavar = _placeholder(param)
    for sub_command in getattr(command, "commands", {}).values():
        name_placeholders(sub_command, context)


def _placeholder(option: Any) -> str:
    """``table|json`` for a choice, else the long option's name: ``--spool-dir SPOOL_DIR``."""
    kind = getattr(option, "type_descriptor", None) or getattr(option, "type", None)
    choices = getattr(kind, "choices", None)
    if choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in choices)
    return max(option.opts, key=len).lstrip("-/").replace("-", "_").upper()


def _no_type(ctx: Any) -> None:
    return None


class TableOrJson(str, Enum):
    """``--output`` of a command that lists things: a table for people, JSON for scripts.
    A choice, so a typo (``--output jsno``) is a usage error, not a silent table."""

    table = "table"
    json = "json"


class TextOrJson(str, Enum):
    """``--output`` of a command that reports one outcome: a sentence or JSON."""

    text = "text"
    json = "json"
