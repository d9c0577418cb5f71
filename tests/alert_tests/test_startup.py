"""What started before a part that fails to start is stopped again, not left listening."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from observability.alert_tests import capture
from observability.alert_tests.capture import StandIns
from observability.alert_tests.emulation import Emulation


def _refused(url: str) -> bool:
    try:
        httpx.post(url, json={}, timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_the_inbox_stops_when_the_emulator_cannot_start(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "data"
    not_a_directory.write_text("")
    emulation = Emulation(not_a_directory)
    with pytest.raises(OSError), emulation:
        pass
    assert _refused(emulation.inbox.url)


def test_the_http_stand_ins_stop_when_the_smtp_server_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(capture, "free_port", lambda: taken.getsockname()[1])
        # aiosmtpd reports a failed start only after this (5 s by default)
        monkeypatch.setenv("AIOSMTPD_CONTROLLER_TIMEOUT", "0.5")
        standins = StandIns()
        with pytest.raises(OSError), standins:  # the port is taken
            pass
    assert all(_refused(standin.url) for standin in standins.http.values())
    assert all(standin.port for standin in standins.http.values())  # they had started
