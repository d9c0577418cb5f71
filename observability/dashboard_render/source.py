"""Reading a dashboard: its JSON file (or a dict), with provisioning's ``${VAR}`` resolved.

The files under ``dashboards/`` hold ``${PROJECT}``, ``${TEAM:-platform}`` and the like, which
provisioning replaces when it applies them; the preview replaces them the same way (the same
``Variables``: explicit values, ``COMPOSER_OBS_NAME`` in the environment, then the project), so
what is drawn is what would be applied. Cloud Monitoring's own templates
(``${metric.labels.dag_id}``) are left for the legend.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from observability.dashboard_render.errors import RenderError
from observability.provision import json_keys
from observability.provision.source import DefinitionError, Located, Variables, dotted, resolve


@dataclass(frozen=True)
class DashboardSource:
    """A dashboard ready to draw: ``name`` names the output files, ``origin`` the input."""

    name: str
    origin: str
    body: dict[str, Any]

    @property
    def display_name(self) -> str:
        return str(self.body.get("displayName") or self.name)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "dashboard"


def load_dashboard(
    source: Path | str | Mapping[str, Any],
    project: str,
    variables: Mapping[str, Any] | None = None,
) -> DashboardSource:
    """The dashboard in ``source`` (a JSON file's path, or the dashboard itself) with its
    variables resolved; bad JSON (a key given twice included) is reported as ``file:line:col``."""
    if isinstance(source, Mapping):
        body: Any = dict(source)
        origin = "<dashboard>"
        name = _slug(str(body.get("displayName", "")))
        located = Located(Path(origin), body)
    else:
        path = Path(source)
        origin = str(path)
        name = path.stem
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise RenderError(f"{path}: cannot read: {error.strerror or error}") from error
        except UnicodeDecodeError as error:
            raise RenderError(f"{path}: not UTF-8 text (byte {error.start})") from error
        try:
            body = json_keys.loads(text)
        except json.JSONDecodeError as error:
            raise RenderError(
                f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"
            ) from error
        except json_keys.DuplicateJsonKey as error:
            raise RenderError(
                f"{path}:{error.line}:{error.column}: {dotted(error.path)}: {error}"
            ) from error
        located = Located(path, body, None, text)
    if not isinstance(body, dict):
        raise RenderError(f"{origin}: a dashboard is a JSON object, got {type(body).__name__}")
    resolved = Variables.load(explicit=variables, fallbacks={"PROJECT": project})
    try:
        body = resolve(located, resolved).data
    except DefinitionError as error:
        raise RenderError(str(error)) from error
    return DashboardSource(name=name, origin=origin, body=body)
