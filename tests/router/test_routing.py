"""Matchers, the route tree (and its index), time intervals, inhibition rules."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from observability.router.alert import fingerprint
from observability.router.matcher import MatcherError, MatchType, parse_matchers
from observability.router.route import Route, RouteConfig, build_route
from observability.router.timeinterval import TimeInterval


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('team="data"', {"team": "data"}, True),
        ("team=data", {"team": "data2"}, False),
        ('team=~"da.*"', {"team": "data"}, True),
        ('team=~"da"', {"team": "data"}, False),  # anchored
        ('team!~"da.*"', {}, True),  # missing label is the empty string
        ('team=""', {}, True),
        ('team!=""', {}, False),
        ('{a="1", b=~"x|y"}', {"a": "1", "b": "y"}, True),
        ('msg="say \\"hi\\""', {"msg": 'say "hi"'}, True),
        ('dag_id="données_📈"', {"dag_id": "données_📈"}, True),
    ],
)
def test_matchers(text: str, labels: dict[str, str], expected: bool) -> None:
    assert all(m.matches(labels) for m in parse_matchers(text)) is expected


@pytest.mark.parametrize("text", ['team=~"("', "team", 'a="1', 'a="1" b="2"', "=x"])
def test_bad_matchers(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


def test_matcher_round_trip() -> None:
    [matcher] = parse_matchers('x!~"a\\"b"')
    assert matcher.type is MatchType.NOT_REGEX and matcher.value == 'a"b'
    assert parse_matchers(str(matcher)) == [matcher]


def test_fingerprint_is_alertmanagers() -> None:
    # Values computed by Alertmanager (model.LabelSet.Fingerprint).
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"alertname": "Watchdog"}) == fingerprint({"alertname": "Watchdog"})
    assert fingerprint({"a": "b"}) != fingerprint({"a": "c"})


def tree(spec: dict) -> Route:
    return build_route(RouteConfig.model_validate(spec))


def test_first_match_wins_continue_and_inheritance() -> None:
    root = tree(
        {
            "receiver": "default",
            "group_by": ["alertname"],
            "group_wait": "10s",
            "routes": [
                {
                    "matchers": ['team="data"'],
                    "receiver": "data",
                    "continue": True,
                    "group_by": ["..."],
                    "routes": [{"matchers": ['severity="critical"'], "receiver": "data-pager"}],
                },
                {"match_re": {"team": "data|ml"}, "receiver": "ml"},
                {"matchers": ['team="data"'], "receiver": "never"},
            ],
        }
    )
    found = root.match({"team": "data", "severity": "critical", "alertname": "X"})
    assert [r.receiver for r in found] == ["data-pager", "ml"]
    assert found[0].group_by_all and found[0].group_wait == 10
    assert found[1].group_by == ("alertname",)
    assert [r.receiver for r in root.match({"team": "ops"})] == ["default"]
    assert found[0].group_key({"a": "1"}).endswith(':{a="1"}')


def naive_match(route: Route, labels: dict[str, str]) -> list[Route]:
    if not all(m.matches(labels) for m in route.matchers):
        return []
    found: list[Route] = []
    for child in route.routes:
        below = naive_match(child, labels)
        if below:
            found.extend(below)
            if not child.continue_matching:
                break
    return found or [route]


def test_indexed_routing_equals_a_linear_scan() -> None:
    rng = random.Random(1)
    children = []
    for index in range(300):
        kind = rng.random()
        if kind < 0.6:
            matchers = [f'dag_id="dag_{rng.randrange(100)}"']
        elif kind < 0.8:
            matchers = [f'team="t{rng.randrange(5)}"', f'severity!="info{rng.randrange(2)}"']
        else:
            matchers = [f'dag_id=~"dag_{rng.randrange(10)}.*"']
        children.append(
            {"matchers": matchers, "receiver": f"r{index}", "continue": rng.random() < 0.3}
        )
    root = tree({"receiver": "default", "routes": children})
    for _ in range(2000):
        labels = {
            "dag_id": f"dag_{rng.randrange(120)}",
            "team": f"t{rng.randrange(6)}",
            "severity": rng.choice(["info0", "info1", "critical"]),
        }
        assert root.match(labels) == naive_match(root, labels)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def test_time_intervals() -> None:
    office = TimeInterval.model_validate(
        {
            "times": [{"start_time": "09:00", "end_time": "17:00"}],
            "weekdays": ["monday:friday"],
            "location": "Europe/Berlin",
        }
    )
    assert office.contains(at("2026-11-23T08:30:00"))  # Monday 09:30 in Berlin
    assert not office.contains(at("2026-11-23T16:30:00"))  # 17:30 in Berlin
    assert not office.contains(at("2026-11-22T10:00:00"))  # Sunday
    month_end = TimeInterval.model_validate({"days_of_month": ["-2:-1"], "months": ["february"]})
    assert month_end.contains(at("2028-02-28T12:00:00")) and not month_end.contains(
        at("2028-02-27T12:00:00")
    )
    weekend = TimeInterval.model_validate(
        {"weekdays": ["saturday", "sunday"], "years": ["2026:2027"]}
    )
    assert weekend.contains(at("2026-11-22T12:00:00"))
    with pytest.raises(ValueError, match="not a valid weekday"):
        TimeInterval.model_validate({"weekdays": ["funday"]})
    with pytest.raises(ValueError, match="time zone"):
        TimeInterval.model_validate({"location": "Mars/Olympus"})
