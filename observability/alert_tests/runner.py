"""Running one test file: one emulator, and for each test a project, a router and a timeline.

``prepare`` checks everything that can be checked without running (the file, the definitions
it names, the router configuration, the policies and receivers its expectations name), so a
broken file is an error (exit 2) rather than a failed test. ``run`` then plays each test on
virtual time: every ``step`` seconds the entries due are written, the emulator's clock is set
and its policies evaluated, the incident notifications it sent are handed to the router, whose
clock moves with it, and whatever the router flushes is delivered to the stand-ins. Tests of a
file run a week apart, so each starts on the same weekday and time of day (time intervals in
the routing see the same hour).
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from observability.alert_tests.capture import StandIns
from observability.alert_tests.emulation import Emulation, definitions
from observability.alert_tests.routing import Delivery, RouterUnderTest
from observability.alert_tests.spec import TestCase, TestFile, load_test_file
from observability.alert_tests.timeline import writes
from observability.emulator.alerting.incidents import Incident
from observability.provision.source import Path_
from observability.router.config import RouterConfig, load_config, parse_config

WEEK = timedelta(days=7)
_PLACEHOLDER_URL = "http://127.0.0.1:9/v1/webhooks/cloud-monitoring"


@dataclass(frozen=True)
class ObservedIncident:
    """An incident the emulator opened, with times in seconds after the test's start."""

    policy: str
    labels: dict[str, str]
    opened: float
    closed: float | None
    close_reason: str | None


@dataclass(frozen=True)
class Sent:
    """A notification a receiver sent, ``at`` seconds after the test's start."""

    at: float
    delivery: Delivery


@dataclass
class CaseRun:
    """What happened in one test."""

    case: TestCase
    index: int
    incidents: list[ObservedIncident] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    not_evaluated: list[tuple[str, str]] = field(default_factory=list)
    """(policy display name, why) of conditions the emulator could not evaluate."""


@dataclass
class Prepared:
    """A checked test file, ready to run."""

    file: TestFile
    router: RouterConfig | None
    policy_names: set[str]


def _project(index: int) -> str:
    return f"alert-test-{index + 1}"


def prepare(path: Path) -> Prepared:
    """Load and check ``path``; DefinitionError or ConfigError (both name file and line)."""
    test_file = load_test_file(path)
    spec = definitions(test_file, _project(0), _PLACEHOLDER_URL)
    names = {str(p.body.get("displayName", p.key)) for p in spec.policies}
    router = load_config(test_file.router) if test_file.router else None
    for t, case in enumerate(test_file.model.tests):
        if case.variables:
            definitions(test_file, _project(t), _PLACEHOLDER_URL, case)
        for e, incident in enumerate(case.expect.incidents):
            if incident.policy not in names:
                raise test_file.error(
                    ("tests", t, "expect", "incidents", e, "policy"),
                    f"no policy {incident.policy!r} under test (there are: "
                    + ", ".join(repr(n) for n in sorted(names))
                    + ")",
                )
        receivers = set(router.receivers) if router else set()
        expect = case.expect
        told: list[tuple[Path_, str]] = [
            (("notifications", n, "receiver"), x.receiver)
            for n, x in enumerate(expect.notifications)
        ]
        told += [(("no_notifications", n), name) for n, name in enumerate(expect.no_notifications)]
        for key, name in told:
            if name not in receivers:
                raise test_file.error(
                    ("tests", t, "expect", *key),
                    f"no receiver {name!r} in {test_file.router} (there are: "
                    + ", ".join(sorted(receivers))
                    + ")",
                )
    return Prepared(test_file, router, names)


def _rewired(prepared: Prepared, standins: StandIns) -> RouterConfig:
    """The file's router configuration, its integrations sending to the stand-ins."""
    path = prepared.file.router
    assert path is not None
    data = standins.rewire(yaml.safe_load(path.read_text(encoding="utf-8")))
    return parse_config(yaml.safe_dump(data, sort_keys=False), str(path), path.parent)


def _observed(incident: Incident, start: float) -> ObservedIncident:
    detail = incident.detail
    labels = {
        **(detail.get("resource") or {}).get("labels", {}),
        **(detail.get("metric") or {}).get("labels", {}),
        **(detail.get("extracted_labels") or {}),
    }
    return ObservedIncident(
        str((detail.get("policy") or {}).get("displayName", incident.policy_id)),
        {str(k): str(v) for k, v in labels.items()},
        incident.started_at - start,
        None if incident.ended_at is None else incident.ended_at - start,
        incident.close_reason,
    )


class FileRun:
    """Runs the tests of one prepared file in one emulator (and one set of stand-ins)."""

    def __init__(self, prepared: Prepared, workdir: Path) -> None:
        self.prepared = prepared
        self.workdir = workdir

    def run(self) -> list[CaseRun]:
        runs: list[CaseRun] = []
        with ExitStack() as stack:
            emulation = stack.enter_context(Emulation(self.workdir / "emulator"))
            standins = stack.enter_context(StandIns()) if self.prepared.router else None
            router = _rewired(self.prepared, standins) if standins else None
            for index, case in enumerate(self.prepared.file.model.tests):
                run = (
                    CaseRun(case, index)
                    if case.skip
                    else self._case(emulation, standins, router, index, case)
                )
                runs.append(run)
        return runs

    def _case(
        self,
        emulation: Emulation,
        standins: StandIns | None,
        config: RouterConfig | None,
        index: int,
        case: TestCase,
    ) -> CaseRun:
        model = self.prepared.file.model
        project = _project(index)
        start = model.start + index * WEEK
        step = model.step
        # the clock first, so the metrics exist from before the first entry
        emulation.evaluate_at(start - timedelta(seconds=step))
        spec = definitions(self.prepared.file, project, emulation.inbox.url, case)
        emulation.provision(spec, project)
        emulation.take_payloads(project)
        directory = self.workdir / project
        directory.mkdir(parents=True, exist_ok=True)
        router = (
            RouterUnderTest(
                config, directory, start.timestamp(), standins, emulation.server.endpoint
            )
            if config is not None and standins is not None
            else None
        )
        run = CaseRun(case, index)
        due = writes(case, project, model.environment, start)
        try:
            t = 0.0
            while t <= case.run_for:
                while due and due[0].offset <= t:
                    first = due[0]
                    batch = [w for w in due if (w.offset, w.item) == (first.offset, first.item)]
                    due = due[len(batch) :]
                    try:
                        emulation.write_at(start + timedelta(seconds=first.offset), project, batch)
                    except ValueError as exc:
                        where = ("tests", index, "timeline", first.item)
                        raise self.prepared.file.error(where, str(exc)) from None
                now = start + timedelta(seconds=t)
                emulation.evaluate_at(now)
                if router is not None:
                    router.advance_to(now.timestamp())
                    for payload in emulation.take_payloads(project):
                        router.receive(payload)
                    run.sent += [Sent(t, d) for d in router.flush()]
                t += step
        finally:
            if router is not None:
                router.close()
        run.incidents = [_observed(i, start.timestamp()) for i in emulation.incidents(project)]
        run.not_evaluated = [
            (name, item["reason"])
            for name, items in emulation.not_evaluated(project).items()
            for item in items
        ]
        return run


def run_prepared(prepared: Prepared) -> list[CaseRun]:
    """Run a prepared file in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="alert-tests-") as workdir:
        return FileRun(prepared, Path(workdir)).run()
