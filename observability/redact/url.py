"""A called URL made safe to record: no credentials, query or fragment.

``urllib.parse`` splits the authority at the first ``/``, so ``https://etl:Ab/Cd@host/path``
would yield host ``ab`` and a path holding the rest of the password. Users paste such URLs,
so the userinfo is found here first: everything up to the last ``@`` before the query,
provided it starts like ``user:`` or holds no ``/`` at all (``https://host/@user`` has none).
"""

from __future__ import annotations

from urllib.parse import urlsplit


def _without_userinfo(rest: str) -> str:
    """``rest`` (what follows ``scheme://``) without ``user:password@``."""
    end = len(rest)
    for stop in "?#":
        found = rest.find(stop)
        if 0 <= found < end:
            end = found
    at = rest.rfind("@", 0, end)
    if at < 0:
        return rest
    userinfo = rest[:at]
    colon, slash = userinfo.find(":"), userinfo.find("/")
    if slash < 0 or 0 <= colon < slash:
        return rest[at + 1 :]
    return rest


def redact_url(url: str) -> tuple[str, str | None]:
    """Split a called URL into a safe target (no credentials, query or fragment) and host."""
    from observability.redact import redact_patterns

    scheme, separator, rest = url.partition("://")
    if separator:
        url = f"{scheme}://{_without_userinfo(rest)}"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return redact_patterns(url.split("?", 1)[0]), None
    if not host:
        return redact_patterns(url.split("?", 1)[0]), None
    netloc = f"{host}:{port}" if port else host
    prefix = f"{parts.scheme}://" if parts.scheme else ""
    return redact_patterns(f"{prefix}{netloc}{parts.path}"), netloc
