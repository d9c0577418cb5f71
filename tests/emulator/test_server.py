"""The emulator as a server: it keeps its data across restarts, says where it listens, and
can run inside the test process with ports picked for it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from observability import gcp
from observability.emulator.process import emulator_process
from observability.emulator.server import EmulatorServer
from tests.emulator.helpers import ALL_TIME, all_entries, payloads

pytestmark = pytest.mark.integration


def test_data_survives_a_restart(tmp_path: Path) -> None:
    entries = [{"text_payload": str(i), "insert_id": f"id-{i}"} for i in range(3)]
    request = {"log_name": "projects/p/logs/kept", "resource": {"type": "global"}}
    with emulator_process(tmp_path) as endpoint:
        api = gcp.logging_api(endpoint)
        api.write_log_entries(request={**request, "entries": entries})
        written = all_entries(api, "p")

    with emulator_process(tmp_path) as endpoint:
        api = gcp.logging_api(endpoint)
        assert all_entries(api, "p") == written
        api.write_log_entries(request={**request, "entries": [{"text_payload": "new"}]})
        assert len(all_entries(api, "p")) == 4

    assert (tmp_path / "logging.db").is_file()
    assert "composer-obs emulator: gRPC on 127.0.0.1:" in (tmp_path / "emulator.log").read_text()


def test_in_process_server_picks_free_ports_and_releases_them(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path) as server:
        endpoint = server.endpoint
        assert endpoint.grpc_target == server.grpc_target
        client = gcp.logging_client("p", endpoint, transport="http")
        client.logger("inproc").log_text("hello")
        assert payloads(client.list_entries(filter_=ALL_TIME)) == ["hello"]
        http_port = int(server.http_url.rsplit(":", 1)[1])

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", http_port))  # nobody listens any more


def test_a_taken_port_is_an_error(tmp_path: Path) -> None:
    with EmulatorServer(tmp_path / "a") as first:
        grpc_port = int(first.grpc_target.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError):
            EmulatorServer(tmp_path / "b", grpc_port=grpc_port).start()
