"""Runtime settings, validated once, from flags, environment variables and one YAML file.

Precedence (decision 8 of the design): explicit arguments (CLI flags) override environment
variables, which override the YAML file named by ``COMPOSER_OBS_CONFIG``. Every environment
variable is ``COMPOSER_OBS_<FIELD>``; Composer's own variables (``GCP_PROJECT``,
``COMPOSER_LOCATION``, ``COMPOSER_ENVIRONMENT``) are read too, so nothing needs setting on a
Composer worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from observability.emit.spool import default_spool_dir

LOG_NAME = "composer-observability"
"""The log every event is written to (``projects/P/logs/composer-observability``)."""

MANAGED_BY_LABEL = {"managed-by": "composer-observability"}
"""User label on everything this tool provisions; nothing without it is ever changed."""


class SettingsError(ValueError):
    """A setting has a bad value; the message names the key and is fit for one CLI line."""


class Settings(BaseSettings):
    """Everything configurable at run time. Field docs are the user-facing reference."""

    model_config = SettingsConfigDict(
        env_prefix="COMPOSER_OBS_",
        extra="forbid",
        populate_by_name=True,
    )

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
    max_entry_bytes: int = Field(
        default=250_000,
        ge=4_096,
        le=256 * 1024,
        description="Serialized size an entry is truncated to (Cloud Logging's limit: 256 KiB).",
    )
    enabled: bool = Field(default=True, description="false turns every callback into a no-op.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags beat the environment, which beats the YAML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("COMPOSER_OBS_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning pydantic's report into one line that names the key."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "settings"
        env_key = f"COMPOSER_OBS_{key.upper()}"
        raise SettingsError(f"{env_key}: {first['msg']} (got {first.get('input')!r})") from None
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"COMPOSER_OBS_CONFIG: cannot read the file: {exc}") from None
