"""Google's built-in metric and monitored-resource descriptors, loaded from ``catalogue.json``.

The catalogue is data (see ``regenerate.py`` for where it comes from); this module reads it
once, as raw ``google.api`` protobufs, so the gRPC edge answers with them as they are and the
validation of alert policies and charts can ask what kind and value type a built-in metric has.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from google.api import label_pb2, metric_pb2, monitored_resource_pb2
from google.protobuf import json_format

CATALOGUE_PATH: Final = Path(__file__).with_name("catalogue.json")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The built-ins by type, in the catalogue's order (sorted by type)."""

    metrics: dict[str, metric_pb2.MetricDescriptor]
    resources: dict[str, monitored_resource_pb2.MonitoredResourceDescriptor]
    source: dict[str, Any]


def parse(document: dict[str, Any]) -> Catalogue:
    """A catalogue from its JSON document (``google.api`` JSON field names)."""
    metrics = {}
    for item in document["metricDescriptors"]:
        descriptor = json_format.ParseDict(item, metric_pb2.MetricDescriptor())
        metrics[descriptor.type] = descriptor
    resources = {}
    for item in document["monitoredResourceDescriptors"]:
        resource = json_format.ParseDict(item, monitored_resource_pb2.MonitoredResourceDescriptor())
        resources[resource.type] = resource
    return Catalogue(metrics=metrics, resources=resources, source=dict(document["source"]))


@cache
def builtins() -> Catalogue:
    """The packaged catalogue, read once per process."""
    return parse(json.loads(CATALOGUE_PATH.read_text(encoding="utf-8")))


def label(key: str) -> label_pb2.LabelDescriptor:
    return label_pb2.LabelDescriptor(key=key)
