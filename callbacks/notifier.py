"""``CloudLoggingNotifier``: our events as an Airflow notifier, composable with Slack, PagerDuty.

Airflow runs every notifier in a callback list, so ``on_failure_callback=[CloudLoggingNotifier(),
SlackNotifier(...)]`` records the event and pages. Importing this module imports Airflow; the
``callbacks`` package only loads it when ``CloudLoggingNotifier`` is first used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callbacks.context import EventFields, dag_callback_event, task_event
from callbacks.lifecycle import _never_raises
from observability.events import EventType

try:  # Airflow 3
    from airflow.sdk import BaseNotifier
except ImportError:  # Airflow 2.10
    from airflow.notifications.basenotifier import BaseNotifier

_TASK_EVENT_BY_STATE = {
    "running": EventType.TASK_STARTED,
    "success": EventType.TASK_SUCCEEDED,
    "failed": EventType.TASK_FAILED,
    "up_for_retry": EventType.TASK_UP_FOR_RETRY,
    "skipped": EventType.TASK_SKIPPED,
}


def _state(obj: Any) -> str | None:
    state = getattr(obj, "state", None)
    return None if state is None else str(getattr(state, "value", state))


def event_for(
    context: Mapping[str, Any], event_type: EventType | None = None
) -> EventFields | None:
    """The event a notifier call stands for: given, or read from the context.

    DAG-level callbacks carry ``reason`` in their context; task-level ones do not, and the
    task instance's state tells which lifecycle step this is.
    """
    if event_type is None:
        if "reason" in context:
            failed = _state(context.get("dag_run")) == "failed" or "fail" in str(context["reason"])
            event_type = EventType.DAG_RUN_FAILED if failed else EventType.DAG_RUN_SUCCEEDED
        else:
            ti = context.get("task_instance") or context.get("ti")
            event_type = _TASK_EVENT_BY_STATE.get(_state(ti) or "", EventType.TASK_FAILED)
    if event_type in (EventType.DAG_RUN_FAILED, EventType.DAG_RUN_SUCCEEDED):
        return dag_callback_event(event_type.value, context)
    return task_event(event_type.value, context)


class CloudLoggingNotifier(BaseNotifier):
    """Writes the callback's event to Cloud Logging; never raises, never waits on the network.

    ``event_type`` pins the event (e.g. ``"task_up_for_retry"``); by default it is read from
    the context, so one instance works in any callback slot.
    """

    template_fields = ()

    def __init__(self, event_type: str | EventType | None = None) -> None:
        super().__init__()
        self.event_type = EventType(event_type) if event_type is not None else None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render (no templated fields). Skipping it also sidesteps Airflow 3.3's
        ``dags test``, whose DAG callbacks get a SerializedDAG that cannot render templates."""

    def notify(self, context: Mapping[str, Any]) -> None:
        pinned = self.event_type

        def build(ctx: Mapping[str, Any]) -> EventFields | None:
            return event_for(ctx, pinned)

        build.__name__ = "CloudLoggingNotifier"
        _never_raises(build)(context)
