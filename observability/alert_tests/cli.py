"""``composer-obs test-alerts FILE...``: exit 0 when every test passes, 1 when one fails,
2 when a file is invalid (its error names the file, the line and the key) or cannot run.

Every file is checked before any runs, so a typo in the last file is reported at once, not
after a minute of running the others.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from observability.alert_tests.report import print_report
from observability.alert_tests.runner import Prepared, prepare, run_prepared
from observability.alert_tests.verdict import Verdict, judge
from observability.provision.source import DefinitionError
from observability.router.config import ConfigError

EXIT_FAILED = 1
EXIT_INVALID = 2


def test_alerts(
    files: Annotated[
        list[Path],
        typer.Argument(help="Test files (YAML): timelines of events and what they must cause."),
    ],
) -> None:
    """Test alert policies and routing: play each file's timelines in the emulator and the
    router on a virtual clock, and check the incidents and notifications they cause."""
    console = Console()
    errors = Console(stderr=True)
    prepared: list[Prepared] = []
    invalid = False
    for path in files:
        try:
            prepared.append(prepare(path))
        except (DefinitionError, ConfigError) as exc:
            errors.print(f"error: {exc}", soft_wrap=True, highlight=False, markup=False)
            invalid = True
    if invalid:
        raise typer.Exit(EXIT_INVALID)
    results: list[tuple[Path, list[Verdict]]] = []
    # what the emulator cannot evaluate is reported per test, not logged in the middle
    logging.getLogger("observability.emulator").setLevel(logging.ERROR)
    for one in prepared:
        try:
            verdicts = [judge(run) for run in run_prepared(one)]
        except DefinitionError as exc:  # the emulator refused something the file gave
            errors.print(f"error: {exc}", soft_wrap=True, highlight=False, markup=False)
            raise typer.Exit(EXIT_INVALID) from None
        results.append((one.file.path, verdicts))
    print_report(console, results)
    if any(not v.passed for _, verdicts in results for v in verdicts):
        raise typer.Exit(EXIT_FAILED)
