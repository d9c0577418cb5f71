"""The definitions: log metrics, notification channels, alert policies and dashboards, read
from files into the API's own JSON (camelCase) with the managed-by marks added.

Layout under a root directory (the repository's by default)::

    log_metrics/*.yaml            one LogMetric, or a list of them
    notification_channels.yaml    channels: {KEY: NotificationChannel}
    alert_policies/*.yaml         one AlertPolicy (``key`` optional, default the file name),
                                  or a list; notificationChannels name channel KEYs
    dashboards/**/*.json          one Dashboard each, the API's raw JSON

Ownership marks: policies and channels get the user labels ``managed-by:
composer-observability`` and ``composer-obs-key: KEY``, dashboards the same ``labels``. A
LogMetric has no labels: its description ends with the line ``managed-by:
composer-observability``, and its name is its key.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from observability.provision.source import (
    DefinitionError,
    Located,
    Path_,
    Variables,
    read_file,
    resolve,
)

MANAGED_LABEL = "managed-by"
MANAGED_VALUE = "composer-observability"
KEY_LABEL = "composer-obs-key"
METRIC_MARKER = f"{MANAGED_LABEL}: {MANAGED_VALUE}"
USER_METRIC_PREFIX = "logging.googleapis.com/user/"
OUR_METRIC_PREFIX = "composer_obs/"

Kind = Literal["metric", "channel", "policy", "dashboard"]
KINDS: tuple[Kind, ...] = ("metric", "channel", "policy", "dashboard")
"""Apply order: a policy names metrics and channels, a dashboard names metrics."""

_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")


@dataclass
class Resource:
    """One desired resource: its kind, our key for it, and its body as the API's JSON."""

    kind: Kind
    key: str
    body: dict[str, Any]
    source: Located
    """The file part it came from (paths in it are relative to the body)."""

    @property
    def where(self) -> str:
        line = self.source.line(())
        return f"{self.source.file}:{line}" if line else str(self.source.file)


@dataclass
class Spec:
    metrics: list[Resource] = field(default_factory=list)
    channels: list[Resource] = field(default_factory=list)
    policies: list[Resource] = field(default_factory=list)
    dashboards: list[Resource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Resource]:
        return {
            "metric": self.metrics,
            "channel": self.channels,
            "policy": self.policies,
            "dashboard": self.dashboards,
        }[kind]

    def all(self) -> list[Resource]:
        return [r for kind in KINDS for r in self.of(kind)]

    def __len__(self) -> int:
        return len(self.all())


def sanitize_key(text: str) -> str:
    """A label-safe key from a path: lower case, ``[a-z0-9_]``, at most 63 characters.

    Keys are spelled as metric names, event types and file names are, with underscores (a
    log-based metric's name is its id and cannot change, so the rest follows it); Terraform
    names, made from keys, are then in Terraform's own style. A key written in a file may
    still have dashes. Keys once derived with dashes are relabelled in place by the plan
    (``observability.provision.plan``)."""
    key = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"
    if not key[0].isalpha():
        key = "d_" + key
    if len(key) > 63:
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        key = key[:54].rstrip("_") + "_" + digest
    return key


def _items(located: Located) -> list[tuple[Path_, Located]]:
    """A file holds one mapping or a list of mappings."""
    data = located.data
    if isinstance(data, dict):
        return [((), located)]
    if isinstance(data, list):
        out: list[tuple[Path_, Located]] = []
        parts = located.split()
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise located.error((i,), "each item must be a mapping")
            out.append(((i,), parts[i]))
        return out
    if data is None:
        raise DefinitionError(
            located.file, 1, "", "the file is empty: expected a mapping (one definition) or a list"
        )
    raise DefinitionError(
        located.file,
        located.line(()) or 1,
        "",
        f"expected a mapping (one definition) or a list of them, not {type(data).__name__}",
    )


_YAML = ("*.yaml", "*.yml")


def _dashboard_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else _files(path, ("**/*.json",))


def _files(directory: Path, patterns: tuple[str, ...]) -> list[Path]:
    if not directory.is_dir():
        return []
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in directory.glob(pattern) if p.is_file())
    return sorted(found)


def _with_labels(labels: Any, key: str, located: Located, path: Path_) -> dict[str, str]:
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise located.error(path, "must be a mapping of label: value")
    out = {str(k): str(v) for k, v in labels.items()}
    out[MANAGED_LABEL] = MANAGED_VALUE
    out[KEY_LABEL] = key
    return out


def metric_description(description: str) -> str:
    description = description.rstrip()
    if description.endswith(METRIC_MARKER):
        return description
    return f"{description}\n\n{METRIC_MARKER}" if description else METRIC_MARKER


def is_managed_metric(live: dict[str, Any]) -> bool:
    return str(live.get("description", "")).rstrip().endswith(METRIC_MARKER)


def load_metrics(directory: Path, variables: Variables) -> list[Resource]:
    out: list[Resource] = []
    seen: dict[str, str] = {}
    for file in _files(directory, _YAML):
        located = resolve(read_file(file), variables)
        for _, item in _items(located):
            body = copy.deepcopy(item.data)
            name = body.get("name")
            if not isinstance(name, str) or not name:
                raise item.error(("name",), "a log metric needs a name")
            if name in seen:
                raise item.error(("name",), f"metric {name!r} is also defined at {seen[name]}")
            seen[name] = f"{file}:{item.line(())}"
            body["description"] = metric_description(str(body.get("description", "")))
            out.append(Resource("metric", name, body, item))
    return out


