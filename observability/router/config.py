"""The routing configuration: one YAML file in Alertmanager's format, validated, compiled.

Alertmanager users can bring their ``route``, ``receivers``, ``inhibit_rules`` and
``time_intervals`` as they are (plus ``google_chat_configs``, Jinja2 ``templates``, the
``delivery`` retry settings and the ``enrichment`` budget this router adds). Loading either
returns a complete, compiled ``RouterConfig`` or raises ``ConfigError`` whose message is one
line naming the file, the line and the key, e.g.
``router.yaml:14: route.routes.0.group_wait: not a duration: '5x'``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from observability.router.duration import Duration
from observability.router.enrichment.settings import EnrichmentConfig
from observability.router.inhibit import InhibitRule, InhibitRuleConfig
from observability.router.receivers import (
    IntegrationDefaults,
    Receiver,
    ReceiverBuildError,
    ReceiverConfig,
    build_receiver,
)
from observability.router.receivers.base import IntegrationConfigError, read_secret
from observability.router.receivers.email import SmtpDefaults
from observability.router.route import GROUP_BY_ALL, Route, RouteConfig, build_route
from observability.router.templates import Templates
from observability.router.timeinterval import NamedTimeInterval, TimeInterval
from observability.yaml_lines import DuplicateKey, KeyPath, key_lines

Path_ = KeyPath


class ConfigError(ValueError):
    """The configuration is unusable; the message is one line: ``file:line: key: reason``."""


class GlobalConfig(BaseModel):
    """``global:``: defaults for every receiver, as in Alertmanager."""

    model_config = ConfigDict(extra="forbid")

    resolve_timeout: Duration = 300.0
    slack_api_url: SecretStr | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str | None = None
    smtp_smarthost: str | None = None
    smtp_from: str | None = None
    smtp_hello: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: SecretStr | None = None
    smtp_auth_password_file: str | None = None
    smtp_require_tls: bool = True
    opsgenie_api_key: SecretStr | None = None
    opsgenie_api_key_file: str | None = None
    opsgenie_api_url: str | None = None
    jira_api_url: str | None = None


class DeliveryConfig(BaseModel):
    """``delivery:``: how the outbox sends and retries (not in Alertmanager)."""

    model_config = ConfigDict(extra="forbid")

    timeout: Duration = Field(default=10.0, gt=0)
    initial_backoff: Duration = Field(default=1.0, gt=0)
    max_backoff: Duration = Field(default=300.0, gt=0)
    max_age: Duration = Field(default=24 * 3600.0, gt=0)
    lease: Duration = Field(default=120.0, gt=0)
    concurrency: int = Field(default=8, ge=1, le=256)


class ConfigFile(BaseModel):
    """The whole YAML file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(min_length=1)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    mute_time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    enrichment: EnrichmentConfig = Field(default_factory=EnrichmentConfig)


@dataclass(frozen=True)
class RouterConfig:
    """A loaded configuration, compiled and ready: what the dispatcher and outbox consult."""

    source: str
    digest: str
    file: ConfigFile
    route: Route
    routes_by_id: dict[str, Route]
    receivers: dict[str, Receiver]
    inhibit_rules: list[InhibitRule]
    time_intervals: dict[str, list[TimeInterval]]
    templates: Templates

    @property
    def delivery(self) -> DeliveryConfig:
        return self.file.delivery

    @property
    def enrichment(self) -> EnrichmentConfig:
        return self.file.enrichment

    @property
    def resolve_timeout(self) -> float:
        return self.file.global_.resolve_timeout


def load_config(path: Path) -> RouterConfig:
    """Read, validate and compile ``path``; ConfigError (one line) on any problem."""
    return parse_config(read_config_text(path), str(path), path.parent)


def read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def config_digest(text: str) -> str:
    """What identifies a configuration: the hash of its file's text."""
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: Path) -> str | None:
    """The configuration file's current hash, without compiling it; None if unreadable."""
    try:
        return config_digest(read_config_text(path))
    except ConfigError:
        return None


def parse_config(text: str, source: str, base_dir: Path) -> RouterConfig:
    """Validate and compile the YAML ``text``; ``source`` names it in errors."""
    try:
        data = _without_nulls(yaml.load(text, Loader=_GoYamlLoader))
        lines = key_lines(text)
    except DuplicateKey as exc:
        where = ".".join(str(part) for part in exc.path)
        raise ConfigError(f"{source}:{exc.line}: {where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the file must be a mapping with route: and receivers:")
    try:
        file = ConfigFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(_where(source, lines, location) + f": {message}") from None
    try:
        return _compile(file, text, source, base_dir)
    except _Problem as problem:
        raise ConfigError(_where(source, lines, problem.path) + f": {problem}") from None


class _GoYamlLoader(yaml.SafeLoader):
    """YAML as Alertmanager's Go library reads it into its string fields: ``22:00`` and ``1:5``
    are text, not YAML 1.1 base-60 numbers (1320, 65)."""


