"""Every call to Google says what made it: ``composer-observability/VERSION`` first in the
client identification, checked where Google would see it, at the server (the emulator's
record of each call's ``x-goog-api-client`` / ``User-Agent``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from observability import __version__, gcp
from observability.cli import app
from observability.emulator.process import emulator_process
from tests.provision.conftest import ROOT, ROUTER


@pytest.mark.integration
def test_every_google_call_carries_the_package_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an emulator of this test's own: every call it records is one this test caused
    with emulator_process(tmp_path / "emulator") as endpoint:
        assert endpoint.grpc_target and endpoint.http_url
        monkeypatch.setenv("COMPOSER_OBS_EMULATOR", endpoint.grpc_target)
        monkeypatch.setenv("COMPOSER_OBS_EMULATOR_HTTP", endpoint.http_url.removeprefix("http://"))
        monkeypatch.setenv("COMPOSER_OBS_PROJECT", "agent-test")
        variables = [f"--var={name}={value}" for name, value in ROUTER.items()]
        result = CliRunner().invoke(app, ["provision", "apply", "--dir", str(ROOT), *variables])
        assert result.exit_code == 0, result.output
        logging = gcp.logging_client()
        logging.logger("composer-observability").log_struct({"event_type": "task_failed"})
        assert list(logging.list_entries(max_results=1))
        parent = "projects/agent-test"
        assert list(gcp.dashboards_api(transport="rest").list_dashboards(parent=parent))
        assert list(gcp.dashboards_api(transport="grpc").list_dashboards(parent=parent))
        calls = httpx.get(f"{endpoint.http_url}/v1/emulator/calls", timeout=10).json()

    services = {method.split("/")[1] for method in calls["grpc"]}
    assert services == {
        "google.logging.v2.LoggingServiceV2",
        "google.logging.v2.MetricsServiceV2",
        "google.monitoring.v3.NotificationChannelService",
        "google.monitoring.v3.AlertPolicyService",
        "google.monitoring.dashboard.v1.DashboardsService",
    }
    assert any(route.endswith("/dashboards") for route in calls["http"])  # provision's REST
    total = sum(calls["grpc"].values()) + sum(calls["http"].values())
    assert sum(calls["callers"].values()) == total
    for caller in calls["callers"]:
        assert caller.startswith(f"composer-observability/{__version__} "), caller
