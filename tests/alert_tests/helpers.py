"""Running ``composer-obs test-alerts`` as a user does, through the real command."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from observability.cli import app

REPO = Path(__file__).resolve().parents[2]


def run_test_alerts(*files: Path) -> Result:
    """``composer-obs test-alerts FILES`` in the repository root (as CI runs it), on a
    terminal wide enough that every row of the table is one line."""
    return CliRunner().invoke(
        app, ["test-alerts", *(str(f) for f in files)], env={"COLUMNS": "300"}
    )


def flat(text: str) -> str:
    """The output with runs of whitespace (table padding, line ends) as single spaces."""
    return " ".join(text.split())