def load_channels(file: Path, variables: Variables, notes: list[str]) -> list[Resource]:
    if not file.is_file():
        return []
    located = resolve(read_file(file), variables)
    data = located.data or {}
    if not isinstance(data, dict) or not isinstance(data.get("channels", {}), dict):
        raise located.error(("channels",), "expected channels: {KEY: channel}")
    out: list[Resource] = []
    for key, value in (data.get("channels") or {}).items():
        path: Path_ = ("channels", str(key))
        if not _KEY.fullmatch(str(key)):
            raise located.error(path, "a channel key is [a-z][a-z0-9_-]*, at most 63 characters")
        if not isinstance(value, dict):
            raise located.error(path, "a channel is a mapping")
        item = located.sub(path)
        body = copy.deepcopy(value)
        if "enabledWhen" in body and not str(body.pop("enabledWhen") or "").strip():
            notes.append(f"channel {key} skipped: its enabledWhen is empty")
            continue
        if not body.get("type"):
            raise item.error(("type",), "a notification channel needs a type")
        body["userLabels"] = _with_labels(body.get("userLabels"), str(key), item, ("userLabels",))
        out.append(Resource("channel", str(key), body, item))
    return out


def load_policies(
    directory: Path, variables: Variables, channel_keys: set[str], skipped: set[str]
) -> list[Resource]:
    out: list[Resource] = []
    seen: dict[str, str] = {}
    for file in _files(directory, _YAML):
        located = resolve(read_file(file), variables)
        items = _items(located)
        for prefix, item in items:
            body = copy.deepcopy(item.data)
            key = body.pop("key", None)
            if key is None:
                if prefix:
                    raise item.error(("key",), "a policy in a list needs a key")
                key = sanitize_key(file.stem)
            key = str(key)
            if not _KEY.fullmatch(key):
                raise item.error(("key",), "a key is [a-z][a-z0-9_-]*, at most 63 characters")
            if key in seen:
                raise item.error(("key",), f"policy key {key!r} is also used at {seen[key]}")
            seen[key] = f"{file}:{item.line(())}"
            refs = body.get("notificationChannels") or []
            if not isinstance(refs, list):
                raise item.error(("notificationChannels",), "a list of channel keys")
            kept = []
            for i, ref in enumerate(refs):
                if ref in skipped:
                    continue
                if ref not in channel_keys and not str(ref).startswith("projects/"):
                    raise item.error(
                        ("notificationChannels", i),
                        f"no notification channel with key {ref!r}",
                    )
                kept.append(ref)
            if "notificationChannels" in body:
                body["notificationChannels"] = kept
            body["userLabels"] = _with_labels(body.get("userLabels"), key, item, ("userLabels",))
            out.append(Resource("policy", key, body, item))
    return out


def load_dashboards(directory: Path, variables: Variables) -> list[Resource]:
    out: list[Resource] = []
    seen: dict[str, Path] = {}
    files = _dashboard_files(directory)
    for file in files:
        located = resolve(read_file(file), variables)
        if not isinstance(located.data, dict):
            raise located.error((), "a dashboard is a JSON object")
        body = copy.deepcopy(located.data)
        body.pop("name", None)
        body.pop("etag", None)
        rel = file.relative_to(directory) if file != directory else Path(file.name)
        key = sanitize_key(str(rel.with_suffix("")).replace("/", "__"))
        if key in seen:
            raise located.error((), f"dashboard key {key!r} is also that of {seen[key]}")
        seen[key] = file
        body["labels"] = _with_labels(body.get("labels"), key, located, ("labels",))
        out.append(Resource("dashboard", key, body, located))
    return out


@dataclass
class Layout:
    """Where the definitions are."""

    metrics: Path
    channels: Path
    policies: Path
    dashboards: Path

    @classmethod
    def under(cls, root: Path) -> Layout:
        return cls(
            root / "log_metrics",
            root / "notification_channels.yaml",
            root / "alert_policies",
            root / "dashboards",
        )

    def files(self) -> list[Path]:
        """Every file the definitions are read from (none: nothing is defined)."""
        channels = [self.channels] if self.channels.is_file() else []
        return [
            *_files(self.metrics, _YAML),
            *channels,
            *_files(self.policies, _YAML),
            *_dashboard_files(self.dashboards),
        ]


def load_spec(layout: Layout, variables: Variables) -> Spec:
    """Read every definition; the first problem raises a DefinitionError."""
    spec = Spec()
    spec.metrics = load_metrics(layout.metrics, variables)
    spec.channels = load_channels(layout.channels, variables, spec.notes)
    keys = {c.key for c in spec.channels}
    skipped = _skipped_channels(layout.channels) - keys
    spec.policies = load_policies(layout.policies, variables, keys, skipped)
    spec.dashboards = load_dashboards(layout.dashboards, variables)
    return spec


def _skipped_channels(file: Path) -> set[str]:
    if not file.is_file():
        return set()
    try:
        data = read_file(file).data or {}
    except DefinitionError:
        return set()
    channels = data.get("channels") if isinstance(data, dict) else None
    return {str(k) for k in channels} if isinstance(channels, dict) else set()
