"""Regenerate ``catalogue.json`` from the published lists it is built from.

Google's own metric and monitored-resource lists (cloud.google.com/monitoring/api/metrics_gcp_*,
.../monitoring/api/resources) could not be read from this workplace (only their first
paragraphs are indexed), so the catalogue is built from the public, machine-readable copy of
Google's metric descriptors kept by ``dynatrace-oss/dynatrace-gcp-monitor``: one YAML file per
monitored resource type under ``src/config/``, each metric with the ``metricKind``,
``valueType`` and ``unit`` of Google's ``MetricDescriptor`` and the ``metric.labels.*`` and
``resource.labels.*`` keys it is read by. What that list does not say (descriptions, launch
stages, display names) stays empty: nothing is invented here.

Usage (the source is a git directory of that repository, e.g. what ``fetch`` brings)::

    python -m observability.emulator.descriptors.regenerate /path/to/repo.git [--commit SHA]

The source files are read straight from the commit (``git show``) and are not copied into this
repository (the reference library's terms keep what a fetched snapshot holds out of commits,
so there is no folder of saved extracts); the commit and its date are written into the
catalogue's header.

Where each part comes from:

- every metric descriptor, and the monitored resources other than ``global`` and
  ``cloud_composer_workflow``: ``src/config/*.yml`` of ``SOURCE_REPOSITORY`` at
  ``SOURCE_COMMIT`` (committed 2021-10-20), read with ``git show``;
- ``global`` and ``cloud_composer_workflow``: ``KEPT_RESOURCES``, the emulator's hand-written
  list from before the catalogue.

Google's own lists were looked for again on 2026-12-07 and are still out of reach here; what
was examined, and why it could not serve, is ``UNUSABLE_SOURCES`` (written into the
catalogue's header too). So the catalogue still lacks the Composer metrics Google added after
2021 (``environment/scheduler/task/externally_killed_count``, the ``workflow/*`` metrics,
Composer 3's), ``logging.googleapis.com/byte_count`` and ``log_entry_count``, descriptions and
launch stages; a condition or chart on one of them is treated as on an unknown metric.
Regenerate from Google's pages (or another machine-readable copy of them) once one can be
read: parse it in a ``build``-like function and merge, keeping a field from this source only
where Google's lacks it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml

from observability.emulator.descriptors.catalogue import CATALOGUE_PATH

SOURCE_REPOSITORY: Final = "https://github.com/dynatrace-oss/dynatrace-gcp-monitor"
SOURCE_COMMIT: Final = "bf090ebf1b5c80a441f5790798c16535193aa852"
"""The last commit holding ``src/config/`` (2021-10-20); later ones moved the lists away."""

RESOURCE_TYPES: Final = frozenset(
    {
        "bigquery_project",
        "cloud_composer_environment",
        "cloud_run_revision",
        "cloudsql_database",
        "gce_instance",
        "gcs_bucket",
        "k8s_container",
        "k8s_node",
        "k8s_pod",
        "logging_sink",
        "pubsub_subscription",
        "pubsub_topic",
    }
)
"""The monitored resources catalogued, with every metric the source lists on them.

A metric is catalogued only with the catalogued resources the source lists it on, so every
``monitoredResourceTypes`` entry names a resource ListMonitoredResourceDescriptors knows. (This
leaves out ``logging.googleapis.com/log_entry_count``, which the source lists only on
``k8s_cluster``, and as a GAUGE where Google's list has it DELTA, as far as can be recalled.)"""

KEPT_RESOURCES: Final = (
    {"type": "global", "displayName": "Global", "labels": [{"key": "project_id"}]},
    {
        "type": "cloud_composer_workflow",
        "displayName": "Cloud Composer Workflow",
        "labels": [
            {"key": "project_id"},
            {"key": "location"},
            {"key": "environment_name"},
            {"key": "workflow_name"},
        ],
    },
)
"""Resource types the emulator served before the catalogue (its hard-coded list, written from
Google's resource list by hand) that the source does not carry; kept so that nothing the
emulator answered before disappears, and named in the catalogue's header."""

UNUSABLE_SOURCES: Final = (
    "https://docs.cloud.google.com/monitoring/api/metrics_gcp_c (and .md.txt, metrics_gcp, "
    "metrics_gcp_a_b, metrics_gcp_i_o): the reference library stores only each page's "
    "opening paragraphs, none of its tables",
    "https://cloud.google.com/monitoring/api/resources: likewise, no table of resource types",
    "https://docs.cloud.google.com/composer/docs/composer-3/monitor-environments: only the "
    "Korean, Japanese and Portuguese copies are stored, and only their openings; the page "
    "lists metric names, not kinds or value types",
    "github.com/GoogleCloudPlatform/monitoring-dashboard-samples at 25d8c3e8 (2026-07-27), "
    "dashboards/google-cloud-composer/cloud-composer-monitoring.json: 11 Composer metric "
    "types by name, no descriptors",
    "github.com/dynatrace-oss/dynatrace-gcp-monitor at d65f211f (2026-08-18): no metric "
    "lists any more (removed by 04203de8, 2021-10-20)",
    "github.com/observeinc/terraform-observe-google-cloud-monitoring at 384d1dd3 "
    "(2026-04-16), service/*/local_metricdescriptors*.tf: descriptors of other services, "
    "none of Composer or Logging",
)
"""Sources of Google's metric and resource lists examined on 2026-12-07 that could not be
used, each with what it lacked."""

_RESOURCE_LABEL: Final = "label:resource.labels."
_METRIC_LABEL: Final = "label:metric.labels."


def _git(source: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(source), *args], check=True, capture_output=True, text=True
    ).stdout


