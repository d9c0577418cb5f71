"""CreateMetricDescriptor's rules on hostile input: every refusal is INVALID_ARGUMENT naming
the field, never another error."""

from __future__ import annotations

import grpc
import pytest
from google.api import label_pb2, metric_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from observability.emulator.common.errors import ApiError
from observability.emulator.descriptors import rules

Kind = metric_pb2.MetricDescriptor.MetricKind
Value = metric_pb2.MetricDescriptor.ValueType


def descriptor(**fields: object) -> metric_pb2.MetricDescriptor:
    base: dict[str, object] = {
        "type": "custom.googleapis.com/composer/queue_depth",
        "metric_kind": Kind.GAUGE,
        "value_type": Value.INT64,
    }
    base.update(fields)
    return metric_pb2.MetricDescriptor(**base)


def refusal(value: metric_pb2.MetricDescriptor) -> str:
    with pytest.raises(ApiError) as caught:
        rules.check_user_defined(value, "metric_descriptor")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value.message


def test_a_plain_user_defined_descriptor_passes() -> None:
    rules.check_user_defined(
        descriptor(labels=[label_pb2.LabelDescriptor(key="dag_id")]), "metric_descriptor"
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "compute.googleapis.com/instance/x"}, "metric_descriptor.type"),
        ({"type": ""}, "metric_descriptor.type"),
        ({"type": "custom.googleapis.com/a//b"}, "metric_descriptor.type"),
        ({"type": "custom.googleapis.com/" + "a" * 200}, "metric_descriptor.type"),
        ({"metric_kind": Kind.METRIC_KIND_UNSPECIFIED}, "metric_descriptor.metric_kind"),
        ({"value_type": Value.VALUE_TYPE_UNSPECIFIED}, "metric_descriptor.value_type"),
        ({"metric_kind": Kind.DELTA}, "metric_descriptor.metric_kind"),
        ({"value_type": Value.STRING}, "metric_descriptor.metric_kind"),
        (
            {"metric_kind": Kind.CUMULATIVE, "value_type": Value.BOOL},
            "metric_descriptor.metric_kind",
        ),
        ({"value_type": Value.MONEY}, "metric_descriptor.value_type"),
        ({"metric_kind": 42}, "metric_descriptor.metric_kind"),
        ({"description": "x" * 10_001}, "metric_descriptor.description"),
    ],
)
def test_refusals_name_the_field(fields: dict[str, object], field: str) -> None:
    assert refusal(descriptor(**fields)).startswith(f"Field {field} ")


def test_label_rules() -> None:
    too_many = [label_pb2.LabelDescriptor(key=f"k{i}") for i in range(rules.MAX_LABELS + 1)]
    assert "at most 30" in refusal(descriptor(labels=too_many))
    duplicate = [label_pb2.LabelDescriptor(key="a"), label_pb2.LabelDescriptor(key="a")]
    assert refusal(descriptor(labels=duplicate)).startswith(
        "Field metric_descriptor.labels[1].key "
    )
    long_key = [label_pb2.LabelDescriptor(key="a" * 101)]
    assert "100 characters" in refusal(descriptor(labels=long_key))


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=120))
def test_any_label_key_is_accepted_or_refused_by_name(key: str) -> None:
    value = descriptor(labels=[label_pb2.LabelDescriptor(key=key)])
    valid = (
        bool(key)
        and len(key) <= 100
        and key.isascii()
        and key[0].isalpha()
        and all(c.isalnum() or c == "_" for c in key)
    )
    if valid:
        rules.check_user_defined(value, "metric_descriptor")
    else:
        message = refusal(value)
        assert message.startswith("Field metric_descriptor.labels[0].key ")
        assert "\x00" not in message and "\n" not in message


@settings(max_examples=300, deadline=None)
@given(metric_type=st.text(max_size=250))
def test_any_metric_type_is_accepted_or_refused_by_name(metric_type: str) -> None:
    value = descriptor(type=metric_type)
    try:
        rules.check_user_defined(value, "metric_descriptor")
    except ApiError as error:
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.message.startswith("Field metric_descriptor.type ")
    else:
        assert metric_type.startswith(rules.USER_DEFINED_PREFIXES)
        assert len(metric_type) <= rules.MAX_TYPE_CHARS
