"""The pass/fail table and, under it, what differed in each failed test.

Differences are printed unwrapped (one line each, as long as it takes), so a CI log can be
searched for them and nothing is split across lines mid-word.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from observability.alert_tests.verdict import Verdict


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _result(verdict: Verdict) -> str:
    if verdict.skipped:
        return "[yellow]skip[/yellow]"
    return "[green]pass[/green]" if verdict.passed else "[red]FAIL[/red]"


def print_report(console: Console, results: list[tuple[Path, list[Verdict]]]) -> None:
    """The table of every test of every file, then the failures and notes."""
    table = Table(title="Alert tests", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("test", overflow="fold")
    table.add_column("result")
    table.add_column("checks", justify="right")
    for path, verdicts in results:
        for verdict in verdicts:
            table.add_row(
                _name(path),
                verdict.run.case.name,
                _result(verdict),
                str(verdict.checks),
            )
    console.print(table)
    for path, verdicts in results:
        for verdict in verdicts:
            if verdict.passed and not verdict.notes:
                continue
            title = f"{_name(path)} > {verdict.run.case.name}"
            if not verdict.passed:
                console.print(f"\n[red]FAIL[/red] {title}", soft_wrap=True, highlight=False)
            else:
                console.print(f"\n{title}", soft_wrap=True, highlight=False, markup=False)
            for failure in verdict.failures:
                console.print(f"  - {failure}", soft_wrap=True, highlight=False, markup=False)
            for note in verdict.notes:
                console.print(f"  note: {note}", soft_wrap=True, highlight=False, markup=False)
    every = [v for _, verdicts in results for v in verdicts]
    failed = sum(not v.passed for v in every)
    skipped = sum(v.skipped for v in every)
    colour = "red" if failed else "green"
    summary = f"{len(every) - failed - skipped} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    console.print(f"\n[{colour}]{summary}[/{colour}]", highlight=False)
