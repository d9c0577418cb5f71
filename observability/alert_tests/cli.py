"""``composer-obs test-alerts FILE...``: exit 0 when every test passes, 1 when one fails,
2 when a file is invalid (its error names the file, the line and the key) or cannot run.

Every file is checked before any runs, so a typo in the last file is reported at once, not
after a minute of running the others. A file that fails while running (the emulator refuses
an entry, a notification is never delivered) is reported as that file's error and the others
still run: the results of a long run are never thrown away for one file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import httpx
import typer
from google.api_core.exceptions import GoogleAPIError
from rich.console import Console

from observability.alert_tests.report import FileResult, print_report
from observability.alert_tests.runner import Prepared, prepare, run_prepared
from observability.alert_tests.verdict import judge
from observability.provision.source import DefinitionError
from observability.router.config import ConfigError

EXIT_FAILED = 1
EXIT_INVALID = 2

_CANNOT_RUN = (RuntimeError, OSError, httpx.HTTPError, GoogleAPIError)
"""What running a valid file can meet: the emulator, the stand-ins or the sockets failing."""


def _run(prepared: Prepared) -> FileResult:
    """The verdicts of one file, or the one-line error that stopped it."""
    path = prepared.file.path
    try:
        return FileResult(path, [judge(run) for run in run_prepared(prepared)])
    except (DefinitionError, ConfigError) as exc:  # the emulator refused something the file gave
        return FileResult(path, error=str(exc))
    except _CANNOT_RUN as exc:
        return FileResult(path, error=f"{path}: could not run: {type(exc).__name__}: {exc}")


def files_to_run(paths: list[Path]) -> list[Path]:
    """``paths`` with each folder replaced by the YAML files under it (sorted); ValueError
    saying what was looked for when there is none: running no test is no success."""
    if not paths:
        raise ValueError(
            "no test files given: name files or folders, "
            "e.g. composer-obs test-alerts composer-obs/alert_tests/"
        )
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(p for pattern in ("*.yaml", "*.yml") for p in path.rglob(pattern))
        if not inside:
            raise ValueError(f"no test files (*.yaml, *.yml) under {path}")
        found.extend(inside)
    return found


def test_alerts(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Test files (YAML), or folders of them: timelines of events and what they "
            "must cause.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Test alert policies and routing: play each file's timelines in the emulator and the
    router on a virtual clock, and check the incidents and notifications they cause."""
    console = Console()
    errors = Console(stderr=True)
    try:
        paths = files_to_run(files or [])
    except ValueError as exc:
        errors.print(f"error: {exc}", soft_wrap=True, highlight=False, markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    prepared: list[Prepared] = []
    invalid = False
    for path in paths:
        try:
            prepared.append(prepare(path))
        except (DefinitionError, ConfigError) as exc:
            errors.print(f"error: {exc}", soft_wrap=True, highlight=False, markup=False)
            invalid = True
    if invalid:
        raise typer.Exit(EXIT_INVALID)
    # what the emulator cannot evaluate is reported per test, not logged in the middle
    logging.getLogger("observability.emulator").setLevel(logging.ERROR)
    results = [_run(one) for one in prepared]
    print_report(console, results)
    if any(result.error is not None for result in results):
        raise typer.Exit(EXIT_INVALID)
    if any(not v.passed for result in results for v in result.verdicts):
        raise typer.Exit(EXIT_FAILED)
