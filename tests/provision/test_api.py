"""The API layer without a server: retries on transient errors, IAM roles on refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from observability.gcp import Endpoint
from observability.provision.api import Api, CallCounter, PermissionDeniedError
from observability.provision.apply import apply_plan
from observability.provision.plan import Change, Plan, diff
from observability.provision.source import Located
from observability.provision.spec import Resource


class _FlakyPolicies:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def create_alert_policy(self, name: str, alert_policy: Any) -> Any:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        alert_policy.name = f"{name}/alertPolicies/1"
        return alert_policy


def _api(client: Any) -> Api:
    api = Api("p", Endpoint(grpc_target="127.0.0.1:1"), CallCounter(), attempts=4, max_wait=0.01)
    api._clients["policy"] = client
    return api


BODY = {"displayName": "x", "combiner": "OR"}


def test_unavailable_and_429_are_retried() -> None:
    client = _FlakyPolicies([gexc.ServiceUnavailable("down"), gexc.TooManyRequests("slow")])
    api = _api(client)
    created = api.create("policy", BODY)
    assert created["name"] == "projects/p/alertPolicies/1"
    assert client.calls == 3 and api.retries == 2
    assert api.counter.writes["policy.create_alert_policy"] == 3


def test_permission_denied_names_the_role() -> None:
    api = _api(_FlakyPolicies([gexc.PermissionDenied("no")]))
    with pytest.raises(PermissionDeniedError, match=r"roles/monitoring\.alertPolicyEditor"):
        api.create("policy", BODY)


def test_a_failure_is_reported_and_the_rest_goes_on() -> None:
    api = _api(_FlakyPolicies([gexc.InvalidArgument("bad"), *[]]))
    source = Located(Path("p.yaml"), BODY)
    plan = Plan(
        "p",
        [
            Change("policy", "a", "create", desired=Resource("policy", "a", BODY, source)),
            Change("policy", "b", "create", desired=Resource("policy", "b", BODY, source)),
        ],
    )
    result = apply_plan(plan, api)
    assert [c.key for c in result.done] == ["b"]
    assert [(c.key, "bad" in e) for c, e in result.failed] == [("a", True)]


def test_an_unmanaged_resource_is_never_deleted() -> None:
    api = _api(_FlakyPolicies([]))
    name = "projects/p/alertPolicies/9"
    live: dict[str, Any] = {"name": name, "userLabels": {"team": "x"}}
    plan = Plan("p", [Change("policy", "a", "delete", name, live=live)])
    result = apply_plan(plan, api)
    assert result.failed and "not managed" in result.failed[0][1]
    assert api.counter.total_writes == 0


def test_diff_compares_set_fields_and_whole_maps() -> None:
    desired = {"a": 1, "userLabels": {"k": "v"}, "list": [{"x": 1}]}
    live = {
        "a": 1.0,
        "extra": 5,
        "userLabels": {"k": "v", "other": "w"},
        "list": [{"x": 1, "n": 2}],
    }
    assert [(d.path, d.before, d.after) for d in diff(desired, live)] == [
        ("userLabels.other", "w", None)
    ]
    assert [d.path for d in diff({"a": 1}, {"a": 1, "b": 2}, subset=False)] == ["b"]
