"""``enrichment:`` in the router configuration: how much a cause may cost, and who gets one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from observability.router.duration import Duration


class EnrichmentConfig(BaseModel):
    """Defaults: on, 2 s per notice, the last 20 lines of the failed try's log, a 7-day
    fingerprint history. Cloud Logging is reached as every other client of this package
    reaches it (``COMPOSER_OBS_EMULATOR`` for the emulator, else Google with the service
    account's credentials)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    budget: Duration = Field(default=2.0, gt=0, le=60)
    log_tail_lines: int = Field(default=20, ge=0, le=200)
    fingerprint_lookback: Duration = Field(default=7 * 86400.0, gt=0, le=30 * 86400)
    max_entries: int = Field(default=100, ge=1, le=1000)
    """Entries read per query: the newest ones behind the alert."""
    concurrency: int = Field(default=16, ge=1, le=128)
    """Cloud Logging calls in flight at once (each is a blocking client call in a thread)."""
    disabled_receivers: list[str] = Field(default_factory=list)
    """Receivers whose notices go out without a cause (and without waiting for one)."""

    def applies_to(self, receiver: str) -> bool:
        return self.enabled and receiver not in self.disabled_receivers