def _labels(dimensions: Iterable[dict[str, Any]] | None, prefix: str) -> list[str]:
    keys: list[str] = []
    for dimension in dimensions or ():
        value = str(dimension.get("value", ""))
        if value.startswith(prefix) and value[len(prefix) :] not in keys:
            keys.append(value[len(prefix) :])
    return keys


def build(documents: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Metric and monitored-resource descriptors (as ``google.api`` JSON) from the source's
    per-resource documents, for the resources in ``RESOURCE_TYPES``; a metric listed on several
    of them is one descriptor naming them all."""
    metrics: dict[str, dict[str, Any]] = {}
    resources: dict[str, dict[str, Any]] = {}
    for document in documents:
        for service in document.get("gcp") or ():
            resource_type = str(service["service"])
            if resource_type not in RESOURCE_TYPES:
                continue
            entry = resources.setdefault(resource_type, {"type": resource_type, "labels": []})
            for key in _labels(service.get("dimensions"), _RESOURCE_LABEL):
                if key not in [label["key"] for label in entry["labels"]]:
                    entry["labels"].append({"key": key})
            for metric in service.get("metrics") or ():
                metric_type = str(metric["value"]).removeprefix("metric:")
                options = metric["gcpOptions"]
                descriptor = metrics.setdefault(
                    metric_type,
                    {
                        "type": metric_type,
                        "metricKind": options["metricKind"],
                        "valueType": options["valueType"],
                        "unit": str(options.get("unit") or ""),
                        "labels": [
                            {"key": key} for key in _labels(metric.get("dimensions"), _METRIC_LABEL)
                        ],
                        "monitoredResourceTypes": [],
                    },
                )
                if resource_type not in descriptor["monitoredResourceTypes"]:
                    descriptor["monitoredResourceTypes"].append(resource_type)
    return (
        sorted(metrics.values(), key=lambda d: d["type"]),
        sorted(resources.values(), key=lambda d: d["type"]),
    )


def regenerate(source: Path, commit: str, output: Path) -> tuple[int, int]:
    """Write the catalogue from ``source`` at ``commit``; the counts of metric and resource
    descriptors written."""
    names = _git(source, "ls-tree", "--name-only", commit, "src/config/").split()
    documents = [
        yaml.safe_load(_git(source, "show", f"{commit}:{name}"))
        for name in names
        if name.endswith((".yml", ".yaml"))
    ]
    metrics, resources = build(documents)
    resources = sorted([*resources, *KEPT_RESOURCES], key=lambda d: str(d["type"]))
    date = _git(source, "show", "-s", "--format=%cI", commit).strip()
    catalogue = {
        "source": {
            "repository": SOURCE_REPOSITORY,
            "commit": commit,
            "commitDate": date,
            "files": "src/config/*.yml (gcpOptions: metricKind, valueType, unit; "
            "dimensions: metric.labels.*, resource.labels.*)",
            "note": "Google's metric and resource lists as published in machine-readable form "
            "by that repository; fields it does not carry (description, launchStage, "
            "displayName) are left empty rather than guessed. Regenerate with "
            "python -m observability.emulator.descriptors.regenerate GIT_DIR.",
            "keptFromEmulator": [str(r["type"]) for r in KEPT_RESOURCES],
            "unusableSources": list(UNUSABLE_SOURCES),
        },
        "metricDescriptors": metrics,
        "monitoredResourceDescriptors": resources,
    }
    output.write_text(json.dumps(catalogue, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return len(metrics), len(resources)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="git directory of dynatrace-gcp-monitor")
    parser.add_argument("--commit", default=SOURCE_COMMIT)
    parser.add_argument("--output", type=Path, default=CATALOGUE_PATH)
    args = parser.parse_args(argv)
    metrics, resources = regenerate(args.source, args.commit, args.output)
    print(f"{args.output}: {metrics} metric descriptors, {resources} monitored resources")


if __name__ == "__main__":
    main()
