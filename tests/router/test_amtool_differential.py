"""Differential test: our routing against Alertmanager's own, ``amtool config routes test``.

Random route trees (matchers of all four kinds, ``continue``, nesting, legacy ``match``) and
random label sets; both must name the same receivers in the same order.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from observability.router.config import load_config

AMTOOL = shutil.which("amtool")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)"
    ),
]

LABELS = {
    "team": ["data", "ml", "finance", ""],
    "severity": ["critical", "error", "warning", "info"],
    "env": ["prod", "staging", "dev"],
    "dag_id": ["etl_daily", "etl_hourly", "ml_train", "report"],
}
REGEXES = ["data|ml", "etl_.*", ".*", "crit.*", "(prod|staging)", "e.+", "[a-m].*", ""]
RECEIVERS = [f"r{index}" for index in range(6)]


def random_matcher(rng: random.Random) -> str:
    name = rng.choice(list(LABELS))
    op = rng.choice(["=", "!=", "=~", "!~"])
    regex = op in ("=~", "!~")
    value = rng.choice(REGEXES) if regex else rng.choice([*LABELS[name], "nope"])
    return f'{name}{op}"{value}"'


def random_route(rng: random.Random, depth: int) -> dict[str, Any]:
    route: dict[str, Any] = {}
    if rng.random() < 0.8:
        route["receiver"] = rng.choice(RECEIVERS)
    if rng.random() < 0.2:
        name = rng.choice(list(LABELS))
        route["match"] = {name: rng.choice(LABELS[name])}
    else:
        route["matchers"] = [random_matcher(rng) for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.35:
        route["continue"] = True
    if depth < 3 and rng.random() < 0.5:
        route["routes"] = [random_route(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return route


def random_config(rng: random.Random) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "r0",
            "routes": [random_route(rng, 1) for _ in range(rng.randint(1, 4))],
        },
        "receivers": [{"name": name} for name in RECEIVERS],
    }


def random_labels(rng: random.Random) -> dict[str, str]:
    return {
        name: rng.choice(values)
        for name, values in LABELS.items()
        if rng.random() < 0.8 and rng.choice(values)
    }


def amtool_receivers(config: Path, labels: dict[str, str]) -> list[str]:
    assert AMTOOL is not None
    pairs = [f"{name}={value}" for name, value in sorted(labels.items())] or ["none=x"]
    result = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={config}", *pairs],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout.strip().split(",")


def test_routing_agrees_with_amtool(tmp_path: Path) -> None:
    rng = random.Random(20261123)
    cases = []
    for index in range(60):
        path = tmp_path / f"config-{index}.yaml"
        path.write_text(yaml.safe_dump(random_config(rng)))
        ours = load_config(path)
        for _ in range(3):
            labels = random_labels(rng)
            receivers = [route.receiver for route in ours.route.match(labels or {"none": "x"})]
            cases.append((path, labels, receivers))
    with ThreadPoolExecutor(4) as pool:
        theirs = list(pool.map(lambda case: amtool_receivers(case[0], case[1]), cases))
    disagreements = [
        (path.name, labels, expected, got)
        for (path, labels, expected), got in zip(cases, theirs, strict=True)
        if expected != got
    ]
    assert not disagreements, disagreements[:5]
