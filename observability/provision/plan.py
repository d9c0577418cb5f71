"""Plan: the desired resources against the live ones, as create / update / delete /
unchanged, each with a field-level diff.

Identity: a log metric is its name; a channel, a policy and a dashboard are their
``composer-obs-key`` label. Ownership: only resources marked ``managed-by:
composer-observability`` (a label, or the metric description's last line) are ever updated
or deleted. A metric of the same name that is not ours is a *conflict*, left alone.

Comparison: proto resources are compared in their canonical JSON (the desired body is
round-tripped through the proto, so ``10`` and ``10.0`` or ``"300s"`` spellings agree), on
the fields the definition sets (server-filled fields such as condition names and mutation
records are not drift), except maps (labels, label extractors), which must match whole.
Dashboards are compared whole, as raw JSON, minus ``name`` and ``etag``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf import json_format

from observability.provision.api import Api, metric_path
from observability.provision.spec import (
    KEY_LABEL,
    KINDS,
    MANAGED_LABEL,
    MANAGED_VALUE,
    Kind,
    Resource,
    Spec,
    is_managed_metric,
)

Action = Literal["create", "update", "delete", "unchanged", "orphan", "conflict"]
MAP_FIELDS = frozenset({"userLabels", "labels", "labelExtractors"})
SECRET_LABELS = frozenset({"password", "auth_token", "service_key"})
PENDING = "projects/-/notificationChannels/(known after apply: {key})"


@dataclass
class FieldDiff:
    path: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass
class Change:
    kind: Kind
    key: str
    action: Action
    name: str | None = None
    diffs: list[FieldDiff] = field(default_factory=list)
    desired: Resource | None = None
    live: dict[str, Any] | None = None
    note: str = ""

    @property
    def writes(self) -> bool:
        return self.action in ("create", "update", "delete")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "key": self.key,
            "action": self.action,
            "name": self.name,
        }
        if self.diffs:
            out["diffs"] = [d.as_dict() for d in self.diffs]
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Plan:
    project: str
    changes: list[Change] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out = {a: 0 for a in ("create", "update", "delete", "unchanged", "orphan", "conflict")}
        for change in self.changes:
            out[change.action] += 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(c.writes for c in self.changes)

    @property
    def drifted(self) -> bool:
        """Live state differs from the files: anything to write, or managed leftovers."""
        return any(c.action in ("create", "update", "delete", "orphan") for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "counts": self.counts(),
            "changes": [c.as_dict() for c in self.changes],
        }


def canonical(kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as the API would echo it: round-tripped through the proto (not dashboards)."""
    if kind == "dashboard":
        return json.loads(json.dumps(body))
    if kind == "metric":
        from google.cloud.logging_v2.types import LogMetric as T
    elif kind == "channel":
        from google.cloud.monitoring_v3.types import NotificationChannel as T
    else:
        from google.cloud.monitoring_v3.types import AlertPolicy as T
    return dict(json_format.MessageToDict(json_format.ParseDict(dict(body), T.pb()())))


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def diff(desired: Any, live: Any, path: str = "", subset: bool = True) -> list[FieldDiff]:
    """Differences of ``live`` from ``desired``; with ``subset``, fields ``desired`` leaves
    out are not compared (except in maps)."""
    if isinstance(desired, dict) and isinstance(live, dict):
        out: list[FieldDiff] = []
        whole = not subset or path.rsplit(".", 1)[-1] in MAP_FIELDS
        keys = list(desired) + [k for k in live if k not in desired] if whole else list(desired)
        for key in keys:
            sub = _join(path, key)
            if key not in live:
                out.append(FieldDiff(sub, None, desired[key]))
            elif key not in desired:
                out.append(FieldDiff(sub, live[key], None))
            else:
                out.extend(diff(desired[key], live[key], sub, subset))
        return out
    if isinstance(desired, list) and isinstance(live, list):
        if len(desired) != len(live):
            return [FieldDiff(path, live, desired)]
        out = []
        for i, (d, v) in enumerate(zip(desired, live, strict=True)):
            out.extend(diff(d, v, _join(path, i), subset))
        return out
    if desired == live:
        return []
    if (
        isinstance(desired, (int, float))
        and isinstance(live, (int, float))
        and not isinstance(desired, bool)
    ) and float(desired) == float(live):
        return []
    return [FieldDiff(path, live, desired)]


def managed(kind: Kind, live: Mapping[str, Any]) -> bool:
    if kind == "metric":
        return is_managed_metric(dict(live))
    labels = live.get("labels" if kind == "dashboard" else "userLabels") or {}
    return bool(labels.get(MANAGED_LABEL) == MANAGED_VALUE)


def live_key(kind: Kind, live: Mapping[str, Any]) -> str | None:
    if kind == "metric":
        return str(live.get("name", "")) or None
    labels = live.get("labels" if kind == "dashboard" else "userLabels") or {}
    key = labels.get(KEY_LABEL)
    return str(key) if key else None


def live_name(kind: Kind, project: str, live: Mapping[str, Any]) -> str:
    if kind == "metric":
        return metric_path(project, str(live["name"]))
    return str(live["name"])


def resolve_channels(body: dict[str, Any], channel_names: Mapping[str, str]) -> dict[str, Any]:
    """A policy body with channel keys replaced by channel resource names."""
    refs = body.get("notificationChannels")
    if not refs:
        return body
    resolved = [
        ref
        if str(ref).startswith("projects/")
        else channel_names.get(str(ref), PENDING.format(key=ref))
        for ref in refs
    ]
    return {**body, "notificationChannels": resolved}


