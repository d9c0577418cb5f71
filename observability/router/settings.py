"""How a router process runs: listen address, database, configuration file, secrets.

From environment variables ``COMPOSER_OBS_ROUTER_<FIELD>`` or the ``router serve`` flags
(flags win). Cloud Run's ``PORT`` is honoured. Authentication is on unless explicitly turned
off: a router without an ingest secret and an admin secret refuses to start.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "COMPOSER_OBS_ROUTER_"


class RouterSettingsError(ValueError):
    """A setting is missing or wrong; the message is one line naming the variable."""


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    config_file: Path = Field(default=Path("router.yaml"), description="Routing YAML file.")
    database_url: str = Field(
        default="sqlite:///composer-obs-router.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql://user:pass@host/db.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=9093, validation_alias=AliasChoices(f"{ENV_PREFIX}PORT", "PORT"))
    external_url: str = Field(default="", description="Public URL of the router (in messages).")
    ingest_token: SecretStr | None = Field(default=None, description="?auth_token= secret.")
    ingest_username: str | None = Field(default=None, description="HTTP basic auth user.")
    ingest_password: SecretStr | None = Field(default=None, description="HTTP basic password.")
    admin_token: SecretStr | None = Field(default=None, description="Bearer token, admin APIs.")
    allow_unauthenticated: bool = Field(
        default=False, description="Serve without any authentication (local experiments only)."
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    header_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds a client has to send request headers."
    )
    keep_alive_timeout: int = Field(
        default=5, gt=0, le=300, description="Seconds an idle keep-alive connection is kept."
    )
    limit_concurrency: int = Field(
        default=1000,
        ge=10,
        description="Connections and requests a process takes at once; past it, answers 503.",
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=4096, description="Largest request head (h11 protocol only)."
    )
    sqlite_synchronous: str = Field(default="FULL", pattern="^(?i:NORMAL|FULL|EXTRA)$")
    access_log: bool = Field(default=True, description="Log each request (never its query).")
    poll_interval: float = Field(default=1.0, gt=0, description="Longest idle wait, seconds.")
    dispatcher_nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="CPU priority of the dispatching process below the HTTP workers (nice).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="HTTP workers sharing the port (above 1, plus a dispatching process).",
    )

    @model_validator(mode="after")
    def _secured(self) -> RouterSettings:
        if self.allow_unauthenticated:
            return self
        if (self.ingest_username is None) != (self.ingest_password is None):
            raise ValueError(
                f"{ENV_PREFIX}INGEST_USERNAME and {ENV_PREFIX}INGEST_PASSWORD go together"
            )
        if self.ingest_token is None and self.ingest_password is None:
            raise ValueError(
                f"set {ENV_PREFIX}INGEST_TOKEN (or INGEST_USERNAME and INGEST_PASSWORD), "
                f"or {ENV_PREFIX}ALLOW_UNAUTHENTICATED=true"
            )
        if self.admin_token is None:
            raise ValueError(f"set {ENV_PREFIX}ADMIN_TOKEN (the admin APIs' bearer token)")
        secrets = [
            s.get_secret_value()
            for s in (self.ingest_token, self.ingest_password, self.admin_token)
            if s is not None
        ]
        if any(len(secret) < 16 for secret in secrets):
            raise ValueError("secrets must be at least 16 characters long")
        if self.admin_token is not None and self.admin_token in (
            self.ingest_token,
            self.ingest_password,
        ):
            raise ValueError("the admin token must differ from the ingest secrets")
        return self


def load_router_settings(**overrides: object) -> RouterSettings:
    """Settings from the environment with ``overrides`` (flags) on top; one-line errors."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return RouterSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise RouterSettingsError(f"{where}: {message}" if where else message) from None
