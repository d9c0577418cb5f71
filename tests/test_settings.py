"""A bad setting costs that value alone, with a warning naming where the user wrote it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from observability.gcp import Endpoint, logging_client
from tests.support.cli import composer_obs

EMIT_ONE = """
import callbacks
with callbacks.track_third_party("warehouse", "query"):
    pass
callbacks.flush(60)  # two loaded cores: more than the exit's 2 s, to test settings alone
"""


@pytest.mark.integration
def test_a_bad_variable_inside_a_callback_keeps_every_other_setting(
    emulator_env: dict[str, str], emulator: Endpoint, project: str, tmp_path: Path
) -> None:
    """Issue 19: ``COMPOSER_OBS_BATCH_SIZE=abc`` used to throw away the emulator, the project
    and the spool folder too (events went to Google, the spool to ~/.cache)."""
    completed = subprocess.run(
        [sys.executable, "-c", EMIT_ONE],
        env={
            **os.environ,
            **emulator_env,
            "COMPOSER_OBS_BATCH_SIZE": "abc",
            "COMPOSER_OBS_SEND_TIMEOUT_S": "30",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    warnings = completed.stderr.strip().splitlines()
    assert len(warnings) == 1, completed.stderr
    assert "COMPOSER_OBS_BATCH_SIZE" in warnings[0] and "'abc'" in warnings[0]
    assert "using the default (500)" in warnings[0]
    entries = list(
        logging_client(project, emulator).list_entries(
            filter_=f'logName="projects/{project}/logs/composer-observability"'
        )
    )
    assert [entry.payload["third_party"]["service"] for entry in entries] == ["warehouse"], (
        completed.stderr
    )
    spool = Path(emulator_env["COMPOSER_OBS_SPOOL_DIR"])
    assert not spool.exists() or not any(spool.iterdir())


def _spool_status(tmp_path: Path, config: Path | str, **env: str) -> tuple[str, list[str]]:
    run = composer_obs(
        "spool",
        "status",
        env={"COMPOSER_OBS_CONFIG": str(config), "HOME": str(tmp_path), **env},
    )
    assert run.code == 0 and "Traceback" not in run.err, run.err
    return run.out, [line for line in run.err.splitlines() if line.strip()]


def test_the_config_file_s_errors_name_its_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "obs.yaml"
    config.write_text(f"spool_dir: {tmp_path / 'spool'}\nbatch_size: lots\nbatch_sise: 3\n")
    out, warnings = _spool_status(tmp_path, config)
    assert str(tmp_path / "spool") in out  # the good key still counts
    assert len(warnings) == 2, warnings
    bad_value, unknown = sorted(warnings, key=lambda line: "batch_sise" in line)
    assert f"{config}, line 2: batch_size:" in bad_value and "'lots'" in bad_value
    assert "COMPOSER_OBS_BATCH" not in " ".join(warnings)
    assert f"{config}, line 3: batch_sise: not a setting (did you mean batch_size?)" in unknown


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist; it is ignored"),
        ("folder", "is a folder, not a file; it is ignored"),
        ("spool_dir: [1\nbatch_size: 3\n", "line 1: while parsing a flow sequence (column 12)"),
        ("- a\n- b\n", "expected key: value pairs"),
    ],
    ids=["missing", "a folder", "syntax error", "not a mapping"],
)
def test_an_unusable_config_file_is_one_warning(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    config = tmp_path / "obs.yaml"
    if content == "folder":
        config.mkdir()
    elif content is not None:
        config.write_text(content)
    out, warnings = _spool_status(tmp_path, config, COMPOSER_OBS_SPOOL_DIR=str(tmp_path / "s"))
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"composer-observability: warning: COMPOSER_OBS_CONFIG: {config}")
    assert expected in warnings[0]
    assert str(tmp_path / "s") in out


def test_a_bad_variable_in_the_cli_is_a_warning_and_its_default(tmp_path: Path) -> None:
    run = composer_obs(
        "spool",
        "status",
        env={"COMPOSER_OBS_SPOOL_DIR": str(tmp_path), "COMPOSER_OBS_EMULATOR": "no-port"},
    )
    assert run.code == 0, run.err
    assert str(tmp_path) in run.out
    (warning,) = run.err.strip().splitlines()
    assert "COMPOSER_OBS_EMULATOR: must be host:port (got 'no-port')" in warning
    assert warning.endswith("using the default (unset)")
