"""What a test expected against what happened, as sentences a person can act on.

Incidents are matched one to one: each expectation takes the earliest incident of its policy
whose labels include the expected ones, and every incident left over is a failure ("unexpected
incident"), so a policy that fires when it should not is caught. Notifications are looked for
among everything sent (repeats and other receivers are allowed); ``no_notifications`` names
receivers that must stay silent. A notification a stand-in refused (a body Slack or PagerDuty
would reject) is always a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from observability.alert_tests.runner import CaseRun, ObservedIncident, Sent
from observability.alert_tests.spec import IncidentExpectation, NotificationExpectation
from observability.router.duration import format_duration

_SHOWN = 6
"""At most this many candidates are listed after "got:"."""


@dataclass
class Verdict:
    run: CaseRun
    checks: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def skipped(self) -> bool:
        return self.run.case.skip is not None


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}" if labels else ""


def _when(seconds: float) -> str:
    return format_duration(seconds) if seconds > 0 else "0s"


def _incident_name(policy: str, labels: dict[str, str]) -> str:
    shown = _labels(labels)
    return f"'{policy}'" + (f" {shown}" if shown else "")


def _closing(incident: ObservedIncident, end: float) -> str:
    if incident.closed is None:
        return f"it was still open at the end ({_when(end)})"
    return f"it closed at {_when(incident.closed)} ({incident.close_reason})"


def _check_incident(
    expected: IncidentExpectation, found: ObservedIncident, end: float
) -> list[str]:
    name = f"the incident of {_incident_name(expected.policy, expected.labels)}"
    problems = []
    if expected.opens_within is not None and found.opened > expected.opens_within:
        problems.append(
            f"expected {name} to open by {_when(expected.opens_within)}; "
            f"it opened at {_when(found.opened)}"
        )
    if expected.opens_after is not None and found.opened < expected.opens_after:
        problems.append(
            f"expected {name} not to open before {_when(expected.opens_after)}; "
            f"it opened at {_when(found.opened)}"
        )
    if expected.closes_within is not None and (
        found.closed is None or found.closed > expected.closes_within
    ):
        problems.append(
            f"expected {name} to close by {_when(expected.closes_within)}; {_closing(found, end)}"
        )
    if expected.stays_open and found.closed is not None:
        problems.append(f"expected {name} to stay open; {_closing(found, end)}")
    return problems


def _describe_incident(incident: ObservedIncident) -> str:
    text = f"{_incident_name(incident.policy, incident.labels)} opened at {_when(incident.opened)}"
    if incident.closed is not None:
        text += f", closed at {_when(incident.closed)} ({incident.close_reason})"
    return text


def _judge_incidents(verdict: Verdict, end: float) -> None:
    left = list(verdict.run.incidents)
    for expected in verdict.run.case.expect.incidents:
        verdict.checks += 1
        match = next(
            (
                i
                for i in left
                if i.policy == expected.policy
                and all(i.labels.get(k) == v for k, v in expected.labels.items())
            ),
            None,
        )
        if match is None:
            others = [i for i in verdict.run.incidents if i.policy == expected.policy]
            by = f" by {_when(expected.opens_within)}" if expected.opens_within is not None else ""
            message = (
                f"expected an incident of {_incident_name(expected.policy, expected.labels)} "
                f"to open{by}; none opened"
            )
            if others:
                message += "; got: " + "; ".join(_describe_incident(i) for i in others[:_SHOWN])
            verdict.failures.append(message)
            continue
        left.remove(match)
        verdict.failures += _check_incident(expected, match, end)
    verdict.checks += 1
    verdict.failures += [f"unexpected incident of {_describe_incident(i)}" for i in left]


def _describe_sent(sent: Sent) -> str:
    delivery = sent.delivery
    first_line = delivery.received.headline
    text = (
        f"{delivery.kind} '{delivery.receiver}' {delivery.notice.status}"
        f" severity={delivery.severity or '-'} at {_when(sent.at)}"
    )
    if first_line:
        text += f': "{first_line[:120]}"'
    cause = delivery.cause_text.strip().splitlines()
    if cause:
        text += f' cause: "{cause[0][:120]}"'
    if delivery.error:
        text += f" (refused: {delivery.error})"
    return text


def _matches(expected: NotificationExpectation, sent: Sent) -> bool:
    delivery = sent.delivery
    text = delivery.received.text
    return (
        delivery.error is None
        and delivery.receiver == expected.receiver
        and (expected.kind is None or delivery.kind == expected.kind)
        and delivery.notice.status == expected.status
        and (expected.severity is None or delivery.severity == expected.severity.lower())
        and all(delivery.notice.group_labels.get(k) == v for k, v in expected.group.items())
        and all(part in text for part in expected.text_contains)
        and all(part in delivery.cause_text for part in expected.cause_contains)
        and (expected.within is None or sent.at <= expected.within)
    )


def _expected_text(expected: NotificationExpectation) -> str:
    parts = [f"{expected.kind or 'a notification'} '{expected.receiver}' {expected.status}"]
    if expected.severity:
        parts.append(f"severity={expected.severity}")
    if expected.group:
        parts.append(f"group {_labels(expected.group)}")
    parts += [f"containing '{text}'" for text in expected.text_contains]
    parts += [f"with a cause containing '{text}'" for text in expected.cause_contains]
    if expected.within is not None:
        parts.append(f"by {_when(expected.within)}")
    return " ".join(parts)


def _judge_notifications(verdict: Verdict) -> None:
    sent = verdict.run.sent
    expect = verdict.run.case.expect
    for expected in expect.notifications:
        verdict.checks += 1
        if any(_matches(expected, s) for s in sent):
            continue
        same = [s for s in sent if s.delivery.receiver == expected.receiver]
        shown = same or sent
        got = "; ".join(_describe_sent(s) for s in shown[:_SHOWN]) or "nothing was sent"
        if not same and sent:
            got = f"nothing to '{expected.receiver}'; sent: {got}"
        more = f" (and {len(shown) - _SHOWN} more)" if len(shown) > _SHOWN else ""
        verdict.failures.append(f"expected {_expected_text(expected)}; got: {got}{more}")
    for receiver in expect.no_notifications:
        verdict.checks += 1
        told = [s for s in sent if s.delivery.receiver == receiver]
        if told:
            verdict.failures.append(
                f"expected nothing sent to '{receiver}'; got: "
                + "; ".join(_describe_sent(s) for s in told[:_SHOWN])
            )
    verdict.failures += [
        f"a stand-in refused {_describe_sent(s)}" for s in sent if s.delivery.error is not None
    ]


def judge(run: CaseRun) -> Verdict:
    """Compare ``run`` with its test's expectations."""
    verdict = Verdict(run)
    if run.case.skip:
        verdict.notes = [f"skipped: {run.case.skip}"]
        return verdict
    _judge_incidents(verdict, run.case.run_for)
    _judge_notifications(verdict)
    # a policy the emulator cannot evaluate matters to the tests that name it, and to the
    # tests expecting silence, which it would pass without proving anything
    named = {e.policy for e in run.case.expect.incidents}
    verdict.notes = [
        f"not evaluated by the emulator: {policy}: {reason}"
        for policy, reason in run.not_evaluated
        if policy in named or not named
    ]
    return verdict
