"""The router's CPU per incident on the whole path: ingest, dispatch (route, flush) and delivery.

A storm like ``tests/router/test_enrichment.py``'s (enrichment off): 1,000 incidents in 200
groups (DAGs), each group's incidents in two waves (3, then 2, posted back to back), so each
group is told twice: 400 notices to a local webhook receiver. Printed, per run: the router
process's CPU seconds (user + system, its process and its children, read from ``/proc``) from
the first POST to the last notice received, and the notices delivered per second of that time.

With ``--baseline REV`` (a git revision of this repository, e.g. ``main``), the same storm is
also run on that revision's router (``git archive`` into a temporary folder), alternating the
two ``--rounds`` times in the same minutes, and the medians and ratios are printed.

It ends with one line ``RESULT key=value ...``.

    python bench/router_dispatch.py --baseline main --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from process_cpu import cpu_seconds  # noqa: E402

from observability.child_process import child_process  # noqa: E402
from observability.emulator.process import free_port_pair  # noqa: E402

GROUPS = 200
WAVES = (range(3), range(3, 5))
STORMS = 2
TOKEN = "bench-ingest-token-0123456789"
WAIT_S = 120.0


class Receiver(ThreadingHTTPServer):
    """A webhook receiver that records the incident ids each notice carries."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.notices = 0
        self.told: set[str] = set()
        self.last_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.notices += 1
            self.server.told.update(a["labels"]["incident_id"] for a in body["alerts"])
            self.server.last_at = time.monotonic()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def incident(incident_id: str, dag_id: str) -> dict[str, object]:
    return {
        "version": "1.2",
        "incident": {
            "incident_id": incident_id,
            "state": "open",
            "policy_name": "Airflow task failed",
            "severity": "ERROR",
            "started_at": int(time.time()),
            "summary": f"task failed in {dag_id}",
            "metric": {"labels": {"dag_id": dag_id, "task_id": "t"}},
            "resource": {
                "type": "cloud_composer_environment",
                "labels": {"environment_name": "prod"},
            },
        },
    }


def wait_for(receiver: Receiver, ids: set[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with receiver.lock:
            if receiver.told >= ids:
                return
        time.sleep(0.05)
    raise SystemExit(f"the router told {len(receiver.told)} of {len(ids)} incidents in {WAIT_S}s")


@contextmanager
def router(source: Path, directory: Path, hook: str) -> Iterator[tuple[str, int]]:
    config = directory / "router.yaml"
    config.write_text(
        "route:\n  receiver: hook\n  group_by: [dag_id]\n  group_wait: 1s\n"
        f"  group_interval: 1s\nreceivers:\n  - name: hook\n    webhook_configs:\n"
        f"      - url: {hook}\n"
    )
    port = free_port_pair()
    command = [
        sys.executable,
        "-m",
        "observability.router",
        "serve",
        "--config",
        str(config),
        "--database-url",
        f"sqlite:///{directory / 'router.db'}",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "COMPOSER_OBS_ROUTER_INGEST_TOKEN": TOKEN,
        "COMPOSER_OBS_ROUTER_ADMIN_TOKEN": "bench-admin-token-0123456789",
        "COMPOSER_OBS_ROUTER_ACCESS_LOG": "false",
    }
    url = f"http://127.0.0.1:{port}"

    def ready(_: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("the router did not become ready")

    with child_process(command, ready, env=env, cwd=source) as process:
        yield url, process.pid


def post_storm(client: httpx.Client, receiver: Receiver, number: int) -> None:
    """Post storm ``number``'s incidents, wave by wave, each wave until the receiver heard of
    all of them (so that each group is told twice)."""
    ids: set[str] = set()
    for wave in WAVES:
        for group in range(GROUPS):
            for n in wave:
                incident_id = f"storm{number}-{group}-{n}"
                ids.add(incident_id)
                response = client.post(
                    "/v1/webhooks/cloud-monitoring",
                    json=incident(incident_id, f"dag-{group}"),
                    params={"auth_token": TOKEN},
                )
                response.raise_for_status()
        wait_for(receiver, ids)


def storm(source: Path) -> list[tuple[float, float, int]]:
    """For each of ``STORMS`` storms in a row on one router from ``source``: its CPU seconds,
    notices/s and notices (the later storms meet the earlier ones' incidents still firing)."""
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    figures: list[tuple[float, float, int]] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="router-dispatch-") as tmp,
            router(source, Path(tmp), receiver.url) as (url, pid),
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            for number in range(STORMS):
                with receiver.lock:
                    notices_before = receiver.notices
                cpu_before, started = cpu_seconds(pid), time.monotonic()
                post_storm(client, receiver, number)
                cpu = cpu_seconds(pid) - cpu_before
                with receiver.lock:
                    notices = receiver.notices - notices_before
                    elapsed = receiver.last_at - started
                figures.append((cpu, notices / elapsed, notices))
        return figures
    finally:
        receiver.shutdown()


def checkout(revision: str, directory: Path) -> Path:
    """The tree of ``revision`` of this repository, unpacked into ``directory``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a git revision to compare with (e.g. main)")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    incidents = GROUPS * sum(len(wave) for wave in WAVES)
    with tempfile.TemporaryDirectory(prefix="router-baseline-") as tmp:
        sources = {"current": ROOT}
        if arguments.baseline:
            sources["baseline"] = checkout(arguments.baseline, Path(tmp))
        figures: dict[str, list[tuple[float, float]]] = {
            f"{name}_s{number + 1}": [] for name in sources for number in range(STORMS)
        }
        for round_ in range(arguments.rounds):
            for name, source in sources.items():
                for number, (cpu, rate, notices) in enumerate(storm(source)):
                    figures[f"{name}_s{number + 1}"].append((cpu, rate))
                    print(
                        f"round {round_ + 1} {name:8} storm {number + 1}: {cpu:6.2f} s router"
                        f" CPU for {incidents} incidents ({1000 * cpu / notices:.1f} ms per"
                        f" notice), {notices} notices, {rate:.1f} notices/s"
                    )
    result: dict[str, float] = {}
    for key, runs in figures.items():
        result[f"{key}_cpu_s_per_1000"] = statistics.median(c for c, _ in runs) * 1000 / incidents
        result[f"{key}_notices_per_s"] = statistics.median(r for _, r in runs)
    if arguments.baseline:
        for number in range(STORMS):
            now, then = f"current_s{number + 1}", f"baseline_s{number + 1}"
            result[f"s{number + 1}_cpu_ratio"] = (
                result[f"{then}_cpu_s_per_1000"] / result[f"{now}_cpu_s_per_1000"]
            )
            result[f"s{number + 1}_rate_ratio"] = (
                result[f"{now}_notices_per_s"] / result[f"{then}_notices_per_s"]
            )
    print("RESULT " + " ".join(f"{key}={value:.2f}" for key, value in result.items()))


if __name__ == "__main__":
    main()
