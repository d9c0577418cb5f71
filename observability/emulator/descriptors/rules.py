"""Google's rules for metric descriptors: what CreateMetricDescriptor accepts, and which
aligner fits which metric kind and value type.

Every refusal is INVALID_ARGUMENT in Google's wording (``Field metric_descriptor.labels[2].key
had an invalid value of "...": ...``), naming the field as the gRPC API spells it. Sources:

- ``LabelDescriptor.key``: at most 100 characters, ``[a-zA-Z][a-zA-Z0-9_]*``
  (monitoring/api/ref_v3/rest/v3/LabelDescriptor).
- Kinds and value types: the "supported combinations" table of
  monitoring/api/v3/kinds-and-types: BOOL and STRING only as GAUGE, and for user-defined
  (``custom.googleapis.com``) metrics neither DELTA nor GAUGE STRING.
- User-defined metric types live under ``custom.googleapis.com/`` or
  ``external.googleapis.com/`` (MetricDescriptor.type) and ``workload.googleapis.com/``
  (what the Ops Agent and OpenTelemetry write).
- 30 labels per user-defined descriptor and 200 characters per metric type: the
  "user-defined metrics" limits of monitoring/quotas, which could not be re-read here (only
  the page's opening is indexed); they are the emulator's bounds until checked.
- Aligners: "This aligner is valid for ..." in the ``Aligner`` enum's documentation in
  google/monitoring/v3/common.proto (``_ALIGNER_FIT``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from google.api import label_pb2, metric_pb2

from observability.emulator.common.errors import ApiError
from observability.emulator.descriptors.catalogue import builtins

USER_DEFINED_PREFIXES: Final = (
    "custom.googleapis.com/",
    "external.googleapis.com/",
    "workload.googleapis.com/",
)
MAX_LABELS: Final = 30
MAX_LABEL_KEY_CHARS: Final = 100
MAX_TYPE_CHARS: Final = 200
MAX_TEXT_CHARS: Final = 10_000
"""Bound on ``description``, ``display_name`` and label descriptions: Google documents none; a
bound keeps one request from filling the store."""

_LABEL_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_TYPE_PATH = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
_Kind = metric_pb2.MetricDescriptor.MetricKind
_Value = metric_pb2.MetricDescriptor.ValueType
_LabelValue = label_pb2.LabelDescriptor.ValueType

_KINDS_BY_VALUE: Final = {
    "BOOL": frozenset({"GAUGE"}),
    "STRING": frozenset({"GAUGE"}),
    "INT64": frozenset({"GAUGE", "DELTA", "CUMULATIVE"}),
    "DOUBLE": frozenset({"GAUGE", "DELTA", "CUMULATIVE"}),
    "DISTRIBUTION": frozenset({"GAUGE", "DELTA", "CUMULATIVE"}),
}
_USER_DEFINED_REFUSED: Final = frozenset(
    {("DELTA", "INT64"), ("DELTA", "DOUBLE"), ("DELTA", "DISTRIBUTION"), ("GAUGE", "STRING")}
)
_ANY_KIND: Final = frozenset({"GAUGE", "DELTA", "CUMULATIVE"})
_GAUGE_DELTA: Final = frozenset({"GAUGE", "DELTA"})
_CHANGES: Final = frozenset({"DELTA", "CUMULATIVE"})
_NUMERIC: Final = frozenset({"INT64", "DOUBLE", "MONEY", "DISTRIBUTION"})
"""Numeric values, and distributions: the documentation says "numeric values" for most
aligners and "distribution values" for the percentiles, but the emulator let ALIGN_MEAN and
the percentiles through for both before the catalogue, and a valid chart must never be
refused; so only BOOL and STRING metrics are held to the value-type rules."""
_ALIGNER_FIT: Final[dict[str, tuple[frozenset[str], frozenset[str] | None]]] = {
    "ALIGN_NONE": (_ANY_KIND, None),
    "ALIGN_DELTA": (_CHANGES, None),
    "ALIGN_RATE": (_CHANGES, _NUMERIC),
    "ALIGN_INTERPOLATE": (frozenset({"GAUGE"}), _NUMERIC),
    "ALIGN_NEXT_OLDER": (frozenset({"GAUGE"}), None),
    "ALIGN_MIN": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_MAX": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_MEAN": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_COUNT": (_GAUGE_DELTA, _NUMERIC | {"BOOL"}),
    "ALIGN_SUM": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_STDDEV": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_COUNT_TRUE": (frozenset({"GAUGE"}), frozenset({"BOOL"})),
    "ALIGN_COUNT_FALSE": (frozenset({"GAUGE"}), frozenset({"BOOL"})),
    "ALIGN_FRACTION_TRUE": (frozenset({"GAUGE"}), frozenset({"BOOL"})),
    "ALIGN_PERCENTILE_99": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_PERCENTILE_95": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_PERCENTILE_50": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_PERCENTILE_05": (_GAUGE_DELTA, _NUMERIC),
    "ALIGN_PERCENT_CHANGE": (_GAUGE_DELTA, _NUMERIC),
}
"""Kinds and value types (None: any) each aligner is valid for, from the ``Aligner`` enum's
documentation in google/monitoring/v3/common.proto ("This aligner is valid for ...")."""


def _quote(value: object) -> str:
    text = str(value)
    if len(text) > 200:
        text = text[:200] + "..."
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def invalid(field: str, value: object, reason: str) -> ApiError:
    """Google's wording for a field holding a value it refuses (control characters shown
    escaped, long values cut)."""
    return ApiError.invalid(f"Field {field} had an invalid value of {_quote(value)}: {reason}")


def is_user_defined(metric_type: str) -> bool:
    return metric_type.startswith(USER_DEFINED_PREFIXES)


def aligner_fits(aligner: str, metric_kind: str, value_type: str) -> bool:
    """Whether ``aligner`` can align a metric of this kind and value type (an aligner the
    table does not name is left to whoever knows it, so it fits)."""
    if aligner not in _ALIGNER_FIT:
        return True
    kinds, values = _ALIGNER_FIT[aligner]
    return metric_kind in kinds and (values is None or value_type in values)


def aligner_refusal(field: str, aligner: str, metric_kind: str, value_type: str) -> ApiError:
    """The refusal of an aligner that does not fit (see ``aligner_fits``)."""
    return invalid(
        field,
        aligner,
        f"The aligner cannot be applied to metrics with kind {metric_kind} "
        f"and value type {value_type}.",
    )


def _check_text(value: str, field: str) -> None:
    if len(value) > MAX_TEXT_CHARS:
        raise invalid(field, value, f"must not exceed {MAX_TEXT_CHARS} characters")


def check_type(metric_type: str, field: str) -> None:
    """A user-defined metric type: a known prefix, a path of ``/``-separated names."""
    if not metric_type:
        raise ApiError.invalid(f"Field {field} is required.")
    if len(metric_type) > MAX_TYPE_CHARS:
        raise invalid(field, metric_type, f"must not exceed {MAX_TYPE_CHARS} characters")
    if not is_user_defined(metric_type):
        raise invalid(
            field,
            metric_type,
            "only user-defined metric types can be created; they begin with "
            + ", ".join(USER_DEFINED_PREFIXES),
        )
    path = metric_type.split("/", 1)[1]
    if not _TYPE_PATH.fullmatch(path):
        raise invalid(
            field,
            metric_type,
            "the path after the domain must be names of letters, digits, '_', '.' and '-' "
            "separated by single '/'",
        )


def check_labels(labels: Any, field: str) -> None:
    if len(labels) > MAX_LABELS:
        raise invalid(field, f"{len(labels)} labels", f"at most {MAX_LABELS} are allowed")
    seen: set[str] = set()
    for index, label in enumerate(labels):
        where = f"{field}[{index}]"
        key = label.key
        if not key:
            raise ApiError.invalid(f"Field {where}.key is required.")
        if len(key) > MAX_LABEL_KEY_CHARS:
            raise invalid(f"{where}.key", key, f"must not exceed {MAX_LABEL_KEY_CHARS} characters")
        if not _LABEL_KEY.fullmatch(key):
            raise invalid(
                f"{where}.key",
                key,
                "a label key begins with a letter and holds only letters, digits and '_'",
            )
        if key in seen:
            raise invalid(f"{where}.key", key, "label keys must be unique")
        seen.add(key)
        if label.value_type not in _LabelValue.values():
            raise invalid(f"{where}.value_type", label.value_type, "unknown label value type")
        _check_text(label.description, f"{where}.description")


def check_user_defined(descriptor: metric_pb2.MetricDescriptor, field: str) -> None:
    """CreateMetricDescriptor's rules for ``descriptor`` (raises INVALID_ARGUMENT)."""
    check_type(descriptor.type, f"{field}.type")
    kind, value = descriptor.metric_kind, descriptor.value_type
    if kind not in _Kind.values():
        raise invalid(f"{field}.metric_kind", kind, "unknown metric kind")
    if value not in _Value.values():
        raise invalid(f"{field}.value_type", value, "unknown value type")
    if kind == _Kind.METRIC_KIND_UNSPECIFIED:
        raise ApiError.invalid(f"Field {field}.metric_kind is required.")
    if value == _Value.VALUE_TYPE_UNSPECIFIED:
        raise ApiError.invalid(f"Field {field}.value_type is required.")
    kind_name, value_name = _Kind.Name(kind), _Value.Name(value)
    if value_name not in _KINDS_BY_VALUE:
        raise invalid(f"{field}.value_type", value_name, "is not supported for metrics")
    if kind_name not in _KINDS_BY_VALUE[value_name] or (
        (kind_name, value_name) in _USER_DEFINED_REFUSED
    ):
        raise invalid(
            f"{field}.metric_kind",
            kind_name,
            f"a user-defined metric of value type {value_name} cannot be {kind_name}",
        )
    check_labels(descriptor.labels, f"{field}.labels")
    _check_text(descriptor.description, f"{field}.description")
    _check_text(descriptor.display_name, f"{field}.display_name")
    _check_text(descriptor.unit, f"{field}.unit")


