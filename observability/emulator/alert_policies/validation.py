"""Cloud Monitoring's rules for alert policies, as refusals.

Every rule raises ``ApiError`` INVALID_ARGUMENT whose message names the field the way Google
does (``Field alert_policy.conditions[1].condition_absent.duration had an invalid value of
"60s": ...``), snake_case paths as the gRPC API spells them. The rules come from the field
documentation of ``google/monitoring/v3/alert.proto``, ``common.proto`` and
``notification.proto``; where Google documents a limit but does not say whether it refuses
(the subject line is *truncated* to 255 bytes, not refused), the emulator accepts, because a
valid policy must never be refused.

Functions take raw protobufs (``AlertPolicy.pb()`` instances), as the gRPC edge decodes them.
"""

from __future__ import annotations

import re
from typing import Any, Final

from google.cloud.monitoring_v3.types import Aggregation, AlertPolicy, ComparisonType
from google.protobuf import duration_pb2

from observability.emulator.common.extractors import parse_extractor
from observability.emulator.common.monitoring_filter import (
    MonitoringFilterError,
    compile_monitoring_filter,
)
from observability.emulator.common.validation import (
    check_length,
    check_user_labels,
    invalid,
    required,
)
from observability.emulator.descriptors.rules import Lookup, builtin, check_aligner
from observability.logfilter import FilterError, compile_filter

MAX_DISPLAY_NAME_CHARS: Final = 512
MAX_CONTENT_CHARS: Final = 8192
MAX_CONTENT_BYTES: Final = 10240
MAX_SUBJECT_BYTES: Final = 10240
MAX_LINKS: Final = 3
MAX_LINK_NAME_CHARS: Final = 63
MAX_LINK_URL_CHARS: Final = 2083
MIN_CONDITIONS: Final = 1
MAX_CONDITIONS: Final = 6
MAX_FILTER_CHARS: Final = 2048
MIN_ABSENT_SECONDS: Final = 120
MIN_ALIGNMENT_SECONDS: Final = 60
MIMETYPE: Final = "text/markdown"

_PolicyPb = AlertPolicy.pb()
_Combiner = _PolicyPb.ConditionCombinerType
_Severity = _PolicyPb.Severity
_Prompt = _PolicyPb.AlertStrategy.NotificationPrompt
_Aligner = Aggregation.pb().Aligner
_Reducer = Aggregation.pb().Reducer
_Comparison = ComparisonType
_COMPARISONS = frozenset(
    _PolicyPb.Condition.MetricThreshold.DESCRIPTOR.fields_by_name[
        "comparison"
    ].enum_type.values_by_number
)
_MissingData = _PolicyPb.Condition.EvaluationMissingData

CONDITION_KINDS: Final = (
    "condition_threshold",
    "condition_absent",
    "condition_matched_log",
    "condition_monitoring_query_language",
    "condition_prometheus_query_language",
    "condition_sql",
)
"""The ``condition`` oneof's members, in proto order."""

CHANNEL_NAME = re.compile(r"projects/[^/]+/notificationChannels/[^/]+")


def duration_text(value: duration_pb2.Duration) -> str:
    return value.ToJsonString()


def _seconds(value: duration_pb2.Duration) -> float:
    return value.seconds + value.nanos / 1e9


def _check_duration(
    value: duration_pb2.Duration, field: str, minimum: int = 0, minute_multiple: bool = True
) -> None:
    seconds = _seconds(value)
    if seconds < 0:
        raise invalid(field, duration_text(value), "must not be negative")
    if seconds < minimum:
        raise invalid(field, duration_text(value), f"must be at least {minimum} seconds")
    if minute_multiple and value.seconds % 60:
        raise invalid(
            field,
            duration_text(value),
            "only multiples of a minute (0s, 60s, 120s...) are supported",
        )


def _check_metric_filter(
    text: str, field: str, *, required_text: bool = True
) -> frozenset[str] | None:
    """Check a condition's Monitoring filter; the metric types it pins down, if it does."""
    if not text.strip():
        if required_text:
            raise required(field, "a Monitoring filter naming a metric.type")
        return None
    check_length(field, text, MAX_FILTER_CHARS)
    try:
        compiled = compile_monitoring_filter(text)
    except MonitoringFilterError as error:
        raise invalid(field, text, str(error)) from error
    if not compiled.mentions_metric_type:
        raise invalid(field, text, "the filter must specify a metric type (metric.type = ...)")
    return compiled.metric_types


