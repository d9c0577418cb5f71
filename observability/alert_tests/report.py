"""The pass/fail table and, under it, what differed in each failed test.

Differences are printed unwrapped (one line each, as long as it takes), so a CI log can be
searched for them and nothing is split across lines mid-word. Everything that comes from the
user (paths, test names, expectations, errors quoting the file) is printed as plain text, never
as rich markup: a test named ``[red]x`` must not change the colours, nor ``[/b]`` crash the
report after the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from observability.alert_tests.verdict import Verdict


@dataclass
class FileResult:
    """The verdicts of one test file, or why it could not run (then it has none)."""

    path: Path
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _result(verdict: Verdict) -> str:
    if verdict.skipped:
        return "[yellow]skip[/yellow]"
    return "[green]pass[/green]" if verdict.passed else "[red]FAIL[/red]"


def _plain(console: Console, text: str) -> None:
    console.print(text, soft_wrap=True, highlight=False, markup=False)


def print_report(console: Console, results: list[FileResult]) -> None:
    """The table of every test of every file, then the failures, errors and notes."""
    table = Table(title="Alert tests", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("test", overflow="fold")
    table.add_column("result")
    table.add_column("checks", justify="right")
    for result in results:
        name = escape(_name(result.path))
        for verdict in result.verdicts:
            table.add_row(
                name, escape(verdict.run.case.name), _result(verdict), str(verdict.checks)
            )
        if result.error is not None:
            table.add_row(name, "(could not run)", "[red]ERROR[/red]", "0")
    console.print(table)
    for result in results:
        if result.error is not None:
            console.print(
                f"\n[red]ERROR[/red] {escape(_name(result.path))}", soft_wrap=True, highlight=False
            )
            _plain(console, f"  - {result.error}")
        for verdict in result.verdicts:
            if verdict.passed and not verdict.notes:
                continue
            title = escape(f"{_name(result.path)} > {verdict.run.case.name}")
            label = "" if verdict.passed else "[red]FAIL[/red] "
            console.print(f"\n{label}{title}", soft_wrap=True, highlight=False)
            for failure in verdict.failures:
                _plain(console, f"  - {failure}")
            for note in verdict.notes:
                _plain(console, f"  note: {note}")
    every = [v for result in results for v in result.verdicts]
    failed = sum(not v.passed for v in every)
    skipped = sum(v.skipped for v in every)
    errors = sum(result.error is not None for result in results)
    colour = "red" if failed or errors else "green"
    summary = f"{len(every) - failed - skipped} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    if errors:
        summary += f", {errors} file{'s' if errors > 1 else ''} could not run"
    console.print(f"\n[{colour}]{summary}[/{colour}]", highlight=False)
