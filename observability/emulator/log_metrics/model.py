"""Log-based metrics: Google's validation of a LogMetric, and its compiled, countable form.

``validate`` checks a ``google.logging.v2.LogMetric`` (raw protobuf) the way Cloud Logging
does and raises ``ApiError`` (INVALID_ARGUMENT) naming the field; ``compile_metric`` turns an
accepted one into a ``CompiledMetric`` whose filter, extractors and buckets are built once, so
that counting an entry is a few closure calls. The counting rules: a label whose extraction
fails gets "" / 0 / false, a distribution value that is not a number drops the point, and
label values are cut at 1,024 characters.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from google.api import label_pb2, metric_pb2

from observability.emulator.common.errors import ApiError
from observability.emulator.common.extractors import (
    Extractor,
    entry_text,
    extractor_key,
    parse_extractor,
)
from observability.logfilter import (
    And,
    Comparison,
    FieldPath,
    FilterError,
    FunctionCall,
    Node,
    Not,
    Or,
    compile_filter,
    parse_filter,
)
from observability.logfilter.schema import resolve

MAX_NAME_CHARS: Final = 100
MAX_FILTER_CHARS: Final = 20_000
MAX_DESCRIPTION_CHARS: Final = 8_000
MAX_LABELS: Final = 10
MAX_BUCKETS: Final = 200
MAX_LABEL_VALUE_CHARS: Final = 1_024
METRIC_TYPE_PREFIX: Final = "logging.googleapis.com/user/"

_NAME_CHARS = re.compile(r"[A-Za-z0-9_\-.,+!*'()%/]+")
_NAME_ALLOWED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,+!*'()%/"
)
_LABEL_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")

Kind = metric_pb2.MetricDescriptor.MetricKind
ValueType = metric_pb2.MetricDescriptor.ValueType
LabelType = label_pb2.LabelDescriptor.ValueType


def metric_type(name: str) -> str:
    """The Monitoring metric type of the log-based metric ``name``."""
    return METRIC_TYPE_PREFIX + name


def effective_kind(metric: Any) -> int:
    """The metric kind with the default applied (DELTA)."""
    kind = metric.metric_descriptor.metric_kind
    return int(kind) if kind else int(Kind.DELTA)


def effective_value_type(metric: Any) -> int:
    """The value type with the default applied (INT64 counter)."""
    value_type = metric.metric_descriptor.value_type
    return int(value_type) if value_type else int(ValueType.INT64)


def check_name(name: str, field: str = "name") -> None:
    """Google's metric identifier rules."""
    if not name:
        raise ApiError.invalid(f"{field}: required")
    if len(name) > MAX_NAME_CHARS:
        raise ApiError.invalid(
            f"{field}: at most {MAX_NAME_CHARS} characters are allowed, got {len(name)}"
        )
    if name.startswith("/"):
        raise ApiError.invalid(f"{field}: must not start with '/'")
    if not _NAME_CHARS.fullmatch(name):
        bad = "".join(sorted(set(name) - _NAME_ALLOWED))
        raise ApiError.invalid(
            f"{field}: may only contain letters, digits and _-.,+!*'()%/, got {bad!r} in {name!r}"
        )


def _top_keys(node: Node, text: str) -> set[str] | None:
    """The top-level REST keys of a LogEntry a filter reads, or None when it may read any."""
    if isinstance(node, (And, Or)):
        keys: set[str] = set()
        for child in node.children:
            found = _top_keys(child, text)
            if found is None:
                return None
            keys |= found
        return keys
    if isinstance(node, Not):
        return _top_keys(node.child, text)
    if isinstance(node, Comparison) and isinstance(node.lhs, FieldPath):
        return {resolve(node.lhs, text).keys[0]}
    if isinstance(node, FunctionCall) and node.name == "log_id":
        return {"logName"}
    return None  # global restrictions, SEARCH(), sample(), cast()...


_BUCKET_FLOORS: Final = {
    "linear_buckets": (("num_finite_buckets", 0), ("width", 0)),
    "exponential_buckets": (("num_finite_buckets", 0), ("growth_factor", 1), ("scale", 0)),
}
"""What each computed bucket shape's parameters must exceed, checked in this order."""


def bucket_bounds(options: Any, where: str = "bucket_options") -> list[float]:
    """The finite bucket boundaries of ``BucketOptions``; ``len + 1`` buckets in all."""
    which = options.WhichOneof("options")
    if which is None:
        raise ApiError.invalid(f"{where}: one of linear, exponential or explicit is required")
    if which in _BUCKET_FLOORS:
        shape = getattr(options, which)
        for name, floor in _BUCKET_FLOORS[which]:
            if getattr(shape, name) <= floor:
                raise ApiError.invalid(f"{where}.{which}.{name}: must be > {floor}")
        count = shape.num_finite_buckets
        _check_count(count + 2, where)
        if which == "linear_buckets":
            return [shape.offset + shape.width * i for i in range(count + 1)]
        return [shape.scale * shape.growth_factor**i for i in range(count + 1)]
    bounds = list(options.explicit_buckets.bounds)
    if not bounds:
        raise ApiError.invalid(f"{where}.explicit_buckets.bounds: at least one bound is required")
    if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
        raise ApiError.invalid(f"{where}.explicit_buckets.bounds: must be strictly increasing")
    _check_count(len(bounds) + 1, where)
    return bounds


