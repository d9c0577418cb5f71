"""The failure block of an event: the traceback text, chained causes, odd exceptions."""

from __future__ import annotations

import re
import traceback

from observability.exceptions import exception_info, format_traceback


def _load(row: str) -> int:
    return int(row)


def _import_batch() -> None:
    try:
        _load("not a number")
    except ValueError as exc:
        raise RuntimeError("batch 17 could not be imported") from exc


def _stdlib_without_carets(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    return "".join(
        line for line in text.splitlines(keepends=True) if not re.fullmatch(r"\s*[\^~]+\s*", line)
    )


def test_traceback_matches_python_minus_the_caret_lines() -> None:
    try:
        _import_batch()
    except RuntimeError as error:
        ours = format_traceback(error)
        assert ours == _stdlib_without_carets(error)
    assert "The above exception was the direct cause" in ours
    assert "return int(row)" in ours


def test_implicit_context_is_kept_and_suppressed_context_is_not() -> None:
    empty: dict[str, int] = {}
    try:
        try:
            empty["missing"]
        except KeyError:
            raise ValueError("while handling") from None
    except ValueError as error:
        assert "KeyError" not in format_traceback(error)
    try:
        try:
            empty["missing"]
        except KeyError:
            raise ValueError("while handling")  # noqa: B904 - the implicit chain is the point
    except ValueError as error:
        assert "During handling of the above exception" in format_traceback(error)


def test_exception_info_fields() -> None:
    try:
        _import_batch()
    except RuntimeError as error:
        info = exception_info(error)
    assert info is not None
    assert info["type"] == "RuntimeError"
    assert info["message"] == "batch 17 could not be imported"
    assert len(info["fingerprint"]) == 16


def test_plain_strings_and_unprintable_exceptions() -> None:
    info = exception_info("Task received SIGTERM signal")
    assert info is not None and info["type"] == "str"

    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    info = exception_info(Broken())
    assert info is not None and info["message"].startswith("<unprintable Broken")
