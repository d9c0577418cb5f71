"""The shipped test files pass, and the failing example fails with a readable difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.alert_tests.spec import load_test_file
from observability.provision.source import Variables
from observability.provision.spec import load_policies
from tests.alert_tests.helpers import REPO, flat, run_test_alerts

pytestmark = pytest.mark.integration

SHIPPED = sorted((REPO / "alert_tests").glob("*.yaml"))


def test_every_default_policy_is_expected_to_fire_somewhere() -> None:
    policies = load_policies(REPO / "alert_policies", Variables(environ={}), {"router"}, set())
    expected = {
        incident.policy
        for path in SHIPPED
        for case in load_test_file(path).model.tests
        for incident in case.expect.incidents
    }
    names = {str(policy.body["displayName"]) for policy in policies}
    assert len(names) == len(policies) > 0  # one display name per policy, so none is hidden
    assert names - expected == set()


def test_every_policy_on_logs_has_its_cause_asserted() -> None:
    """The page says what broke (issue 15): each policy on a log-based metric is expected, in
    some shipped test, to notify with a cause. Composer's own metrics have no entries behind
    them, so no cause."""
    policies = load_policies(REPO / "alert_policies", Variables(environ={}), {"router"}, set())
    on_logs = {
        str(policy.body["displayName"])
        for policy in policies
        if "logging.googleapis.com/user/" in str(policy.body["conditions"])
    }
    with_cause = {
        incident.policy
        for path in SHIPPED
        for case in load_test_file(path).model.tests
        if any(note.cause_contains for note in case.expect.notifications)
        for incident in case.expect.incidents
    }
    assert len(on_logs) == 9
    assert on_logs - with_cause == set()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_file_passes(path: Path) -> None:
    result = run_test_alerts(path)
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output
    assert "FAIL" not in result.output
    # a file takes seconds: the command says which one runs (issue 19)
    assert f"running {path}: " in result.stderr and " on a virtual clock" in result.stderr


def test_failing_example_fails_with_the_difference() -> None:
    result = run_test_alerts(REPO / "examples/alert_tests/failing.yaml")
    assert result.exit_code == 1, result.output
    out = flat(result.output)
    assert "failing.yaml > a failed production DAG pages the data on-call" in out
    assert (
        "expected the incident of 'Airflow DAG failed' {dag_id=obs_example_failure} "
        "to open by 30s; it opened at 1m"
    ) in out
    assert "to close by 5m; it was still open at the end (10m)" in out
    assert (
        "expected pagerduty 'data-pager' firing severity=critical containing "
        "'obs_example_failure'; got: nothing to 'data-pager'; sent: slack 'data-slack' "
        'firing severity=error at 1m30s: "[FIRING:1] Airflow DAG failed '
        'dag_id=obs_example_failure"'
    ) in out
    assert "expected nothing sent to 'data-slack'; got: slack 'data-slack'" in out
    assert "0 passed, 1 failed" in out