def _check_aggregations(
    aggregations: Any, field: str, metric_types: frozenset[str] | None, descriptors: Lookup
) -> None:
    """Each aggregation's own rules; the first one's aligner must also fit the kind and value
    type of the metric the filter names, when ``descriptors`` knows it (later ones align what
    the first answered)."""
    for i, agg in enumerate(aggregations):
        where = f"{field}[{i}]"
        aligner = agg.per_series_aligner
        reducer = agg.cross_series_reducer
        if aligner not in _Aligner.values():
            raise invalid(f"{where}.per_series_aligner", aligner, "unknown aligner")
        if i == 0:
            check_aligner(
                metric_types, _Aligner.Name(aligner), f"{where}.per_series_aligner", descriptors
            )
        if reducer not in _Reducer.values():
            raise invalid(f"{where}.cross_series_reducer", reducer, "unknown reducer")
        has_period = agg.HasField("alignment_period")
        if has_period and _seconds(agg.alignment_period) < MIN_ALIGNMENT_SECONDS:
            raise invalid(
                f"{where}.alignment_period",
                duration_text(agg.alignment_period),
                f"must be at least {MIN_ALIGNMENT_SECONDS} seconds",
            )
        if aligner != _Aligner.ALIGN_NONE and not has_period:
            raise required(
                f"{where}.alignment_period",
                f"per_series_aligner {_Aligner.Name(aligner)} needs an alignment period",
            )
        if reducer != _Reducer.REDUCE_NONE:
            if aligner == _Aligner.ALIGN_NONE:
                raise invalid(
                    f"{where}.per_series_aligner",
                    _Aligner.Name(aligner),
                    f"cross_series_reducer {_Reducer.Name(reducer)} needs a per_series_aligner "
                    "other than ALIGN_NONE",
                )
        elif agg.group_by_fields:
            # group_by_fields without a reducer are ignored by Google, not refused.
            pass


def _check_trigger(condition: Any, field: str) -> None:
    if not condition.HasField("trigger"):
        return
    trigger = condition.trigger
    which = trigger.WhichOneof("type")
    if which == "count" and trigger.count < 0:
        raise invalid(f"{field}.trigger.count", trigger.count, "must not be negative")
    if which == "percent" and not 0 <= trigger.percent <= 100:
        raise invalid(f"{field}.trigger.percent", trigger.percent, "must be between 0 and 100")


def _check_threshold(cond: Any, field: str, descriptors: Lookup) -> None:
    metric_types = _check_metric_filter(cond.filter, f"{field}.filter")
    _check_aggregations(cond.aggregations, f"{field}.aggregations", metric_types, descriptors)
    if cond.denominator_filter:
        denominator_types = _check_metric_filter(
            cond.denominator_filter, f"{field}.denominator_filter"
        )
        _check_aggregations(
            cond.denominator_aggregations,
            f"{field}.denominator_aggregations",
            denominator_types,
            descriptors,
        )
    elif cond.denominator_aggregations:
        raise required(f"{field}.denominator_filter", "denominator_aggregations were given")
    if cond.comparison == _Comparison.COMPARISON_UNSPECIFIED:
        raise required(f"{field}.comparison", "one of COMPARISON_GT, COMPARISON_LT...")
    if cond.comparison not in _COMPARISONS:
        raise invalid(f"{field}.comparison", cond.comparison, "unknown comparison")
    _check_duration(cond.duration, f"{field}.duration")
    _check_trigger(cond, field)
    if cond.evaluation_missing_data not in _MissingData.values():
        raise invalid(
            f"{field}.evaluation_missing_data", cond.evaluation_missing_data, "unknown value"
        )


