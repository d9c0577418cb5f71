"""Runtime settings, validated once, from flags, environment variables and one YAML file.

Precedence (decision 8 of the design): explicit arguments (CLI flags) override environment
variables, which override the YAML file named by ``COMPOSER_OBS_CONFIG``. The sources are read
here (not by pydantic-settings) so that each value's origin is known: a bad one is
reported under the name the user wrote (the variable, or the file's line and key). Every environment
variable is ``COMPOSER_OBS_<FIELD>``; Composer's own variables (``GCP_PROJECT``,
``COMPOSER_LOCATION``, ``COMPOSER_ENVIRONMENT``) are read too, so nothing needs setting on a
Composer worker.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from observability.emit.spool import default_spool_dir
from observability.yaml_lines import DuplicateKey, key_lines, yaml_problem

LOG_NAME = "composer-observability"
"""The log every event is written to (``projects/P/logs/composer-observability``)."""

MANAGED_BY_LABEL = {"managed-by": "composer-observability"}
"""User label on everything this tool provisions; nothing without it is ever changed."""


ENV_PREFIX = "COMPOSER_OBS_"


class SettingsError(ValueError):
    """A flag has a bad value; the message names it and is fit for one CLI line."""


class Settings(BaseModel):
    """Everything configurable at run time. Field docs are the user-facing reference.

    Each field is read from ``COMPOSER_OBS_<FIELD>`` unless its ``validation_alias`` lists
    the variables (``load_settings`` reads them)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    emulator: str | None = Field(
        default=None,
        description="host:port of the local emulator's gRPC port; unset means Google's APIs.",
    )
    emulator_http: str | None = Field(
        default=None,
        description="host:port of the emulator's HTTP port; default: the gRPC port + 1.",
    )
    project: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "COMPOSER_OBS_PROJECT", "GCP_PROJECT", "GOOGLE_CLOUD_PROJECT"
        ),
        description="Google Cloud project id the events and resources belong to.",
    )
    location: str | None = Field(
        default=None,
        validation_alias=AliasChoices("COMPOSER_OBS_LOCATION", "COMPOSER_LOCATION"),
        description="Composer environment's region.",
    )
    environment_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("COMPOSER_OBS_ENVIRONMENT_NAME", "COMPOSER_ENVIRONMENT"),
        description="Composer environment's name.",
    )
    log_name: str = Field(default=LOG_NAME, description="Log id the events are written to.")
    spool_dir: Path = Field(
        default_factory=default_spool_dir,
        description="Folder for events Cloud Logging could not take; replayed later.",
    )
    queue_size: int = Field(default=10_000, ge=1, description="Events held in memory at most.")
    batch_size: int = Field(default=500, ge=1, le=5_000, description="Entries per write call.")
    batch_wait_s: float = Field(
        default=0.2, ge=0, description="How long a partial batch waits for more events."
    )
    send_timeout_s: float = Field(default=5.0, gt=0, description="Deadline of one write call.")
    flush_timeout_s: float = Field(
        default=2.0, gt=0, description="Longest the end of a task process waits for delivery."
    )
    replay_after_exit_s: float = Field(
        default=300.0,
        ge=0,
        description=(
            "How long a process that ends with events in the spool leaves a replayer process "
            "trying to deliver them (0: none; the next writer on the machine replays them)."
        ),
    )
    max_entry_bytes: int = Field(
        default=250_000,
        ge=4_096,
        le=256 * 1024,
        description="Serialized size an entry is truncated to (Cloud Logging's limit: 256 KiB).",
    )
    enabled: bool = Field(default=True, description="false turns every callback into a no-op.")
    api_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Longest a command waits for Google's APIs (or the emulator) to answer.",
    )

    @field_validator("emulator", "emulator_http")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        """``host:port``; empty (``COMPOSER_OBS_EMULATOR=`` in a Makefile) means unset."""
        if not value:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("must be host:port")
        return value


def _warn_once(message: str) -> None:
    """Print a setting's warning on stderr (the task log, or the terminal) once a process."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"composer-observability: warning: {message}", file=sys.stderr)


_WARNED: set[str] = set()


def _default_text(field: str) -> str:
    info = Settings.model_fields[field]
    default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    return "unset" if default is None else str(default)


def _environment_values() -> tuple[dict[str, Any], dict[str, str]]:
    """Each field's raw value from the environment, and the variable it came from."""
    environment = {name.upper(): value for name, value in os.environ.items()}
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [f"{ENV_PREFIX}{field}"]
        for name in names:
            if isinstance(name, str) and name.upper() in environment:
                values[field], origins[field] = environment[name.upper()], name.upper()
                break
    return values, origins


def _file_values() -> tuple[dict[str, Any], dict[str, str]]:
    """The YAML file's values by field, and for each ``file, line N: key``. A file that cannot
    be used at all, or a key that is no setting, is a warning: the rest still counts."""
    config = os.environ.get("COMPOSER_OBS_CONFIG")
    if not config:
        return {}, {}
    path = Path(config)
    if not path.exists() or path.is_dir():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        _warn_once(f"COMPOSER_OBS_CONFIG: {path} {what}; it is ignored")
        return {}, {}
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
        lines = key_lines(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, DuplicateKey) as exc:
        _warn_once(f"COMPOSER_OBS_CONFIG: {path}{_where(exc)}; the file is ignored")
        return {}, {}
    if document is None:
        return {}, {}
    if not isinstance(document, dict):
        _warn_once(f"COMPOSER_OBS_CONFIG: {path}: expected key: value pairs; the file is ignored")
        return {}, {}
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key, value in document.items():
        where = f"{path}, line {lines.get((str(key),), '?')}: {key}"
        if key not in Settings.model_fields:
            close = difflib.get_close_matches(str(key), Settings.model_fields, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            _warn_once(f"{where}: not a setting{hint}; it is ignored")
            continue
        values[key], origins[key] = value, where
    return values, origins


def _where(exc: Exception) -> str:
    """A read or YAML error as ``, line L: problem (column C)``: one line."""
    if isinstance(exc, DuplicateKey):
        return f", line {exc.line}: {exc.path[-1]}: {exc}"
    if isinstance(exc, yaml.YAMLError):
        line, problem = yaml_problem(exc)
        return f", line {line}: {problem}" if line else f": {problem}"
    return f": {getattr(exc, 'strerror', None) or exc}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings: flags over the environment over the YAML file.

    A bad value in the environment or the file costs that value alone: a warning names the
    variable (or the file, line and key) and its default is used, so that one typo never
    sends events elsewhere than the other settings say. A bad flag is the caller's error
    (``SettingsError``, one line naming it)."""
    flags = {key: value for key, value in overrides.items() if value is not None}
    values, origins = _file_values()
    environment, environment_origins = _environment_values()
    values.update(environment)
    origins.update(environment_origins)
    values.update(flags)
    for key in flags:
        origins.pop(key, None)
    while True:
        try:
            return Settings.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else "settings"
                message = (
                    f"{error['msg'].removeprefix('Value error, ')} (got {error.get('input')!r})"
                )
                if key not in origins:
                    raise SettingsError(f"{key}: {message}") from None
                _warn_once(
                    f"{origins.pop(key)}: {message}; using the default ({_default_text(key)})"
                )
                values.pop(key, None)
