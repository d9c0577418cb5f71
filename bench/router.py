"""The alert router's ingest and routing, against an empty endpoint and Alertmanager.

Printed, in one run (all on 127.0.0.1, access logs off, and the router's HTTP protocol for
both Python servers: see ``observability/router/server.py``):

* alerts/s and p50/p99 latency under ``wrk`` (2 threads, 16 connections, one alert per POST)
  for: our durable ingest (``POST /v1/webhooks/cloud-monitoring``, a new incident per request,
  each answered only after its ingest-journal record was fsynced), once with one router process
  and once with ``--workers 2`` (two HTTP workers on the port and a dispatching process that
  applies the journals and delivers, on one database); an empty FastAPI
  endpoint in one uvicorn process with the same settings; and Alertmanager's
  ``POST /api/v2/alerts`` (Debian's prometheus-alertmanager, temporary config and storage; Go,
  it uses every core);
* the same for ``--workers 2`` and Alertmanager with 64 connections (more senders at once, as
  in a storm): our journal syncs one batch per fsync, so its cost per alert falls as more
  requests wait together, while Alertmanager's does not;
* for our ingest, how long after wrk stopped every acknowledged incident was in the tables
  (the journal applier's lag, read from the SQLite file), and so the rate at which alerts were
  both acknowledged and stored;
* p50/p99 at a fixed 1,000 alerts/s of our ingest, for both router set-ups, and of
  Alertmanager (the open-loop client's own floor on this machine; latency is measured from
  each request's scheduled send time, so a stall is not hidden by the client waiting);
* the cost of one routing decision with 10, 1,000 and 10,000 routes.

It ends with one line ``RESULT key=value ...``. Needs ``wrk`` and ``prometheus-alertmanager``
(Debian packages of those names); a missing one is reported and its figures are skipped.

    python bench/router.py
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from observability.child_process import child_process  # noqa: E402
from observability.emulator.process import free_port_pair, wait_for_port  # noqa: E402
from observability.router.route import RouteConfig, build_route  # noqa: E402

WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "10"))
ROUTER_WORKERS = (1, 2)
CONNECTIONS = 16
STORM_CONNECTIONS = 64
STORM_WORKERS = 2
FIXED_RATE = 1000
FIXED_SECONDS = 10
TOKEN = "bench-ingest-token-0123456789"
ADMIN_TOKEN = "bench-admin-token-0123456789"

CONFIG = """
route:
  receiver: nowhere
  group_by: [alertname, dag_id]
receivers:
  - name: nowhere
"""

_LUA_PRELUDE = r"""
-- Each wrk thread numbers its requests, so every alert is new (ids: run-thread-counter;
-- the run's name is wrk's first script argument).
local counter = 0
local thread_id = 0
local threads = 0
local run = "run"
setup = function(thread) threads = threads + 1; thread:set("id", threads) end
init = function(args) thread_id = id; run = args[1] or run end
request = function()
  counter = counter + 1
"""

INCIDENT_LUA = (
    _LUA_PRELUDE
    + r"""  local body = string.format(
    '{"version":"1.2","incident":{"incident_id":"bench-%s-%d-%d","state":"open",' ..
    '"policy_name":"Airflow task failed","severity":"ERROR","started_at":%d,' ..
    '"summary":"task failed","metric":{"labels":{"dag_id":"dag_%d","task_id":"t"}},' ..
    '"resource":{"type":"cloud_composer_environment","labels":{"environment_name":"prod"}}}}',
    run, thread_id, counter, os.time(), counter % 200)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
)