def _comparable_live(kind: Kind, live: Mapping[str, Any], desired: Mapping[str, Any]) -> Any:
    out = dict(live)
    if kind == "dashboard":
        out.pop("name", None)
        out.pop("etag", None)
    if kind == "channel":
        labels = dict(out.get("labels") or {})
        wanted = desired.get("labels") or {}
        for key in SECRET_LABELS & labels.keys():
            if "*" in str(labels[key]) and key in wanted:
                labels[key] = wanted[key]  # obfuscated on read: not comparable, not drift
        out["labels"] = labels
    return out


def desired_body(resource: Resource, channel_names: Mapping[str, str]) -> dict[str, Any]:
    body = resource.body
    if resource.kind == "policy":
        body = resolve_channels(body, channel_names)
    return canonical(resource.kind, body)


def compare(
    resource: Resource, live: Mapping[str, Any], channel_names: Mapping[str, str]
) -> list[FieldDiff]:
    body = desired_body(resource, channel_names)
    return diff(
        body,
        _comparable_live(resource.kind, live, body),
        subset=resource.kind != "dashboard",
    )


@dataclass
class LiveState:
    project: str
    by_kind: dict[Kind, list[dict[str, Any]]]

    def managed_by_key(self, kind: Kind) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for item in self.by_kind[kind]:
            if managed(kind, item):
                key = live_key(kind, item)
                if key:
                    out.setdefault(key, []).append(item)
        return out

    def channel_names(self) -> dict[str, str]:
        return {key: items[0]["name"] for key, items in self.managed_by_key("channel").items()}


def read_live(api: Api, kinds: tuple[Kind, ...] = KINDS) -> LiveState:
    return LiveState(api.project, {kind: api.list(kind) for kind in kinds})


def make_plan(spec: Spec, live: LiveState, prune: bool = False) -> Plan:
    """What apply would do to bring ``live`` to ``spec``."""
    plan = Plan(live.project)
    channel_names = live.channel_names()
    for kind in KINDS:
        owned = live.managed_by_key(kind)
        everything = {live_key(kind, item): item for item in live.by_kind[kind]}
        wanted = {r.key for r in spec.of(kind)}
        for resource in spec.of(kind):
            matches = owned.get(resource.key, [])
            former = None
            if not matches and kind != "metric":
                former = _former_spelling(resource.key, owned, wanted)
            if former is not None:
                matches = owned.pop(former)
                if kind == "channel":
                    channel_names[resource.key] = matches[0]["name"]
            if not matches:
                other = everything.get(resource.key) if kind == "metric" else None
                if other is not None:
                    plan.changes.append(
                        Change(
                            kind,
                            resource.key,
                            "conflict",
                            live_name(kind, live.project, other),
                            desired=resource,
                            live=other,
                            note="exists without the managed-by mark: left alone",
                        )
                    )
                    continue
                body = desired_body(resource, channel_names)
                plan.changes.append(
                    Change(
                        kind,
                        resource.key,
                        "create",
                        diffs=[FieldDiff(resource.key, None, body)],
                        desired=resource,
                    )
                )
                continue
            current = matches[0]
            diffs = compare(resource, current, channel_names)
            plan.changes.append(
                Change(
                    kind,
                    resource.key,
                    "update" if diffs else "unchanged",
                    live_name(kind, live.project, current),
                    diffs,
                    resource,
                    current,
                    note=""
                    if former is None
                    else f"renamed from {former}: the same {kind}, updated in place (its id "
                    "and history are kept)",
                )
            )
            for extra in matches[1:]:
                plan.changes.append(_leftover(kind, resource.key, live, extra, prune, "duplicate"))
        for key, items in sorted(owned.items()):
            if key in wanted:
                continue
            for item in items:
                plan.changes.append(_leftover(kind, key, live, item, prune, "not in the files"))
    return plan


def _former_spelling(key: str, owned: Mapping[str, Any], wanted: set[str]) -> str | None:
    """The key a managed live resource carries for ``key`` under its other spelling (dashes
    for underscores or back), if no definition claims that spelling for itself.

    The default policies' keys were once spelled with dashes in some files
    (``composer-environment-unhealthy``) and underscores in others (``dag_run_failed``); they
    are all underscores now, as metric names, file names and Terraform names are. A policy's,
    channel's or dashboard's key is only a label on it, so the one already created is
    relabelled in place rather than created again beside the old one (which would page twice)
    or deleted (which would lose its incidents)."""
    spelling = key.replace("-", "_")
    for other in owned:
        if other not in wanted and other.replace("-", "_") == spelling:
            return str(other)
    return None


def _leftover(
    kind: Kind, key: str, live: LiveState, item: dict[str, Any], prune: bool, why: str
) -> Change:
    return Change(
        kind,
        key,
        "delete" if prune else "orphan",
        live_name(kind, live.project, item),
        live=item,
        note=why if prune else f"{why}; kept (--prune deletes it)",
    )


def plan_from_api(spec: Spec, api: Api, prune: bool = False) -> Plan:
    started = time.perf_counter()
    plan = make_plan(spec, read_live(api), prune)
    plan.seconds = time.perf_counter() - started
    return plan
