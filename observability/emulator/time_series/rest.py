"""Admin REST endpoint (not a Google API): seed time series of any metric type.

``POST /v1/emulator/projects/{project}/timeSeries:seed`` takes the body of Monitoring's REST
``projects.timeSeries.create`` (``{"timeSeries": [TimeSeries, ...]}``, camelCase) and writes
it with CreateTimeSeries's rules, except that any metric type is allowed (system metrics
such as ``composer.googleapis.com/environment/...`` on a ``cloud_composer_environment``),
DELTA descriptors may be auto-created and points may be older than 25 hours. It answers
``{"timeSeriesWritten": N}``, or 400 with Google's error body naming the series and field.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from google.cloud.monitoring_v3.types import TimeSeries
from google.protobuf import json_format
from starlette.concurrency import run_in_threadpool

from observability.emulator.common.errors import ApiError, json_type_name
from observability.emulator.common.rest_common import JSON_BODY, invalid_payload, json_body
from observability.emulator.time_series.service import WrittenSeriesService

_MAX_BODY: Final = 16 * 1024 * 1024
_TimeSeriesPb = TimeSeries.pb()


def _series(body: dict[str, Any]) -> list[Any]:
    unknown = sorted(set(body) - {"timeSeries"})
    if unknown:
        raise ApiError.invalid(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        )
    items = body.get("timeSeries")
    if not isinstance(items, list):
        raise ApiError.invalid(
            f"timeSeries: an array of TimeSeries is required, got {json_type_name(items)}"
        )
    parsed = []
    for index, item in enumerate(items):
        message = _TimeSeriesPb()
        try:
            json_format.ParseDict(item, message)
        except json_format.ParseError as error:
            raise invalid_payload(error, f"timeSeries[{index}]") from error
        parsed.append(message)
    return parsed


def router(service: WrittenSeriesService) -> APIRouter:
    """The seed endpoint over ``service``."""
    api = APIRouter()

    @api.post("/v1/emulator/projects/{project}/timeSeries:seed", openapi_extra=JSON_BODY)
    async def seed(project: str, request: Request) -> dict[str, Any]:
        series = _series(await json_body(request, _MAX_BODY))
        written = await run_in_threadpool(service.seed, project, series)
        return {"timeSeriesWritten": written}

    return api