ALERTMANAGER_LUA = (
    _LUA_PRELUDE
    + r"""  local body = string.format(
    '[{"labels":{"alertname":"Airflow task failed","incident_id":"bench-%s-%d-%d",' ..
    '"dag_id":"dag_%d","severity":"error"},"annotations":{"summary":"task failed"}}]',
    run, thread_id, counter, counter % 200)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
)

EMPTY_APP = """
from fastapi import FastAPI, Request
from fastapi.responses import Response
app = FastAPI()
@app.post("/")
async def empty(request: Request) -> Response:
    await request.body()
    return Response(status_code=200)
"""


def uvicorn_command(app: str, port: int) -> list[str]:
    """uvicorn as ``router serve`` runs it: httptools with the router's coalesced writes."""
    script = (
        "import sys, uvicorn\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from observability.router.server import http_protocol\n"
        f"uvicorn.run({app!r}, host='127.0.0.1', port={port}, access_log=False,"
        " log_level='warning', http=http_protocol(10.0))\n"
    )
    return [sys.executable, "-c", script]


@contextmanager
def process(
    command: list[str], port: int, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    def ready(_: subprocess.Popen[bytes]) -> None:
        wait_for_port(port, timeout=60)
        time.sleep(0.5)

    with child_process(command, ready, env=env, cwd=cwd) as child:
        yield child


def wait_for_workers(port: int, workers: int, timeout: float = 60) -> None:
    """Until each of the router's ``workers`` has answered (the port opens with the first)."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {workers} router workers answered")
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v2/status",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        answer.raise_for_status()
        seen.add(answer.json()["worker"]["pid"])
        time.sleep(0.05)


def _ms(text: str) -> float:
    """wrk's latency spelling (``812.00us``, ``3.21ms``, ``1.02s``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    return float(match.group(1)) * factor


def wrk(url: str, script: str, directory: Path, connections: int = CONNECTIONS) -> dict[str, float]:
    """Closed-loop load: requests/s and p50/p99 in ms, plus non-2xx answers."""
    path = directory / "script.lua"
    path.write_text(script)
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{WRK_SECONDS}s",
            "--latency",
            "-s",
            str(path),
            url,
            "--",
            f"c{connections}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def incident_body(index: int) -> bytes:
    return json.dumps(
        {
            "version": "1.2",
            "incident": {
                "incident_id": f"fixed-{index}",
                "state": "open",
                "policy_name": "Airflow task failed",
                "started_at": time.time(),
                "metric": {"labels": {"dag_id": f"dag_{index % 200}"}},
            },
        }
    ).encode()


def alertmanager_body(index: int) -> bytes:
    return json.dumps(
        [
            {
                "labels": {
                    "alertname": "Airflow task failed",
                    "incident_id": f"fixed-{index}",
                    "dag_id": f"dag_{index % 200}",
                },
                "annotations": {"summary": "task failed"},
            }
        ]
    ).encode()


async def _fixed_rate(
    port: int, path: str, rate: int, seconds: int, body_of: Callable[[int], bytes] = incident_body
) -> list[float]:
    """Open-loop load at ``rate`` requests/s over 16 keep-alive connections; latencies in ms."""
    total = rate * seconds
    start = time.perf_counter() + 0.2
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)
    latencies: list[float] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not queue.empty():
            index = queue.get_nowait()
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = body_of(index)
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head.lower())
            await reader.readexactly(int(length.group(1)) if length else 0)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            latencies.append((time.perf_counter() - scheduled) * 1000)
        writer.close()

    await asyncio.gather(*(connection() for _ in range(16)))
    return latencies


def seconds_until_applied(database: Path, accepted: float, timeout: float = 240) -> float:
    """Seconds until the journal applier has stored ``accepted`` incident events in the tables
    (each request answered 2xx was a new incident): how far behind the answers the tables
    were."""
    started = time.monotonic()
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        while time.monotonic() - started < timeout:
            (stored,) = connection.execute("SELECT count(*) FROM incident_events").fetchone()
            if stored >= accepted:
                return time.monotonic() - started
            time.sleep(0.05)
    finally:
        connection.close()
    raise RuntimeError(f"only {stored} of {accepted:.0f} incidents applied after {timeout} s")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def routing_cost(routes: int) -> float:
    """Microseconds per decision on a tree of ``routes`` sibling routes (plus the root)."""
    rng = random.Random(routes)
    children = []
    for index in range(routes - 1):
        if index % 100 == 99:  # one in a hundred is a regex route that must be scanned
            children.append({"matchers": [f'dag_id=~"regex_{index}_.*"'], "receiver": "r"})
        else:
            children.append(
                {
                    "matchers": [f'dag_id="dag_{index}"', f'team="t{index % 7}"'],
                    "receiver": "r",
                    "group_by": ["dag_id"],
                }
            )
    root = build_route(RouteConfig.model_validate({"receiver": "default", "routes": children}))
    labels = [
        {
            "alertname": "Airflow task failed",
            "dag_id": f"dag_{rng.randrange(routes * 2)}",
            "team": f"t{rng.randrange(7)}",
            "environment_name": "prod",
            "severity": "error",
        }
        for _ in range(1000)
    ]
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        for label_set in labels:
            root.match(label_set)
    return (time.perf_counter() - started) / (rounds * len(labels)) * 1e6


