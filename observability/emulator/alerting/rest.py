"""Admin REST endpoints of alerting (not Google APIs): read incidents, evaluate now.

- ``GET /v1/emulator/projects/{project}/incidents[?state=open|closed]`` answers
  ``{"incidents": [...], "notEvaluated": [...]}``: the project's incidents, newest first,
  and the conditions the emulator does not evaluate (MQL, PromQL, SQL), with why.
- ``POST /v1/emulator/alerting:evaluate`` runs one evaluation tick now and answers its
  summary (what the background ticker does after every clock move, but synchronously).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from observability.emulator.alerting.evaluator import AlertEvaluator
from observability.emulator.common.errors import ApiError


def router(evaluator: AlertEvaluator) -> APIRouter:
    api = APIRouter()

    @api.get("/v1/emulator/projects/{project}/incidents")
    async def incidents(project: str, state: str | None = None) -> dict[str, Any]:
        if state not in (None, "open", "closed"):
            raise ApiError.invalid('state: must be "open" or "closed"')
        return await run_in_threadpool(evaluator.describe_project, project, state)

    @api.post("/v1/emulator/alerting:evaluate")
    async def evaluate() -> dict[str, Any]:
        return await run_in_threadpool(evaluator.tick)

    return api