def _check_absent(cond: Any, field: str, descriptors: Lookup) -> None:
    metric_types = _check_metric_filter(cond.filter, f"{field}.filter")
    _check_aggregations(cond.aggregations, f"{field}.aggregations", metric_types, descriptors)
    if not cond.HasField("duration"):
        raise required(f"{field}.duration", f"at least {MIN_ABSENT_SECONDS}s")
    _check_duration(cond.duration, f"{field}.duration", minimum=MIN_ABSENT_SECONDS)
    _check_trigger(cond, field)


def _check_matched_log(cond: Any, field: str) -> None:
    if not cond.filter.strip():
        raise required(f"{field}.filter", "a Logging query")
    try:
        compile_filter(cond.filter)
    except FilterError as error:
        raise invalid(
            f"{field}.filter", cond.filter, f"{error.message} at position {error.position}"
        ) from error
    for key, extractor in cond.label_extractors.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            raise invalid(
                f"{field}.label_extractors",
                key,
                "a label key starts with a letter and holds letters, digits and '_'",
            )
        parse_extractor(extractor, f"Field {field}.label_extractors[{key!r}]")


def _check_mql(cond: Any, field: str) -> None:
    if not cond.query.strip():
        raise required(f"{field}.query")
    _check_duration(cond.duration, f"{field}.duration")
    _check_trigger(cond, field)


def _check_promql(cond: Any, field: str) -> None:
    if not cond.query.strip():
        raise required(f"{field}.query")
    if _seconds(cond.duration) < 0:
        raise invalid(f"{field}.duration", duration_text(cond.duration), "must not be negative")
    if cond.HasField("evaluation_interval"):
        interval = _seconds(cond.evaluation_interval)
        if interval <= 0 or cond.evaluation_interval.seconds % 30 or cond.evaluation_interval.nanos:
            raise invalid(
                f"{field}.evaluation_interval",
                duration_text(cond.evaluation_interval),
                "must be a positive multiple of 30 seconds",
            )
    for name, text in (("rule_group", cond.rule_group), ("alert_rule", cond.alert_rule)):
        check_length(f"{field}.{name}", text, MAX_FILTER_CHARS)


def _check_sql(cond: Any, field: str) -> None:
    if not cond.query.strip():
        raise required(f"{field}.query")


_METRIC_CHECKS = {
    "condition_threshold": _check_threshold,
    "condition_absent": _check_absent,
}
"""Conditions on a metric's time series, whose aligners are checked against its descriptor."""
_CHECKS = {
    "condition_matched_log": _check_matched_log,
    "condition_monitoring_query_language": _check_mql,
    "condition_prometheus_query_language": _check_promql,
    "condition_sql": _check_sql,
}
_ALONE = ("condition_matched_log", "condition_monitoring_query_language")
"""Kinds the proto documents as having to be a policy's only condition."""


def _check_documentation(doc: Any) -> None:
    field = "alert_policy.documentation"
    if len(doc.content) > MAX_CONTENT_CHARS or len(doc.content.encode()) > MAX_CONTENT_BYTES:
        raise invalid(
            f"{field}.content",
            doc.content,
            f"may not exceed {MAX_CONTENT_CHARS} characters or {MAX_CONTENT_BYTES} bytes",
        )
    if doc.mime_type and doc.mime_type != MIMETYPE:
        raise invalid(f"{field}.mime_type", doc.mime_type, f'only "{MIMETYPE}" is supported')
    if len(doc.subject.encode()) > MAX_SUBJECT_BYTES:
        raise invalid(f"{field}.subject", doc.subject, f"may not exceed {MAX_SUBJECT_BYTES} bytes")
    if len(doc.links) > MAX_LINKS:
        raise invalid(f"{field}.links", f"{len(doc.links)} links", f"at most {MAX_LINKS} allowed")
    for i, link in enumerate(doc.links):
        if not link.display_name or len(link.display_name) > MAX_LINK_NAME_CHARS:
            raise invalid(
                f"{field}.links[{i}].display_name",
                link.display_name,
                f"must be non-empty and at most {MAX_LINK_NAME_CHARS} characters",
            )
        check_length(f"{field}.links[{i}].url", link.url, MAX_LINK_URL_CHARS)


