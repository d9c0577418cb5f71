"""The ``composer-obs`` command: sub-commands are imported only when they run."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("matplotlib", "observability.alert_tests.runner", "observability.emulator")

PROBE = """
import sys
from typer.testing import CliRunner
from observability.cli import app
result = CliRunner().invoke(app, sys.argv[1:], terminal_width=200)
print(result.exit_code)
print(result.output)
print("imported:", " ".join(name for name in {heavy!r} if name in sys.modules) or "-")
"""


def run_in_fresh_process(*arguments: str, exit_code: int = 0) -> tuple[str, str]:
    """``composer-obs ARGUMENTS``' output, and the heavy modules it imported."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    output, _, imported = completed.stdout.rpartition("imported: ")
    code, _, output = output.partition("\n")
    assert int(code) == exit_code, output
    return output, imported.strip()


def test_a_router_command_does_not_import_the_alert_tests_or_matplotlib() -> None:
    for command in ("silence", "routes", "router"):
        output, imported = run_in_fresh_process(command, "--help")
        assert imported == "-", (command, imported)
        assert "Usage: " in output


def test_the_overview_lists_every_sub_command() -> None:
    """``--help`` is the one place that imports them all: to describe each."""
    output, _ = run_in_fresh_process("--help")
    for name in ("emulator", "spool", "events", "router", "routes", "silence", "provision"):
        assert f" {name} " in output, output
    assert " dashboard " in output and " test-alerts " in output


def test_a_mistyped_command_gets_suggestions_among_every_command() -> None:
    output, _ = run_in_fresh_process("rout", exit_code=2)
    assert "No such command 'rout'" in output
    assert "'routes'" in output and "'router'" in output


def test_a_single_command_has_no_completion_options_of_its_own() -> None:
    """Those belong to ``composer-obs`` itself, not to each command."""
    output, _ = run_in_fresh_process("test-alerts", "--help")
    assert "--install-completion" not in output and "Usage: " in output
    top, _ = run_in_fresh_process("--help")
    assert "--install-completion" in top
