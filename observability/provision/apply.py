"""Apply a plan: metrics, then channels, then policies (channel keys resolved to the names
the channels got), then dashboards; deletions last, in the reverse order. Only the changes
that write are executed, so applying an up-to-date plan makes no writing call. A failure is
recorded and the rest goes on: the next run picks up where this one stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc

from observability.provision.api import Api, ProvisionError
from observability.provision.plan import (
    Change,
    LiveState,
    Plan,
    canonical,
    live_key,
    live_name,
    managed,
    resolve_channels,
)
from observability.provision.spec import KINDS, Kind


@dataclass
class ApplyResult:
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": [c.as_dict() for c in self.done],
            "failed": [{**c.as_dict(), "error": e} for c, e in self.failed],
        }


def _with_condition_names(body: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """Keep each live condition's name on the desired condition of the same display name, so
    that the update changes conditions in place instead of replacing them."""
    if not live:
        return body
    names: dict[str, list[str]] = {}
    for condition in live.get("conditions", []):
        if condition.get("name"):
            names.setdefault(condition.get("displayName", ""), []).append(condition["name"])
    conditions = []
    for condition in body.get("conditions", []):
        pool = names.get(condition.get("displayName", ""), [])
        conditions.append({**condition, "name": pool.pop(0)} if pool else condition)
    return {**body, "conditions": conditions}


def _body(change: Change, channel_names: dict[str, str]) -> dict[str, Any]:
    assert change.desired is not None
    body = change.desired.body
    if change.kind == "policy":
        body = resolve_channels(body, channel_names)
        if any("known after apply" in str(n) for n in body.get("notificationChannels", [])):
            raise ProvisionError(
                f"policy {change.key}: a notification channel it names was not created"
            )
        body = canonical("policy", body)
        if change.action == "update":
            body = _with_condition_names(body, change.live)
    return body


def _execute(api: Api, change: Change, channel_names: dict[str, str]) -> None:
    if change.action == "delete":
        assert change.name is not None and change.live is not None
        if not managed(change.kind, change.live):  # the one rule that is never broken
            raise ProvisionError(f"{change.kind} {change.key} is not managed: not deleted")
        api.delete(change.kind, change.name)
        return
    body = _body(change, channel_names)
    if change.action == "create":
        result = api.create(change.kind, body)
    else:
        assert change.name is not None and change.live is not None
        if not managed(change.kind, change.live):
            raise ProvisionError(f"{change.kind} {change.key} is not managed: not updated")
        result = api.update(change.kind, change.name, body, str(change.live.get("etag", "")))
    if change.kind == "channel":
        channel_names[change.key] = str(result["name"])
    change.name = change.name or str(result.get("name", ""))


def apply_plan(
    plan: Plan,
    api: Api,
    on_step: Callable[[Change], None] | None = None,
) -> ApplyResult:
    """Execute the plan's writing changes in dependency order."""
    result = ApplyResult()
    channel_names = {
        c.key: c.name for c in plan.changes if c.kind == "channel" and c.name and c.live
    }
    writes = [c for c in plan.changes if c.action in ("create", "update")]
    deletes = [c for c in plan.changes if c.action == "delete"]
    rank = {kind: i for i, kind in enumerate(KINDS)}
    ordered = sorted(writes, key=lambda c: rank[c.kind]) + sorted(
        deletes, key=lambda c: -rank[c.kind]
    )
    for change in ordered:
        try:
            _execute(api, change, channel_names)
        except (ProvisionError, gexc.GoogleAPICallError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            result.failed.append((change, str(message)))
        else:
            result.done.append(change)
        if on_step is not None:
            on_step(change)
    return result


def destroy_plan(live: LiveState, kinds: tuple[Kind, ...] = KINDS) -> Plan:
    """Delete every managed resource (and nothing else) of ``kinds``."""
    plan = Plan(live.project)
    for kind in kinds:
        for item in live.by_kind.get(kind, []):
            if managed(kind, item):
                plan.changes.append(
                    Change(
                        kind,
                        live_key(kind, item) or "",
                        "delete",
                        live_name(kind, live.project, item),
                        live=item,
                    )
                )
    return plan