def main() -> None:
    results: dict[str, float] = {}
    have_wrk = shutil.which("wrk") is not None
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not have_wrk:
        print("wrk not installed (apt-get install wrk): closed-loop figures skipped")
    with tempfile.TemporaryDirectory(prefix="router-bench-") as tmp:
        directory = Path(tmp)
        (directory / "router.yaml").write_text(CONFIG)
        (directory / "empty_app.py").write_text(EMPTY_APP)
        env = {
            "COMPOSER_OBS_ROUTER_INGEST_TOKEN": TOKEN,
            "COMPOSER_OBS_ROUTER_ADMIN_TOKEN": ADMIN_TOKEN,
            "COMPOSER_OBS_ROUTER_ACCESS_LOG": "false",
        }
        path = f"/v1/webhooks/cloud-monitoring?auth_token={TOKEN}"
        for workers in ROUTER_WORKERS:
            port = free_port_pair()
            database = directory / f"router-{workers}.db"
            router = [
                sys.executable,
                "-m",
                "observability.router",
                "serve",
                "--config",
                str(directory / "router.yaml"),
                "--database-url",
                f"sqlite:///{database}",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ]
            key = f"ingest_w{workers}"
            with process(router, port, env, cwd=ROOT):
                wait_for_workers(port, workers)
                accepted = 0.0  # new incidents answered 2xx so far, each one event in the tables
                if have_wrk:
                    ours = wrk(f"http://127.0.0.1:{port}{path}", INCIDENT_LUA, directory)
                    results.update({f"{key}_{k}": v for k, v in ours.items()})
                    accepted += ours["requests"] - ours["errors"]
                    lag = seconds_until_applied(database, accepted)
                    results[f"{key}_applied_after_s"] = lag
                    results[f"{key}_end_to_end_rps"] = accepted / (WRK_SECONDS + lag)
                latencies = asyncio.run(_fixed_rate(port, path, FIXED_RATE, FIXED_SECONDS))
                results[f"fixed_w{workers}_p50"] = percentile(latencies, 0.50)
                results[f"fixed_w{workers}_p99"] = percentile(latencies, 0.99)
                if have_wrk and workers == STORM_WORKERS:
                    # After the fixed-rate run, so that both set-ups measure latency on tables
                    # of the same size; and on caught-up tables.
                    accepted += len(latencies)
                    seconds_until_applied(database, accepted)
                    url = f"http://127.0.0.1:{port}{path}"
                    storm = wrk(url, INCIDENT_LUA, directory, STORM_CONNECTIONS)
                    results.update({f"storm_{key}_{k}": v for k, v in storm.items()})
                    accepted += storm["requests"] - storm["errors"]
                    lag = seconds_until_applied(database, accepted)
                    results[f"storm_{key}_applied_after_s"] = lag
        if have_wrk:
            port = free_port_pair()
            with process(uvicorn_command("empty_app:app", port), port, cwd=directory):
                empty = wrk(f"http://127.0.0.1:{port}/", INCIDENT_LUA, directory)
                results.update({f"empty_{k}": v for k, v in empty.items()})
        if have_wrk and alertmanager:
            port = free_port_pair()
            (directory / "am.yaml").write_text(
                "route: {receiver: nowhere}\nreceivers: [{name: nowhere}]\n"
            )
            command = [
                alertmanager,
                f"--config.file={directory / 'am.yaml'}",
                f"--storage.path={directory / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ]
            with process(command, port):
                am = wrk(f"http://127.0.0.1:{port}/api/v2/alerts", ALERTMANAGER_LUA, directory)
                results.update({f"alertmanager_{k}": v for k, v in am.items()})
                latencies = asyncio.run(
                    _fixed_rate(
                        port, "/api/v2/alerts", FIXED_RATE, FIXED_SECONDS, alertmanager_body
                    )
                )
                results["fixed_alertmanager_p50"] = percentile(latencies, 0.50)
                results["fixed_alertmanager_p99"] = percentile(latencies, 0.99)
                url = f"http://127.0.0.1:{port}/api/v2/alerts"
                storm = wrk(url, ALERTMANAGER_LUA, directory, STORM_CONNECTIONS)
                results.update({f"storm_alertmanager_{k}": v for k, v in storm.items()})
        elif not alertmanager:
            print("prometheus-alertmanager not installed: its figures skipped")
    for routes in (10, 1000, 10000):
        results[f"route_us_{routes}"] = routing_cost(routes)

    print()
    print(f"{'target':<40}{'alerts/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    rows = [(f"ingest_w{n}", f"durable ingest, {n} router process(es)") for n in ROUTER_WORKERS]
    rows += [
        ("empty", "empty FastAPI endpoint (1 process)"),
        ("alertmanager", "Alertmanager /api/v2/alerts"),
        (
            f"storm_ingest_w{STORM_WORKERS}",
            f"ingest, {STORM_WORKERS} processes, {STORM_CONNECTIONS} conns",
        ),
        ("storm_alertmanager", f"Alertmanager, {STORM_CONNECTIONS} conns"),
    ]
    for key, name in rows:
        if f"{key}_rps" in results:
            print(
                f"{name:<40}{results[f'{key}_rps']:>10.0f}{results[f'{key}_p50']:>10.2f}"
                f"{results[f'{key}_p99']:>10.2f}{results[f'{key}_errors']:>10.0f}"
            )
    fixed_rows = [
        (f"fixed_w{n}", f"ingest at a fixed 1,000/s, {n} process(es)") for n in ROUTER_WORKERS
    ]
    fixed_rows.append(("fixed_alertmanager", "Alertmanager at a fixed 1,000/s"))
    for key, name in fixed_rows:
        if f"{key}_p99" in results:
            print(
                f"{name:<40}{FIXED_RATE:>10}"
                f"{results[f'{key}_p50']:>10.2f}{results[f'{key}_p99']:>10.2f}"
            )
    for n in ROUTER_WORKERS:
        if f"ingest_w{n}_applied_after_s" in results:
            print(
                f"{n} process(es): all {results[f'ingest_w{n}_requests']:.0f} acknowledged"
                f" incidents in the tables {results[f'ingest_w{n}_applied_after_s']:.1f} s after"
                f" the load ended: {results[f'ingest_w{n}_end_to_end_rps']:.0f} alerts/s"
                " acknowledged and applied"
            )
    for routes in (10, 1000, 10000):
        print(f"routing decision, {routes:>6} routes: {results[f'route_us_{routes}']:.2f} us")
    for n in ROUTER_WORKERS:
        if "alertmanager_rps" in results and f"ingest_w{n}_rps" in results:
            ingest_rps = results[f"ingest_w{n}_rps"]
            results[f"w{n}_vs_alertmanager"] = ingest_rps / results["alertmanager_rps"]
            results[f"w{n}_vs_empty"] = ingest_rps / results["empty_rps"]
            print(
                f"{n} process(es): ingest / Alertmanager {results[f'w{n}_vs_alertmanager']:.2f}"
                f" (target >= 0.5), ingest / empty endpoint {results[f'w{n}_vs_empty']:.2f};"
                f" p99 at 1,000/s {results[f'fixed_w{n}_p99']:.2f} ms (target < 25)"
            )
    storm_key = f"storm_ingest_w{STORM_WORKERS}"
    if f"{storm_key}_rps" in results and "storm_alertmanager_rps" in results:
        storm_ratio = results[f"{storm_key}_rps"] / results["storm_alertmanager_rps"]
        results["storm_vs_alertmanager"] = storm_ratio
        print(
            f"{STORM_WORKERS} process(es), {STORM_CONNECTIONS} connections: ingest / Alertmanager"
            f" {storm_ratio:.2f} (target >= 0.5 at 16 connections); every incident in the"
            f" tables {results[f'{storm_key}_applied_after_s']:.1f}"
            " s after the load ended"
        )
    print(f"decision at 10,000 routes: {results['route_us_10000']:.2f} us (target < 50)")
    print("RESULT " + " ".join(f"{key}={value:.4g}" for key, value in results.items()))


if __name__ == "__main__":
    main()
