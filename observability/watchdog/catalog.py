"""The DAGs of one Airflow, known without listing them all on every pass.

Listing every DAG is the costliest read the watchdog has: Airflow serves 100 DAGs a page, and
each list request first gathers every DAG id the caller may read, so at 10,000 DAGs one page
costs the API server about 0.3 s of CPU (bench/README.md). Yet a pass needs a few DAGs only:
the owners of the handful of facts found, the DAGs that carry a duration tag, the DAGs of a
broken file. On Airflow 3 each has its own cheap read: a DAG by itself when a fact needs it
(kept ``dag_list_refresh``), the tag index, the DAGs with import errors; and the overdue DAGs
come from the list sorted by next run (``overdue``). So on Airflow 3 the catalogue never reads
the whole list. Airflow 2.10 has neither the tag index, nor the import-error filter, nor that
sort: there the catalogue reads the full list a slice at a time (``dag_pages_per_pass`` pages a
pass, a new round no sooner than ``dag_list_refresh`` after the last one began). What it holds
may be old; whoever acts on a DAG's schedule or pause confirms it with ``fresh``.
The detectors run side by side, so every method holds the catalogue's lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

from observability.watchdog.airflow_api import AirflowAPI, Dag

MAX_DURATION_TAG = "max_task_duration:"
"""A DAG tag ``max_task_duration:30m`` sets the running limit of every task of the DAG."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(
    method: Callable[Concatenate[DagCatalog, _P], _R],
) -> Callable[Concatenate[DagCatalog, _P], _R]:
    @wraps(method)
    def holding(self: DagCatalog, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return holding


class DagCatalog:
    """What one watcher knows of an Airflow's DAGs, and when it read each."""

    def __init__(self, api: AirflowAPI, pages_per_pass: int, refresh_s: float) -> None:
        self._api = api
        self._pages_per_pass = pages_per_pass
        self._refresh_s = refresh_s
        self._dags: dict[str, tuple[float, Dag]] = {}
        self._offset = 0
        self._round_began: float | None = None
        self._last_round_began: float | None = None
        self.complete = False
        """A whole round of the list has been read: every DAG that existed then is known."""
        self._tagged: tuple[float, dict[str, Dag]] | None = None
        self._lock = threading.RLock()

    @_locked
    def known(self) -> list[Dag]:
        return [dag for _, dag in self._dags.values()]

    @_locked
    def learn(self, dags: list[Dag]) -> None:
        """Keep DAGs read fresh by someone else (the overdue scan)."""
        now = time.monotonic()
        for dag in dags:
            self._dags[dag.dag_id] = (now, dag)

    @_locked
    def advance(self) -> None:
        """Read the next slice of the DAG list on Airflow 2.10 (nothing while a round is recent
        enough); nothing on Airflow 3, where nothing needs the whole list."""
        if self._api.major >= 3:
            return
        now = time.monotonic()
        if self._offset == 0:
            if self._round_began is not None and now - self._round_began < self._refresh_s:
                return
            self._round_began = now
        for _ in range(self._pages_per_pass):
            self._read_page()
            if self._offset == 0:
                return

    @_locked
    def finish_round(self) -> None:
        """Read the rest of the current round now (when a fact cannot wait for it)."""
        if self.complete and self._offset == 0:
            return
        if self._offset == 0:
            self._round_began = time.monotonic()
        self._read_page()
        while self._offset:
            self._read_page()

    def _read_page(self) -> None:
        page, held, total = self._api.dag_page(self._offset)
        now = time.monotonic()
        for dag in page:
            self._dags[dag.dag_id] = (now, dag)
        self._offset += held
        if not held or self._offset >= total:
            self._end_round(self._round_began or now)

    def _end_round(self, began: float) -> None:
        """Forget the DAGs that neither this round nor the one before saw (and nobody fetched
        since). Not this round alone: the list is read by offset, so a DAG deleted during a
        round shifts the next one into a page already read, and a DAG that exists would be
        dropped until the round after. A deleted DAG is kept one round more instead, which
        costs nothing: whoever acts on a DAG confirms it with ``fresh``."""
        keep_since = began if self._last_round_began is None else self._last_round_began
        self._dags = {key: seen for key, seen in self._dags.items() if seen[0] >= keep_since}
        self._last_round_began = began
        self._offset = 0
        self.complete = True

    @_locked
    def get(self, dag_id: str) -> Dag | None:
        """The DAG as last read; read now if never."""
        if dag_id not in self._dags:
            return self.fresh(dag_id)
        return self._dags[dag_id][1]

    @_locked
    def fresh(self, dag_id: str) -> Dag | None:
        """The DAG as it is now (None when Airflow no longer has it)."""
        dag = self._api.dag(dag_id)
        if dag is None:
            self._dags.pop(dag_id, None)
        else:
            self._dags[dag_id] = (time.monotonic(), dag)
        return dag

    def with_owners(self, dag_ids: set[str]) -> dict[str, Dag]:
        """The DAGs of ``dag_ids`` that exist (a request for each one not read in the last
        ``dag_list_refresh`` on Airflow 3, where no round renews them; side by side)."""
        oldest = time.monotonic() - self._refresh_s if self._api.major >= 3 else -math.inf
        with self._lock:
            found = {
                dag_id: self._dags[dag_id][1]
                for dag_id in dag_ids
                if dag_id in self._dags and self._dags[dag_id][0] >= oldest
            }
        missing = sorted(dag_ids - set(found))
        for dag_id, dag in zip(
            missing, self._api.concurrently(self._api.dag, missing), strict=True
        ):
            if dag is not None:
                with self._lock:
                    self._dags[dag_id] = (time.monotonic(), dag)
                found[dag_id] = dag
        return found

    @_locked
    def in_file(self, filename: str) -> Dag | None:
        """A DAG the file held: Airflow keeps them after the file stops importing. Airflow 3.3
        marks them stale, which leaves them out of the DAG list the rounds read: there they
        are asked for by their import errors (one request), even after a complete round."""
        found = self._in_file(filename)
        if found is not None:
            return found
        if self._api.major >= 3:
            for dag in self._api.dags(has_import_errors=True):
                self._dags[dag.dag_id] = (time.monotonic(), dag)
        elif self.complete and self._offset == 0:
            return None
        else:
            self.finish_round()
        return self._in_file(filename)

    def _in_file(self, filename: str) -> Dag | None:
        for _, dag in self._dags.values():
            loc = dag.fileloc or ""
            if loc and (loc == filename or loc.endswith("/" + filename)):
                return dag
        return None

    @_locked
    def tagged(self) -> dict[str, Dag]:
        """The DAGs with a ``max_task_duration:`` tag: on Airflow 3 two requests (the tag
        index, then the DAGs with those tags) every ``refresh``; on 2.10, from the list."""
        now = time.monotonic()
        if self._tagged is None or now - self._tagged[0] >= self._refresh_s:
            names = self._api.tag_names(MAX_DURATION_TAG)
            if names is None:
                self.finish_round()
                dags = self.known()
            else:
                dags = self._api.dags(tags=names) if names else []
            self._tagged = (
                now,
                {dag.dag_id: dag for dag in dags if any(_is_limit(tag) for tag in dag.tags)},
            )
        return self._tagged[1]


def _is_limit(tag: str) -> bool:
    return tag.startswith(MAX_DURATION_TAG)
