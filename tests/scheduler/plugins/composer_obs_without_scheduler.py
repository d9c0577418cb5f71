"""Our listener plugin everywhere but in the scheduler, for chosen DAGs: the Composer 3 case.

Composer 3 loads an environment's plugins in the workers (task processes), the DAG processor,
the triggerer and the web/API server, but not in the scheduler. Under LocalExecutor that
cannot be played by leaving the plugin out of the scheduler: the executor's workers are forked
from the scheduler (``multiprocessing`` with the ``fork`` start method on Linux and Python
3.11, on Airflow 2.10 and 3.3 alike) and fork the task processes in turn, so they inherit the
scheduler's plugins. This file, put in ``plugins/`` instead of the user's one-liner, registers
the real ``callbacks.listener`` in every process and forwards each hook to it, except a hook
that runs in the scheduler's own process for a DAG whose id starts with
``$OBS_WITHOUT_SCHEDULER_DAG_PREFIX``. So one environment plays both columns: its other DAGs
see the plugin in every component.

The scheduler's own process is the one running ``airflow scheduler`` whose parent is the
test (``$OBS_TEST_HARNESS_PID``): the executor's workers, the task processes, Airflow 2.10's
DAG processor (the scheduler's child) and ``serve-logs`` are forked from it, so they carry
the same command line but another parent, and keep the plugin, as their Composer 3
counterparts have it. A worker or task started in a new interpreter (``[core]
mp_start_method`` spawn or forkserver, Python 3.14's default; Airflow 2.10's
``execute_tasks_new_python_interpreter``) has a command line of its own and keeps it too.

Where it differs from Composer 3: the scheduler still imports our package (it sends nothing
for those DAGs, but our modules are loaded there), and on Airflow 2.10 the DAG processor is the
scheduler's child rather than a component of its own (it has the plugin either way). Composer
3 runs CeleryExecutor workers, not LocalExecutor's: the task-side hooks are the same.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from callbacks import listener

PREFIX = os.environ.get("OBS_WITHOUT_SCHEDULER_DAG_PREFIX", "")
HARNESS = os.environ.get("OBS_TEST_HARNESS_PID", "")
HOOKS = (
    "on_task_instance_running",
    "on_task_instance_success",
    "on_task_instance_failed",
    "on_task_instance_skipped",
    "on_dag_run_success",
    "on_dag_run_failed",
)


def _in_the_scheduler() -> bool:
    """Whether this is the scheduler's own process (not one forked from it)."""
    return sys.argv[1:2] == ["scheduler"] and str(os.getppid()) == HARNESS


def _dag_id(arguments: tuple[Any, ...]) -> str | None:
    """The DAG of the hook's task instance or DAG run, read from what the object already
    holds (never through Airflow's session, as ``callbacks.snapshot`` explains)."""
    for argument in arguments:
        dag_id = getattr(argument, "__dict__", {}).get("dag_id")
        if isinstance(dag_id, str):
            return dag_id
    return None


def _outside_the_scheduler(hook: Callable[..., None]) -> Callable[..., None]:
    """``hook`` with its signature (pluggy passes the arguments its names ask for), dropped in
    the scheduler's own process for the DAGs without the scheduler's plugin."""

    @functools.wraps(hook)
    def forward(*arguments: Any) -> None:
        if PREFIX and _in_the_scheduler() and (_dag_id(arguments) or "").startswith(PREFIX):
            return
        hook(*arguments)

    return forward


without_scheduler = ModuleType("composer_obs_without_scheduler_listener")
for _name in HOOKS:
    setattr(without_scheduler, _name, _outside_the_scheduler(getattr(listener, _name)))


class ComposerObservabilityWithoutSchedulerPlugin(AirflowPlugin):
    name = "composer_observability_without_scheduler"
    listeners: ClassVar[list[ModuleType]] = [without_scheduler]
