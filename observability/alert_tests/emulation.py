"""The emulator under test: definitions provisioned, entries written, policies evaluated on a
virtual clock, and the incident notifications it sends caught for the router.

Each test gets a project of its own in one emulator per file, so tests never see each other's
metrics, policies or incidents. The definitions go in through ``composer-obs provision``'s
own plan and apply, over gRPC; entries through the Logging REST API; so what is tested is what
would be deployed and written. The policies' ``router`` channel points at ``IncidentInbox``, a
stand-in for the router's webhook endpoint that parses payloads with the router's own model.

Timing: entries are written with the clock at their own time, then the clock is set to the
step's time, the evaluator ticked and its notifier drained; an entry counts for a minute that
ends after it, so no evaluation (not even the emulator's background ticks) can miss it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from observability.alert_tests.spec import TestCase, TestFile
from observability.alert_tests.timeline import Write
from observability.emulator.alerting.incidents import Incident
from observability.emulator.server import EmulatorServer
from observability.provision.api import Api
from observability.provision.apply import apply_plan
from observability.provision.plan import plan_from_api
from observability.provision.source import DefinitionError, Variables
from observability.provision.spec import Resource, Spec, load_channels, load_metrics, load_policies
from observability.router.incident import WebhookPayload
from observability.standins import Invalid, StandIn

ROUTER_TOKEN = "alert-tests"
_PAST_THE_STEP = timedelta(milliseconds=500)
"""The clock stands just after each step's time, so the minute grid it falls on is exact."""


class IncidentInbox(StandIn):
    """The router's ``/v1/webhooks/cloud-monitoring``: checks the token and the payload."""

    def path(self) -> str:
        return "/v1/webhooks/cloud-monitoring"

    def validate(self, path: str, query: dict[str, list[str]], body: Any) -> None:
        if path != self.path():
            raise Invalid(404, {"detail": "not found"})
        if query.get("auth_token") != [ROUTER_TOKEN]:
            raise Invalid(401, {"detail": "bad token"})
        try:
            WebhookPayload.model_validate(body)
        except ValidationError as exc:
            raise Invalid(422, {"detail": str(exc)}) from None

    def accept(self, body: Any) -> tuple[int, Any]:
        return 200, {"status": "stored"}


def _wanted(paths: list[Path], load: Callable[[Path], list[Resource]]) -> list[Resource]:
    """Resources of files or directories: a file's come from loading its directory."""
    out: dict[str, Resource] = {}
    for path in paths:
        directory = path if path.is_dir() else path.parent
        for resource in load(directory):
            if path.is_dir() or resource.source.file.resolve() == path.resolve():
                out.setdefault(resource.key, resource)
    return list(out.values())


def definitions(
    test_file: TestFile, project: str, router_url: str, case: TestCase | None = None
) -> Spec:
    """The log metrics, channels and policies of ``test_file`` for ``project`` (with the
    variables of ``case`` over the file's)."""
    variables = Variables(
        explicit={**test_file.model.variables, **(case.variables if case else {})},
        fallbacks={
            "PROJECT": project,
            "ROUTER_WEBHOOK_URL": router_url,
            "ROUTER_TOKEN": ROUTER_TOKEN,
            "ENVIRONMENT_NAME": test_file.model.environment.name,
        },
        environ={},
    )
    spec = Spec()
    spec.metrics = _wanted(test_file.log_metrics, lambda d: load_metrics(d, variables))
    spec.channels = load_channels(test_file.channels, variables, spec.notes)
    keys = {c.key for c in spec.channels}
    spec.policies = _wanted(test_file.policies, lambda d: load_policies(d, variables, keys, set()))
    if not spec.policies:
        raise test_file.error(("policies",), "no alert policy in these files")
    return spec


class Emulation:
    """One emulator (a context manager) and its incident inbox."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmulatorServer(data_dir)
        self.inbox = IncidentInbox(name="router-inbox")
        self._http: httpx.Client | None = None
        self._taken = 0
        self._stack = ExitStack()

    def __enter__(self) -> Emulation:
        # each part is stopped if a later one fails to start (then __exit__ is never called)
        with ExitStack() as stack:
            self.inbox.start()
            stack.callback(self.inbox.stop)
            self.server.start()  # a server that fails to start stops itself
            stack.callback(self.server.stop)
            self._http = stack.enter_context(
                httpx.Client(base_url=self.server.http_url, timeout=30)
            )
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def provision(self, spec: Spec, project: str) -> None:
        """Apply ``spec`` to ``project``, as ``composer-obs provision apply`` does."""
        api = Api(project, self.server.endpoint)
        try:
            result = apply_plan(plan_from_api(spec, api), api)
        finally:
            api.close()
        if not result.ok:
            change, message = result.failed[0]
            resource = change.desired
            where = resource.where if resource is not None else change.key
            raise DefinitionError(where, None, change.key, f"the emulator refused it: {message}")

    def write_at(self, when: datetime, project: str, batch: list[Write]) -> None:
        """Write what is due at ``when``, with the clock there (log-match policies judge
        entries as they arrive). Safe from the emulator's background evaluation: an entry
        counts for a minute that ends after ``when``, which no evaluation has seen yet."""
        assert self._http is not None
        self.server.clock.set(when)
        entries = [w.entry for w in batch if w.entry is not None]
        if entries:
            response = self._http.post("/v2/entries:write", json={"entries": entries})
            if response.status_code != 200:
                raise ValueError(f"Cloud Logging refused the entries: {response.text[:500]}")
        for write in batch:
            if write.series is not None:
                self._seed(project, write.series)

    def _seed(self, project: str, series: dict[str, Any]) -> None:
        """Write one point of a Google metric through the emulator's seed endpoint."""
        assert self._http is not None
        response = self._http.post(
            f"/v1/emulator/projects/{project}/timeSeries:seed", json={"timeSeries": [series]}
        )
        if response.status_code == 404:
            raise ValueError("this emulator cannot seed time series (metric_point:)")
        if response.status_code != 200:
            raise ValueError(f"the emulator refused the metric point: {response.text[:500]}")

    def evaluate_at(self, when: datetime) -> None:
        """Set the clock to ``when``, evaluate the policies, deliver their notifications."""
        alerting = self.server.alerting
        assert alerting is not None
        self.server.clock.set(when + _PAST_THE_STEP)
        alerting.tick()
        if alerting.notifier is not None and not alerting.notifier.idle(timeout=30):
            raise RuntimeError("the emulator's notifications were not delivered in 30 s")

    def incidents(self, project: str) -> list[Incident]:
        alerting = self.server.alerting
        assert alerting is not None
        return sorted(alerting.incidents.list_incidents(project), key=lambda i: i.started_at)

    def not_evaluated(self, project: str) -> dict[str, list[dict[str, str]]]:
        """Policy display name -> the conditions the emulator could not evaluate, and why."""
        alerting = self.server.alerting
        assert alerting is not None
        names = {
            p.name: str(p.body.get("displayName", p.name)) for p in alerting.policies.all_policies()
        }
        prefix = f"projects/{project}/"
        return {
            names.get(k, k): v for k, v in alerting.not_evaluated.items() if k.startswith(prefix)
        }

    def take_payloads(self, project: str) -> list[dict[str, Any]]:
        """The incident payloads the inbox received since the last call, of ``project``."""
        bodies = self.inbox.bodies()
        fresh, self._taken = bodies[self._taken :], len(bodies)
        return [b for b in fresh if b["incident"].get("scoping_project_id") == project]
