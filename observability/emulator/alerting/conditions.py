"""How one metric condition of an alert policy is judged at one evaluation time.

The evaluator calls ``evaluate_threshold`` or ``evaluate_absent`` for every evaluation time
``t`` (a multiple of the evaluation step) in time order. Each keeps its memory in a
``ConditionState``: since when each series has violated (for ``duration``), the series seen
so far (for absence) and the last values read. The answer is a ``Verdict``: the series whose
violation has held for the duration (after the trigger count or percent), each with what its
incident shows, and the series to leave as they are (missing data with
EVALUATION_MISSING_DATA_NO_OP).

The time series come from the ``TimeSeriesEngine`` with the condition's ``aggregations``
applied in order, as Google documents them ("Multiple aggregations are applied in the order
specified": a second one works as ListTimeSeries' secondary aggregation), over the window
``(t - longest alignmentPeriod, t]`` (absence: ``(t - duration, t]``), so the value of a
series at ``t`` is its point ending at ``t`` after the last aggregation. A ratio condition
divides the numerator's value by the denominator's of the series with the same labels; a
series with no denominator value (or zero) has no value.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from observability.emulator.time_series.engine import Aggregation, Stage, TimeSeriesEngine
from observability.emulator.time_series.model import Distribution, TimeSeries

DEFAULT_PERIOD = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "COMPARISON_GT": operator.gt,
    "COMPARISON_GE": operator.ge,
    "COMPARISON_LT": operator.lt,
    "COMPARISON_LE": operator.le,
    "COMPARISON_EQ": operator.eq,
    "COMPARISON_NE": operator.ne,
}
_WORDS = {
    "COMPARISON_GT": "above",
    "COMPARISON_GE": "at or above",
    "COMPARISON_LT": "below",
    "COMPARISON_LE": "at or below",
    "COMPARISON_EQ": "equal to",
    "COMPARISON_NE": "not equal to",
}


def parse_duration(text: Any, default: float = 0.0) -> float:
    """Seconds of a JSON Duration ("60s", "1.5s"); ``default`` when absent."""
    if text is None or text == "":
        return default
    return float(str(text).rstrip("s"))


def aggregations_of(
    aggregations: list[dict[str, Any]] | None, field_name: str = "aggregations"
) -> tuple[Stage, ...]:
    """The engine's aggregation chain for a condition's ``aggregations`` list, in its order,
    each named by its place in the condition (errors say which one is wrong)."""
    if not aggregations:
        return ((field_name, Aggregation(DEFAULT_PERIOD)),)
    return tuple(
        (
            f"{field_name}[{index}]",
            Aggregation(
                parse_duration(one.get("alignmentPeriod"), DEFAULT_PERIOD),
                one.get("perSeriesAligner", "ALIGN_NONE"),
                one.get("crossSeriesReducer", "REDUCE_NONE"),
                tuple(one.get("groupByFields") or ()),
            ),
        )
        for index, one in enumerate(aggregations)
    )


def longest_period(stages: tuple[Stage, ...]) -> float:
    """How far back the last aggregation's point ending at ``t`` reads: the longest
    alignment period of the chain (five one-minute rates feed a five-minute mean)."""
    return max(aggregation.alignment_period or DEFAULT_PERIOD for _, aggregation in stages)


@dataclass(frozen=True, slots=True)
class SeriesValue:
    """One series at one time: its identity and value (None: no point)."""

    metric_type: str
    metric_labels: dict[str, str]
    resource_type: str
    resource_labels: dict[str, str]
    value: float | None

    @property
    def key(self) -> str:
        return json.dumps(
            [
                sorted(self.metric_labels.items()),
                self.resource_type,
                sorted(self.resource_labels.items()),
            ],
            separators=(",", ":"),
        )


EMPTY = SeriesValue("", {}, "", {}, None)


@dataclass(slots=True)
class ConditionState:
    """What the evaluator remembers of one condition between evaluation times."""

    since: dict[str, float] = field(default_factory=dict)
    last: dict[str, SeriesValue] = field(default_factory=dict)
    seen: dict[str, SeriesValue] = field(default_factory=dict)
    data_at: dict[str, float] = field(default_factory=dict)
    """Key -> the last evaluation time the series had a value (autoClose counts from it)."""


@dataclass(slots=True)
class Verdict:
    """``held``: key -> the series (and value) its incident shows; ``keep``: untouched keys."""

    held: dict[str, SeriesValue] = field(default_factory=dict)
    keep: set[str] = field(default_factory=set)


class SeriesReader:
    """Engine queries of one evaluation time, shared by every policy asking the same thing."""

    def __init__(self, engine: TimeSeriesEngine) -> None:
        self.engine = engine
        self._cache: dict[tuple[Any, ...], dict[str, SeriesValue]] = {}

    def read(
        self,
        project: str,
        filter_text: str,
        stages: tuple[Stage, ...],
        start: float,
        end: float,
    ) -> dict[str, SeriesValue]:
        """key -> newest value of each series with a point in ``(start, end]``, after the
        aggregations of ``stages`` in order."""
        cache_key = (project, filter_text, stages, start, end)
        found = self._cache.get(cache_key)
        if found is None:
            series = self.engine.list_aggregated(project, filter_text, _at(start), _at(end), stages)
            found = {}
            for one in series:
                value = _number(one)
                sv = SeriesValue(
                    one.metric_type,
                    dict(one.metric_labels),
                    one.resource_type,
                    dict(one.resource_labels),
                    value,
                )
                found[sv.key] = sv
            self._cache[cache_key] = found
        return found


def _at(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _number(series: TimeSeries) -> float | None:
    if not series.points:
        return None
    value = series.points[0].value  # newest first
    if isinstance(value, Distribution):
        return value.mean
    return float(value)


def _trigger_met(trigger: dict[str, Any] | None, held: int, total: int) -> bool:
    trigger = trigger or {}
    if "percent" in trigger:
        return total > 0 and held * 100.0 / total >= float(trigger["percent"]) and held > 0
    return held >= int(trigger.get("count") or 1)


def evaluate_threshold(
    reader: SeriesReader,
    project: str,
    condition: dict[str, Any],
    state: ConditionState,
    t: float,
    open_keys: set[str],
) -> Verdict:
    """Judge a conditionThreshold at ``t``; ``open_keys`` are series with an open incident."""
    spec = condition["conditionThreshold"]
    stages = aggregations_of(spec.get("aggregations"))
    values = reader.read(project, spec["filter"], stages, t - longest_period(stages), t)
    if spec.get("denominatorFilter"):
        den_stages = aggregations_of(
            spec.get("denominatorAggregations"), "denominator_aggregations"
        )
        denominators = reader.read(
            project, spec["denominatorFilter"], den_stages, t - longest_period(den_stages), t
        )
        ratios = {}
        for key, den in denominators.items():
            num = values.get(key)
            numerator = num.value if num is not None and num.value is not None else 0.0
            ratio = numerator / den.value if den.value else None
            ratios[key] = SeriesValue(
                den.metric_type if num is None else num.metric_type,
                den.metric_labels,
                den.resource_type,
                den.resource_labels,
                ratio,
            )
        values = ratios
    compare = COMPARISONS.get(spec.get("comparison", ""), operator.gt)
    threshold = float(spec.get("thresholdValue") or 0.0)
    duration = parse_duration(spec.get("duration"))
    # unset means NO_OP (the API reference: "Equivalent to EVALUATION_MISSING_DATA_NO_OP"), so a
    # sparse series (a log-based metric with no new entries) keeps its incident open until
    # the policy's autoClose, rather than "recovering" the minute after its last point
    missing = spec.get("evaluationMissingData") or "EVALUATION_MISSING_DATA_NO_OP"
    if missing == "EVALUATION_MISSING_DATA_UNSPECIFIED":
        missing = "EVALUATION_MISSING_DATA_NO_OP"
    verdict = Verdict()
    with_value = 0
    keys = set(values) | set(state.since) | open_keys
    if missing in ("EVALUATION_MISSING_DATA_ACTIVE", "EVALUATION_MISSING_DATA_NO_OP"):
        keys |= set(state.last)  # series seen before and silent now
    for key in keys:
        current = values.get(key)
        if current is not None and current.value is not None:
            with_value += 1
            state.last[key] = current
            state.data_at[key] = t
            violating = compare(current.value, threshold)
        elif missing == "EVALUATION_MISSING_DATA_NO_OP":
            verdict.keep.add(key)
            continue
        else:
            violating = missing == "EVALUATION_MISSING_DATA_ACTIVE"
        if not violating:
            state.since.pop(key, None)
            continue
        since = state.since.setdefault(key, t)
        # the duration delays opening; an open incident (say, from before a restart, when
        # this memory was lost) stays open while its series still violates
        if t - since >= duration or key in open_keys:
            verdict.held[key] = state.last.get(key) or EMPTY
    if not _trigger_met(spec.get("trigger"), len(verdict.held), with_value or len(verdict.held)):
        verdict.held = {}
    return verdict


def evaluate_absent(
    reader: SeriesReader,
    project: str,
    condition: dict[str, Any],
    state: ConditionState,
    t: float,
) -> Verdict:
    """Judge a conditionAbsent at ``t``: series seen before (since the emulator started) with
    no point for ``duration``. A series never seen cannot be absent, as on Google, where an
    absence condition concerns time series that have reported data."""
    spec = condition["conditionAbsent"]
    stages = aggregations_of(spec.get("aggregations"))
    duration = max(parse_duration(spec.get("duration"), 120.0), longest_period(stages))
    present = reader.read(project, spec["filter"], stages, t - duration, t)
    state.seen.update(present)
    verdict = Verdict()
    for key, series in state.seen.items():
        if key not in present:
            verdict.held[key] = series
    if not _trigger_met(spec.get("trigger"), len(verdict.held), len(state.seen) or 1):
        verdict.held = {}
    return verdict


def describe(condition: dict[str, Any], series: SeriesValue, project: str) -> dict[str, Any]:
    """What an incident of this condition shows: metric, resource, values and summary."""
    spec = condition.get("conditionThreshold") or condition.get("conditionAbsent") or {}
    metric_type = series.metric_type
    display = metric_type.split("/user/", 1)[-1] if metric_type else ""
    subject = f"{display or spec.get('filter', '')} for {project}"
    if series.resource_labels:
        subject += " " + " ".join(f"{k}={v}" for k, v in sorted(series.resource_labels.items()))
    if series.metric_labels:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(series.metric_labels.items()))
        subject += f" with metric labels {{{labels}}}"
    detail: dict[str, Any] = {
        "metric": {"type": metric_type, "displayName": display, "labels": series.metric_labels},
        "resource": {"type": series.resource_type, "labels": series.resource_labels},
    }
    if "conditionThreshold" in condition:
        threshold = float(spec.get("thresholdValue") or 0.0)
        word = _WORDS.get(spec.get("comparison", ""), "above")
        value = series.value
        detail["threshold_value"] = _text(threshold)
        detail["observed_value"] = _text(value) if value is not None else ""
        detail["summary"] = f"{subject} is {word} the threshold of {threshold:.3f}" + (
            f" with a value of {value:.3f}." if value is not None else "."
        )
        detail["summary_closed"] = f"{subject} returned to normal."
    else:
        detail["threshold_value"] = "0"
        detail["observed_value"] = "0"
        detail["summary"] = f"{subject} has been absent for {spec.get('duration', '')}."
        detail["summary_closed"] = f"{subject} is reporting data again."
    return detail


def _text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
