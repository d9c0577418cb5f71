"""Shared fixtures: a real emulator process for the whole session, unique projects per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from observability.emulator.process import emulator_process
from observability.gcp import Endpoint


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """One emulator process shared by the session; tests isolate themselves by project."""
    with emulator_process(tmp_path_factory.mktemp("emulator")) as endpoint:
        yield endpoint


@pytest.fixture
def project() -> str:
    """A project id of this test's own, so its entries never mix with another test's."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def emulator_env(
    emulator: Endpoint, project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment that points the callbacks at the emulator, with a spool of the test's own."""
    assert emulator.grpc_target and emulator.http_url
    env = {
        "COMPOSER_OBS_EMULATOR": emulator.grpc_target,
        "COMPOSER_OBS_EMULATOR_HTTP": emulator.http_url.removeprefix("http://"),
        "COMPOSER_OBS_PROJECT": project,
        "COMPOSER_OBS_SPOOL_DIR": str(tmp_path / "spool"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