def _check_count(count: int, where: str) -> None:
    if count > MAX_BUCKETS:
        raise ApiError.invalid(
            f"{where}: {count} buckets (with the underflow and overflow ones), at most "
            f"{MAX_BUCKETS} are allowed"
        )


def validate(metric: Any, existing: Any | None = None) -> None:
    """Refuse ``metric`` (a LogMetric protobuf) as Cloud Logging would; ``existing`` is the
    stored version on update, for the immutability rules."""
    check_name(metric.name, "metric.name")
    if len(metric.description) > MAX_DESCRIPTION_CHARS:
        raise ApiError.invalid(
            f"metric.description: at most {MAX_DESCRIPTION_CHARS} characters are allowed"
        )
    if not metric.filter.strip():
        raise ApiError.invalid("metric.filter: required")
    if len(metric.filter) > MAX_FILTER_CHARS:
        raise ApiError.invalid(
            f"metric.filter: {len(metric.filter)} characters, at most {MAX_FILTER_CHARS} allowed"
        )
    try:
        compile_filter(metric.filter)
    except FilterError as error:
        raise ApiError.invalid(f"metric.filter: {error}") from error
    descriptor = metric.metric_descriptor
    kind = effective_kind(metric)
    value_type = effective_value_type(metric)
    if kind != Kind.DELTA:
        raise ApiError.invalid(
            f"metric.metric_descriptor.metric_kind: log-based metrics are DELTA, got "
            f"{Kind.Name(kind)}"
        )
    if value_type not in (ValueType.INT64, ValueType.DISTRIBUTION):
        raise ApiError.invalid(
            "metric.metric_descriptor.value_type: must be INT64 (a counter) or DISTRIBUTION, "
            f"got {ValueType.Name(value_type)}"
        )
    if value_type == ValueType.DISTRIBUTION:
        if not metric.value_extractor:
            raise ApiError.invalid("metric.value_extractor: required for a DISTRIBUTION metric")
        parse_extractor(metric.value_extractor, "metric.value_extractor")
        if not metric.HasField("bucket_options"):
            raise ApiError.invalid("metric.bucket_options: required for a DISTRIBUTION metric")
        bucket_bounds(metric.bucket_options, "metric.bucket_options")
    else:
        if metric.value_extractor:
            raise ApiError.invalid(
                "metric.value_extractor: only a DISTRIBUTION metric has a value extractor"
            )
        if metric.HasField("bucket_options"):
            raise ApiError.invalid(
                "metric.bucket_options: only a DISTRIBUTION metric has bucket options"
            )
    declared: dict[str, int] = {}
    for index, label in enumerate(descriptor.labels):
        where = f"metric.metric_descriptor.labels[{index}].key"
        if not _LABEL_KEY.fullmatch(label.key):
            raise ApiError.invalid(
                f"{where}: must start with a letter and hold only letters, digits and _ "
                f"(at most 100 characters), got {label.key!r}"
            )
        if label.key in declared:
            raise ApiError.invalid(f"{where}: duplicate label {label.key!r}")
        declared[label.key] = int(label.value_type)
    if len(declared) > MAX_LABELS:
        raise ApiError.invalid(
            f"metric.metric_descriptor.labels: {len(declared)} labels, at most {MAX_LABELS} "
            "are allowed"
        )
    for key, text in metric.label_extractors.items():
        if key not in declared:
            raise ApiError.invalid(
                f"metric.label_extractors[{key}]: the label {key!r} is not declared in "
                "metric.metric_descriptor.labels"
            )
        parse_extractor(text, f"metric.label_extractors[{key}]")
    for key in declared:
        if key not in metric.label_extractors:
            raise ApiError.invalid(
                f"metric.metric_descriptor.labels: the label {key!r} has no extractor in "
                "metric.label_extractors"
            )
    if existing is not None:
        _check_update(metric, existing, declared)


def _check_update(metric: Any, existing: Any, declared: dict[str, int]) -> None:
    if effective_kind(metric) != effective_kind(existing):
        raise ApiError.invalid("metric.metric_descriptor.metric_kind: cannot be changed")
    if effective_value_type(metric) != effective_value_type(existing):
        raise ApiError.invalid(
            f"metric.metric_descriptor.value_type: cannot be changed (it is "
            f"{ValueType.Name(effective_value_type(existing))})"
        )
    for label in existing.metric_descriptor.labels:
        if label.key not in declared:
            raise ApiError.invalid(
                f"metric.metric_descriptor.labels: the label {label.key!r} cannot be removed"
            )
        if declared[label.key] != int(label.value_type):
            raise ApiError.invalid(
                f"metric.metric_descriptor.labels: the type of label {label.key!r} cannot be "
                f"changed (it is {LabelType.Name(label.value_type)})"
            )


