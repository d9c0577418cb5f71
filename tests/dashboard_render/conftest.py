"""Fixtures: a project with an hour of Composer activity, and the default dashboards
rendered from it once per session (the render and browser tests both read them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from observability.dashboard_render import RenderResult, render_dashboard
from observability.gcp import Endpoint
from tests.dashboard_render.system_metrics import seed_hour
from tests.dashboard_render.workload import provision, write_events
from tests.emulator.helpers import emulator_now

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
_SHARED = ROOT.parent / "shared" / "conformance" / "dashboards"
_FIXTURES = ROOT / "tests" / "fixtures" / "dashboards"
COMPOSER_CONFORMANCE = (_SHARED if _SHARED.is_dir() else _FIXTURES) / (
    "google-cloud-composer/cloud-composer-monitoring.json"
)
TEAM = "data"
"""The team the team dashboard is rendered for (one of the workload's teams)."""


@dataclass(frozen=True)
class Workload:
    project: str
    end: datetime
    """The emulator's "now" when the events were written: they cover the hour before."""


@pytest.fixture(scope="session")
def workload(emulator: Endpoint) -> Workload:
    project = f"render-{uuid.uuid4().hex[:10]}"
    provision(emulator, project)
    end = emulator_now(emulator)
    write_events(emulator, project, end)
    return Workload(project, end)


@dataclass(frozen=True)
class Rendered:
    overview: RenderResult
    team: RenderResult
    empty_overview: RenderResult
    """The overview drawn for a project without data: what a tile looks like empty."""


@pytest.fixture(scope="session")
def rendered(
    emulator: Endpoint, workload: Workload, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rendered]:
    """Rendered over the workload's hour (``end``): other tests move the emulator's clock."""
    out = tmp_path_factory.mktemp("dashboards")
    empty = tmp_path_factory.mktemp("empty")
    overview = DASHBOARDS / "composer_overview.json"
    yield Rendered(
        overview=render_dashboard(overview, out, workload.project, emulator, end=workload.end),
        team=render_dashboard(
            DASHBOARDS / "composer_team.json",
            out,
            workload.project,
            emulator,
            end=workload.end,
            variables={"TEAM": TEAM},
        ),
        empty_overview=render_dashboard(
            overview, empty, f"empty-{uuid.uuid4().hex[:8]}", emulator, end=workload.end
        ),
    )


@dataclass(frozen=True)
class Conformance:
    seeded: RenderResult
    empty: RenderResult


@pytest.fixture(scope="session")
def conformance(emulator: Endpoint, tmp_path_factory: pytest.TempPathFactory) -> Conformance:
    """Google's Composer dashboard drawn from an hour of seeded system metrics (and empty)."""
    project = f"composer-{uuid.uuid4().hex[:10]}"
    end = emulator_now(emulator)
    assert seed_hour(emulator, project, COMPOSER_CONFORMANCE, end) > 0
    return Conformance(
        seeded=render_dashboard(
            COMPOSER_CONFORMANCE, tmp_path_factory.mktemp("conformance"), project, emulator, end=end
        ),
        empty=render_dashboard(
            COMPOSER_CONFORMANCE,
            tmp_path_factory.mktemp("conformance-empty"),
            f"empty-{uuid.uuid4().hex[:8]}",
            emulator,
            end=end,
        ),
    )
