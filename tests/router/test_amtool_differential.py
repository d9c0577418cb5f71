"""Differential tests against Alertmanager's own ``amtool`` (Debian's, 0.25):

* routing (``amtool config routes test``): random route trees (matchers of all four kinds,
  regexes with inline flags, ``continue``, nesting, legacy ``match``) and label sets; both must
  name the same receivers in the same order;
* configuration verdicts (``amtool check-config``): random time intervals, valid and not;
* matcher strings: random strings mixing quotes, escapes, braces, commas and odd names; where
  amtool accepts one, we read the same matchers (compared as ``amtool config routes show`` prints
  them); where it refuses one, so do we, unless Alertmanager's newer UTF-8 parser accepts it
  (amtool 0.25 predates that parser; Alertmanager's default mode since 0.27 accepts those).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from observability.router.config import ConfigError, load_config
from observability.router.matcher import Matcher, MatcherError, format_matchers, utf8

AMTOOL = shutil.which("amtool")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)"
    ),
]

LABELS = {
    "team": ["data", "ml", "finance", "", "DATA"],
    "severity": ["critical", "error", "warning", "info", "Critical"],
    "env": ["prod", "staging", "dev", "PROD"],
    "dag_id": ["etl_daily", "etl_hourly", "ml_train", "report", "ETL_Daily"],
}
REGEXES = [
    "data|ml",
    "etl_.*",
    ".*",
    "crit.*",
    "(prod|staging)",
    "e.+",
    "[a-m].*",
    "",
    "(?i)data|ml",
    "(?i)etl_.*",
    "(?i:CRIT).*",
    "etl_(?i)DAILY",
    "(?s)e.+",
    "(?i)[A-M].*",
    "(?U)e.+?",
]
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


def amtool_verdicts(paths: list[Path]) -> dict[str, str | None]:
    """``amtool check-config`` on every file at once: file name -> None (valid) or the error."""
    assert AMTOOL is not None
    result = subprocess.run(
        [AMTOOL, "check-config", *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    verdicts: dict[str, str | None] = {}
    for found in re.finditer(r"Checking '([^']+)'  (SUCCESS|FAILED: (.*))", result.stdout):
        verdicts[Path(found[1]).name] = None if found[2] == "SUCCESS" else found[3]
    assert len(verdicts) == len(paths), result.stdout[-2000:] + result.stderr[-2000:]
    return verdicts


def our_verdict(path: Path) -> str | None:
    try:
        load_config(path)
    except ConfigError as exc:
        return str(exc)
    return None


CLOCKS = ["00:00", "06:00", "09:30", "17:31", "22:00", "23:59", "24:00", "7:00", "24:01", "12:60"]
WEEKDAYS = ["monday", "Friday", "sunday", "saturday:sunday", "friday:monday", "funday", "mon"]
DAYS = ["1", "15:20", "-1", "-7:-1", "-15:5", "10:-25", "1:-1", "0", "32", "-31:31", "20:10"]
MONTHS = ["january", "3:6", "december:january", "13", "may:july", "0", "jan"]
YEARS = ["2024", "2020:2030", "2030:2020", "1"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Mars/Olympus", ""]


def random_interval(rng: random.Random) -> dict[str, Any]:
    interval: dict[str, Any] = {}
    if rng.random() < 0.6:
        interval["times"] = [
            {"start_time": rng.choice(CLOCKS), "end_time": rng.choice(CLOCKS)}
            for _ in range(rng.randint(1, 2))
        ]
    for key, values in (
        ("weekdays", WEEKDAYS),
        ("days_of_month", DAYS),
        ("months", MONTHS),
        ("years", YEARS),
    ):
        if rng.random() < 0.35:
            interval[key] = rng.sample(values, rng.randint(1, 2))
    if rng.random() < 0.3:
        interval["location"] = rng.choice(ZONES)
    return interval


def test_time_interval_verdicts_agree_with_amtool(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    paths = []
    for index in range(80):
        config = {
            "route": {
                "receiver": "r0",
                "routes": [{"receiver": "r0", "mute_time_intervals": ["window"]}],
            },
            "receivers": [{"name": "r0"}],
            "time_intervals": [
                {
                    "name": "window",
                    "time_intervals": [random_interval(rng) for _ in range(rng.randint(1, 2))],
                }
            ],
        }
        path = tmp_path / f"interval-{index}.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        paths.append(path)
    theirs = amtool_verdicts(paths)
    disagreements = [
        (path.name, path.read_text(), theirs[path.name], ours)
        for path in paths
        if (theirs[path.name] is None) != ((ours := our_verdict(path)) is None)
    ]
    assert not disagreements, disagreements[:3]
    assert 10 < sum(verdict is None for verdict in theirs.values()) < 70  # both kinds tested


NAMES = ["foo", "bar_1", "a:b", "_x", "0x", '"foo"', "foo🙂", '"a b"', '"foo!"', "f-o", ""]
OPERATORS = ["=", "!=", "=~", "!~", "==", "!", "=!"]
VALUE_PARTS = [
    "bar",
    '"',
    "\\",
    "\\n",
    '\\"',
    "\\t",
    "\\x41",
    "\\U0001f642",
    "\\q",
    ",",
    " ",
    "{",
    "}",
    "🙂",
    "a.b",
    "(?i)x.*",
    "(",
    "!",
    "=",
    "~",
    "'",
    "\t",
    "$",
]


def random_matcher_text(rng: random.Random) -> str:
    def one() -> str:
        value = "".join(rng.choice(VALUE_PARTS) for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.5:
            value = f'"{value}"'
        space = rng.choice(["", " "])
        return f"{rng.choice(NAMES)}{space}{rng.choice(OPERATORS)}{space}{value}"

    text = ",".join(one() for _ in range(rng.randint(1, 2)))
    if rng.random() < 0.3:
        text += rng.choice([",", ", "])
    if rng.random() < 0.4:
        text = "{" + text + rng.choice(["}", "}}", ""])
    return text


def route_config(texts: list[str]) -> str:
    routes = [{"receiver": "r0", "matchers": [text]} for text in texts]
    config = {"route": {"receiver": "r0", "routes": routes}, "receivers": [{"name": "r0"}]}
    return yaml.safe_dump(config, allow_unicode=True, width=10_000)


def alertmanager_order(matchers: list[Matcher]) -> list[Matcher]:
    """How Alertmanager sorts a route's matchers before printing them."""
    order = ["=", "!=", "=~", "!~"]
    return sorted(matchers, key=lambda m: (m.name, m.value, order.index(m.type.value)))


