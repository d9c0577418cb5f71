"""``apply --prune`` on a folder with no definitions would delete every managed resource: it
does so only when the user confirms (``--yes``); without, nothing is deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observability.provision.cli import provision_app
from tests.provision.conftest import ROOT, ROUTER, default_spec

runner = CliRunner()


@pytest.mark.integration
def test_prune_with_no_definitions_needs_yes(tmp_path: Path, emulator_env: dict[str, str]) -> None:
    variables = [f"--var={name}={value}" for name, value in ROUTER.items()]
    defaults = ["--dir", str(ROOT), *variables]
    assert runner.invoke(provision_app, ["apply", *defaults]).exit_code == 0
    empty = ["--dir", str(tmp_path)]

    refused = runner.invoke(provision_app, ["apply", "--prune", *empty])
    assert refused.exit_code == 1
    assert f"no definitions under {tmp_path}" in refused.output
    assert f"apply --prune would delete all {len(default_spec())} managed" in refused.output
    assert runner.invoke(provision_app, ["drift", *defaults]).exit_code == 0, "nothing deleted"

    assert runner.invoke(provision_app, ["apply", *empty]).exit_code == 1, "no --prune: an error"

    confirmed = runner.invoke(provision_app, ["apply", "--prune", "--yes", *empty, "-o", "json"])
    assert confirmed.exit_code == 0, confirmed.output
    assert len(json.loads(confirmed.stdout)["done"]) == len(default_spec())
    assert runner.invoke(provision_app, ["drift", *defaults]).exit_code == 2
