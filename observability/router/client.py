"""A small client for a running router's admin API (what the ``silence`` commands use)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from observability.router.matcher import Matcher


class RouterClientError(RuntimeError):
    """The router refused or could not be reached; the message says which and why."""


class RouterClient:
    def __init__(self, url: str, admin_token: str | None, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> RouterClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RouterClientError(f"cannot reach the router: {exc}") from None
        if response.status_code >= 400:
            try:
                reason = response.json().get("error", response.text)
            except ValueError:
                reason = response.text
            raise RouterClientError(f"HTTP {response.status_code}: {reason}")
        return response.json() if response.content else None

    def add_silence(
        self,
        matchers: list[Matcher],
        duration: timedelta,
        author: str,
        comment: str,
        starts_at: datetime | None = None,
    ) -> str:
        start = starts_at or datetime.now(timezone.utc)
        body = {
            "matchers": [matcher.to_api() for matcher in matchers],
            "startsAt": start.isoformat(),
            "endsAt": (start + duration).isoformat(),
            "createdBy": author,
            "comment": comment,
        }
        return str(self._call("POST", "/api/v2/silences", json=body)["silenceID"])

    def silences(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/v2/silences"))

    def expire_silence(self, silence_id: str, actor: str) -> dict[str, Any]:
        return dict(
            self._call("DELETE", f"/api/v2/silence/{silence_id}", headers={"X-Actor": actor})
        )