def _check_strategy(policy: Any, kinds: list[str | None]) -> None:
    field = "alert_policy.alert_strategy"
    strategy = policy.alert_strategy
    if "condition_matched_log" in kinds:
        limit = strategy.notification_rate_limit
        if not strategy.HasField("notification_rate_limit") or not limit.HasField("period"):
            raise required(
                f"{field}.notification_rate_limit.period",
                "log-match (condition_matched_log) policies need a notification rate limit",
            )
    if strategy.HasField("notification_rate_limit") and strategy.notification_rate_limit.HasField(
        "period"
    ):
        period = strategy.notification_rate_limit.period
        if _seconds(period) <= 0:
            raise invalid(
                f"{field}.notification_rate_limit.period", duration_text(period), "must be positive"
            )
    for prompt in strategy.notification_prompts:
        if prompt not in (_Prompt.OPENED, _Prompt.CLOSED):
            raise invalid(f"{field}.notification_prompts", prompt, "must be OPENED or CLOSED")
    if strategy.HasField("auto_close") and _seconds(strategy.auto_close) < 0:
        raise invalid(
            f"{field}.auto_close", duration_text(strategy.auto_close), "must not be negative"
        )
    for i, per_channel in enumerate(strategy.notification_channel_strategy):
        for name in per_channel.notification_channel_names:
            if name not in policy.notification_channels:
                raise invalid(
                    f"{field}.notification_channel_strategy[{i}].notification_channel_names",
                    name,
                    "must be one of the policy's notification_channels",
                )


def validate_policy(policy: Any, descriptors: Lookup = builtin) -> None:
    """Refuse what Cloud Monitoring refuses in an AlertPolicy (raw protobuf); the channels'
    existence is checked by the service, which knows them. ``descriptors`` answers the metric
    descriptors of the policy's project (the built-ins alone when no project is at hand, as
    when provisioning validates offline), against which condition aligners are checked."""
    if not policy.display_name.strip():
        raise required("alert_policy.display_name")
    check_length(
        "alert_policy.display_name", policy.display_name, MAX_DISPLAY_NAME_CHARS, "is limited to"
    )
    if policy.HasField("documentation"):
        _check_documentation(policy.documentation)
    check_user_labels(policy.user_labels, "alert_policy.user_labels")
    count = len(policy.conditions)
    if not MIN_CONDITIONS <= count <= MAX_CONDITIONS:
        raise invalid(
            "alert_policy.conditions",
            f"{count} conditions",
            f"a policy has from {MIN_CONDITIONS} to {MAX_CONDITIONS} conditions",
        )
    if policy.combiner not in _Combiner.values():
        raise invalid("alert_policy.combiner", policy.combiner, "unknown combiner")
    if count > 1 and policy.combiner == _Combiner.COMBINE_UNSPECIFIED:
        raise required(
            "alert_policy.combiner",
            "a policy with several conditions needs AND, OR or AND_WITH_MATCHING_RESOURCE",
        )
    kinds: list[str | None] = []
    for i, condition in enumerate(policy.conditions):
        field = f"alert_policy.conditions[{i}]"
        if not condition.display_name.strip():
            raise required(f"{field}.display_name")
        kind = condition.WhichOneof("condition")
        if kind is None:
            raise required(field, "exactly one of " + ", ".join(CONDITION_KINDS))
        kinds.append(kind)
        if kind in _METRIC_CHECKS:
            _METRIC_CHECKS[kind](getattr(condition, kind), f"{field}.{kind}", descriptors)
        else:
            _CHECKS[kind](getattr(condition, kind), f"{field}.{kind}")
    for kind in _ALONE:
        if kind in kinds and count > 1:
            raise invalid(
                "alert_policy.conditions",
                f"{count} conditions",
                f"a policy with a {kind} must have no other condition",
            )
    for i, name in enumerate(policy.notification_channels):
        if not CHANNEL_NAME.fullmatch(name):
            raise invalid(
                f"alert_policy.notification_channels[{i}]",
                name,
                "Name must begin with 'projects/{project_id}/notificationChannels/{channel_id}'",
            )
    _check_strategy(policy, kinds)
    if policy.severity not in _Severity.values():
        raise invalid(
            "alert_policy.severity", policy.severity, "must be CRITICAL, ERROR or WARNING"
        )
