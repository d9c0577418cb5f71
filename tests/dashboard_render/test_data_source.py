"""The data source: a null query is a tile's problem, and ``close`` closes the gRPC channel
of every client it opened (a render leaves no channel behind)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from observability.dashboard_render.data import DataSource, Window, window_ending
from observability.gcp import Endpoint
from tests.dashboard_render.conftest import Workload

WINDOW = timedelta(hours=1)
LOGS = {"logsPanel": {"filter": "severity>=ERROR"}}
SCORECARD = {
    "scorecard": {
        "timeSeriesQuery": {
            "timeSeriesFilter": {"filter": 'metric.type="logging.googleapis.com/user/x"'}
        }
    }
}


@pytest.mark.parametrize("query", [{"timeSeriesFilter": None}, {"timeSeriesFilterRatio": None}])
def test_a_null_query_is_the_tiles_problem(query: dict[str, object]) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    source = DataSource("p", Endpoint(), Window(now - WINDOW, now))  # asks nothing
    tile = source.tile({"scorecard": {"timeSeriesQuery": query}})
    assert tile.problems == ["the query has no timeSeriesFilter"]


@pytest.mark.integration
@pytest.mark.parametrize("widget", [LOGS, SCORECARD], ids=["logging", "monitoring"])
def test_close_closes_the_channel_of_every_client_opened(
    emulator: Endpoint, workload: Workload, widget: dict[str, object]
) -> None:
    source = DataSource(workload.project, emulator, window_ending(workload.end, WINDOW, emulator))
    assert source.tile(widget).problems == []
    source.close()
    with pytest.raises(ValueError, match="closed channel"):
        source.tile(widget)