Lookup = Callable[[str], metric_pb2.MetricDescriptor | None]
"""``metric type -> descriptor`` (None when unknown): what aligner checks consult."""
ProjectLookup = Callable[[str, str], metric_pb2.MetricDescriptor | None]
"""``(project, metric type) -> descriptor``: every descriptor a project sees
(``DescriptorService.find``)."""


def builtin(metric_type: str) -> metric_pb2.MetricDescriptor | None:
    """Google's built-in descriptor of ``metric_type``: the ``Lookup`` of any project."""
    return builtins().metrics.get(metric_type)


def project_lookup(descriptors: ProjectLookup | None, project: str) -> Lookup:
    """The ``Lookup`` of ``project`` (its user-defined and auto-created descriptors too), or
    the built-ins alone when no ``descriptors`` are at hand (a service built without them, or
    provisioning validating offline)."""
    if descriptors is None:
        return builtin
    return lambda metric_type: descriptors(project, metric_type)


def misfit(
    metric_types: Iterable[str] | None, aligner: str, lookup: Lookup = builtin
) -> metric_pb2.MetricDescriptor | None:
    """The descriptor, among those ``lookup`` knows of ``metric_types`` (what a filter pins
    ``metric.type`` to), that ``aligner`` does not fit; None when all fit or none is known (a
    condition on a user-defined or log-based metric not yet created is allowed, as Google
    allows it)."""
    for metric_type in sorted(metric_types or ()):
        descriptor = lookup(metric_type)
        if descriptor is None:
            continue
        kind = _Kind.Name(descriptor.metric_kind)
        value = _Value.Name(descriptor.value_type)
        if not aligner_fits(aligner, kind, value):
            return descriptor
    return None


def check_aligner(
    metric_types: Iterable[str] | None, aligner: str, field: str, lookup: Lookup = builtin
) -> None:
    """Refuse, naming ``field``, an aligner that does not fit the kind and value type of a
    metric ``lookup`` knows."""
    found = misfit(metric_types, aligner, lookup)
    if found is not None:
        raise aligner_refusal(
            field, aligner, _Kind.Name(found.metric_kind), _Value.Name(found.value_type)
        )