def complete(metric: Any, parent: str) -> None:
    """Fill the fields the server owns in the descriptor (kind, type, unit, name)."""
    descriptor = metric.metric_descriptor
    descriptor.metric_kind = effective_kind(metric)
    descriptor.value_type = effective_value_type(metric)
    if not descriptor.unit and descriptor.value_type == ValueType.INT64:
        descriptor.unit = "1"
    descriptor.type = metric_type(metric.name)
    descriptor.name = f"{parent}/metricDescriptors/{descriptor.type}"
    if not descriptor.description and metric.description:
        descriptor.description = metric.description


LabelValue = str | int | bool


@dataclass(frozen=True, slots=True)
class LabelSpec:
    key: str
    extract: Extractor
    value_type: int


_INT64_LABEL: Final = int(LabelType.Value("INT64"))
_BOOL_LABEL: Final = int(LabelType.Value("BOOL"))


def _label_reader(spec: LabelSpec) -> Callable[[dict[str, Any]], LabelValue]:
    """A closure reading one label's value, its type decided once (enum lookups are slow)."""
    extract = spec.extract
    if spec.value_type == _INT64_LABEL:

        def read_int(entry: dict[str, Any]) -> LabelValue:
            raw = extract(entry)
            if raw is None:
                return 0
            try:
                return int(float(entry_text(raw)))
            except (ValueError, OverflowError):
                return 0

        return read_int
    if spec.value_type == _BOOL_LABEL:

        def read_bool(entry: dict[str, Any]) -> LabelValue:
            raw = extract(entry)
            if raw.__class__ is bool:
                return bool(raw)
            return raw is not None and entry_text(raw).lower() == "true"

        return read_bool

    def read_string(entry: dict[str, Any]) -> LabelValue:
        raw = extract(entry)
        if raw.__class__ is str:
            return raw[:MAX_LABEL_VALUE_CHARS]
        if raw is None:
            return ""
        return entry_text(raw)[:MAX_LABEL_VALUE_CHARS]

    return read_string


@dataclass(frozen=True, slots=True)
class CompiledMetric:
    """A log-based metric ready to count entries."""

    parent: str
    name: str
    metric_id: int
    created_ns: int
    disabled: bool
    matches: Callable[[dict[str, Any]], bool]
    labels: tuple[LabelSpec, ...]
    readers: tuple[Callable[[dict[str, Any]], LabelValue], ...]
    value: Extractor | None
    bounds: tuple[float, ...] | None
    metric: Any  # the stored LogMetric protobuf
    reads: frozenset[str] | None = None
    """Top-level LogEntry keys the filter and extractors read (None: possibly any)."""

    @property
    def type(self) -> str:
        return metric_type(self.name)

    @property
    def is_distribution(self) -> bool:
        return self.bounds is not None

    def label_values(self, entry: dict[str, Any]) -> tuple[LabelValue, ...]:
        return tuple([read(entry) for read in self.readers])

    def point_value(self, entry: dict[str, Any]) -> float | None:
        """The distribution value of ``entry``, or None when it does not convert."""
        assert self.value is not None
        raw = self.value(entry)
        if raw is None or isinstance(raw, bool):
            return None
        if isinstance(raw, (int, float)):
            return float(raw)
        try:
            return float(entry_text(raw))
        except ValueError:
            return None

    def bucket(self, value: float) -> int:
        assert self.bounds is not None
        return bisect.bisect_right(self.bounds, value)


def compile_metric(metric: Any, parent: str, metric_id: int, created_ns: int) -> CompiledMetric:
    """The countable form of an accepted metric."""
    labels = tuple(
        LabelSpec(
            label.key,
            parse_extractor(metric.label_extractors[label.key], label.key),
            int(label.value_type),
        )
        for label in metric.metric_descriptor.labels
    )
    distribution = effective_value_type(metric) == ValueType.DISTRIBUTION
    return CompiledMetric(
        parent=parent,
        name=metric.name,
        metric_id=metric_id,
        created_ns=created_ns,
        disabled=metric.disabled,
        matches=compile_filter(metric.filter).matches,
        labels=labels,
        readers=tuple(_label_reader(spec) for spec in labels),
        value=parse_extractor(metric.value_extractor, "value") if distribution else None,
        bounds=tuple(bucket_bounds(metric.bucket_options)) if distribution else None,
        metric=metric,
        reads=_reads(metric),
    )


def _reads(metric: Any) -> frozenset[str] | None:
    keys = _top_keys(parse_filter(metric.filter), metric.filter)
    if keys is None:
        return None
    for text in [*metric.label_extractors.values(), metric.value_extractor]:
        if not text:
            continue
        key = extractor_key(text)
        if key is None:
            return None
        keys.add(key)
    return frozenset(keys)


def label_types(metric: Any) -> Sequence[tuple[str, int]]:
    return [(label.key, int(label.value_type)) for label in metric.metric_descriptor.labels]