_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_GoYamlLoader.yaml_implicit_resolvers = {  # PyYAML's, less its numbers, re-added without base 60
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBERS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern in (
    (
        "tag:yaml.org,2002:int",
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
        r"|[-+]?0x[0-9a-fA-F_]+)$",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    ),
):
    _GoYamlLoader.add_implicit_resolver(_tag, re.compile(_pattern), list("-+0123456789."))


def _without_nulls(data: Any) -> Any:
    """Go's YAML library leaves a field whose value is null at its default (``global:`` with
    nothing under it) and reads a null list item as an empty entry (``inhibit_rules: [null]``)."""
    if isinstance(data, dict):
        return {key: _without_nulls(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [{} if item is None else _without_nulls(item) for item in data]
    return data


class _Problem(ValueError):
    def __init__(self, path: Path_, message: str) -> None:
        super().__init__(message)
        self.path = path


def _compile(file: ConfigFile, text: str, source: str, base_dir: Path) -> RouterConfig:
    intervals: dict[str, list[TimeInterval]] = {}
    for key, named in (
        ("time_intervals", file.time_intervals),
        ("mute_time_intervals", file.mute_time_intervals),
    ):
        for index, interval in enumerate(named):
            if interval.name in intervals:
                raise _Problem((key, index, "name"), f"duplicate time interval {interval.name!r}")
            intervals[interval.name] = interval.time_intervals
    try:
        templates = Templates.from_globs(file.templates, base_dir)
    except (OSError, ValueError) as exc:
        raise _Problem(("templates",), str(exc)) from None
    defaults = _defaults(file.global_, base_dir)
    receivers: dict[str, Receiver] = {}
    for index, receiver in enumerate(file.receivers):
        if receiver.name in receivers:
            raise _Problem(("receivers", index, "name"), f"duplicate receiver {receiver.name!r}")
        try:
            receivers[receiver.name] = build_receiver(receiver, defaults, templates, base_dir)
        except ReceiverBuildError as exc:
            raise _Problem(("receivers", index, *exc.path), str(exc)) from None
    if not file.route.receiver:
        raise _Problem(("route",), "the root route needs a receiver")
    if file.route.all_matchers():
        raise _Problem(("route", "matchers"), "the root route must not have matchers")
    if file.route.mute_time_intervals or file.route.active_time_intervals:
        raise _Problem(("route",), "the root route cannot have mute or active time intervals")
    if file.route.continue_:
        raise _Problem(("route", "continue"), "cannot have continue in root route")
    for path, node in _walk_routes(file.route, ("route",)):
        if node.receiver is not None and node.receiver not in receivers:
            raise _Problem((*path, "receiver"), f"undefined receiver {node.receiver!r}")
        _check_group_by(node.group_by or [], (*path, "group_by"))
        for key in ("mute_time_intervals", "active_time_intervals"):
            for index, name in enumerate(getattr(node, key)):
                if name not in intervals:
                    raise _Problem((*path, key, index), f"undefined time interval {name!r}")
    route = build_route(file.route)
    return RouterConfig(
        source=source,
        digest=config_digest(text),
        file=file,
        route=route,
        routes_by_id={node.id: node for node in route.walk()},
        receivers=receivers,
        inhibit_rules=[InhibitRule.from_config(rule) for rule in file.inhibit_rules],
        time_intervals=intervals,
        templates=templates,
    )


def _check_group_by(names: list[str], path: Path_) -> None:
    """Alertmanager's rules: ``...`` stands alone, names are non-empty and given once."""
    if GROUP_BY_ALL in names and len(names) > 1:
        raise _Problem(path, "cannot have wildcard group_by (`...`) and other labels")
    for index, name in enumerate(names):
        if not name:
            raise _Problem((*path, index), "invalid label name '' in group_by list")
        if name in names[:index]:
            raise _Problem((*path, index), f"duplicated label {name!r} in group_by")


def _defaults(settings: GlobalConfig, base_dir: Path) -> IntegrationDefaults:
    def optional_secret(value: SecretStr | None, file: str | None, key: str) -> SecretStr | None:
        if value is None and file is None:
            return None
        try:
            return SecretStr(read_secret(value, file, None, key, base_dir))
        except IntegrationConfigError as exc:
            raise _Problem(("global", exc.field), str(exc)) from None

    return IntegrationDefaults(
        slack_api_url=optional_secret(
            settings.slack_api_url, settings.slack_api_url_file, "slack_api_url"
        ),
        pagerduty_url=settings.pagerduty_url,
        smtp=SmtpDefaults(
            smarthost=settings.smtp_smarthost,
            sender=settings.smtp_from,
            hello=settings.smtp_hello,
            auth_username=settings.smtp_auth_username,
            auth_password=optional_secret(
                settings.smtp_auth_password,
                settings.smtp_auth_password_file,
                "smtp_auth_password",
            ),
            require_tls=settings.smtp_require_tls,
        ),
        opsgenie_api_key=optional_secret(
            settings.opsgenie_api_key, settings.opsgenie_api_key_file, "opsgenie_api_key"
        ),
        opsgenie_api_url=settings.opsgenie_api_url,
        jira_api_url=settings.jira_api_url,
    )


def _walk_routes(node: RouteConfig, path: Path_) -> Iterator[tuple[Path_, RouteConfig]]:
    yield path, node
    for index, child in enumerate(node.routes):
        yield from _walk_routes(child, (*path, "routes", index))


def _where(source: str, lines: dict[Path_, int], location: tuple[Any, ...]) -> str:
    """``file:line: dotted.key`` for the deepest part of ``location`` the file spells out."""
    known = tuple(part for part in location if not (isinstance(part, str) and "[" in part))
    line = 1
    for depth in range(len(known), -1, -1):
        if known[:depth] in lines:
            line = lines[known[:depth]]
            break
    dotted = ".".join(str(part) for part in known) or "(top)"
    return f"{source}:{line}: {dotted}"