def amtool_routes(path: Path) -> list[str]:
    assert AMTOOL is not None
    result = subprocess.run(
        [AMTOOL, "config", "routes", "show", f"--config.file={path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.split("\n")[3:]  # warning, "Routing tree:", ".", the root route
    return [line.split("── ", 1)[1].rsplit("  receiver: ", 1)[0] for line in lines if "── " in line]


def test_matcher_strings_parse_as_amtool_parses_them(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    texts = sorted({random_matcher_text(rng) for _ in range(700)})
    paths = []
    for index, text in enumerate(texts):
        path = tmp_path / f"matcher-{index}.yaml"
        path.write_text(route_config([text]))
        paths.append(path)
    theirs = amtool_verdicts(paths)
    accepted: list[str] = []
    disagreements: list[tuple[str, str, str | None]] = []
    for text, path in zip(texts, paths, strict=True):
        ours = our_verdict(path)
        if theirs[path.name] is None:
            accepted.append(text)
            if ours is not None:
                disagreements.append((text, "amtool accepts", ours))
        elif ours is None and not _utf8_accepts(text):
            disagreements.append((text, "amtool refuses", theirs[path.name]))
    assert not disagreements, disagreements[:5]
    assert len(accepted) > 60, len(accepted)
    path = tmp_path / "accepted.yaml"
    path.write_text(route_config(accepted))
    ours_printed = [
        format_matchers(alertmanager_order(list(route.matchers)))
        for route in load_config(path).route.routes
    ]
    theirs_printed = amtool_routes(path)
    differing = [
        (text, mine, printed)
        for text, mine, printed in zip(accepted, ours_printed, theirs_printed, strict=True)
        if mine != printed
    ]
    assert not differing, differing[:5]


def _utf8_accepts(text: str) -> bool:
    try:
        utf8.parse_matchers(text)
    except MatcherError:
        return False
    return True
