"""Judging a run against its expectations, without running anything."""

from __future__ import annotations

from observability.alert_tests.runner import CaseRun
from observability.alert_tests.spec import TestCase
from observability.alert_tests.verdict import judge


def test_opens_within_zero_is_said_in_the_failure() -> None:
    case = TestCase.model_validate(
        {
            "name": "t",
            "run_for": "5m",
            "expect": {"incidents": [{"policy": "P", "opens_within": "0s"}]},
        }
    )
    verdict = judge(CaseRun(case, 0))
    assert verdict.failures == ["expected an incident of 'P' to open by 0s; none opened"]
