"""The CI examples users copy name only commands and options that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observability.cli import app
from tests.provision.conftest import ROOT

EXAMPLES = [ROOT / "examples/ci/github-actions.yaml", ROOT / "examples/ci/cloudbuild.yaml"]
COMMAND = re.compile(r"composer-obs ([a-z-]+(?: [a-z-]+)?)((?: --?[a-z-]+)*)")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_command_exists(example: Path) -> None:
    text = example.read_text()
    found = [m for m in COMMAND.finditer(text.replace('"${_MODE}"', "plan"))]
    assert len(found) >= 4
    for match in found:
        words = shlex.split(match.group(1))
        options = [o for o in match.group(2).split() if o.startswith("--")]
        result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "300"})
        assert result.exit_code == 0, (words, result.output)
        for option in options:
            assert option in result.output, (words, option)
