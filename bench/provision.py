"""Provisioning at scale: plan time and API calls for 10, 100 and 1,000 managed resources.

Against the emulator in its own process (gRPC through the real clients; dashboards as raw
REST JSON), for each size N (40% log metrics, 40% alert policies, 20% dashboards, written as
definition files in a temporary directory):

* the first apply (N creating calls);
* plan with nothing to change: wall time (median of 5; reads and the diff of every resource)
  and its calls;
* a second apply: writing calls (must be 0);
* apply after changing 5 resources (one threshold, description or title each): writing
  calls (must be 5, whatever N).

It ends with one line ``RESULT key=value ...``.

    python bench/provision.py [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from observability.emulator.process import emulator_process  # noqa: E402
from observability.gcp import Endpoint  # noqa: E402
from observability.provision.api import Api, CallCounter  # noqa: E402
from observability.provision.apply import apply_plan  # noqa: E402
from observability.provision.plan import plan_from_api  # noqa: E402
from observability.provision.source import Variables  # noqa: E402
from observability.provision.spec import Layout, Spec, load_spec  # noqa: E402

CHANGED = 5


def _metric(i: int, tag: str) -> str:
    return f"""- name: composer_obs/bench_{i}
  description: bench metric {i}{tag}
  filter: jsonPayload.event_type="task_failed" AND jsonPayload.dag_id="dag_{i}"
  metricDescriptor:
    metricKind: DELTA
    valueType: INT64
    labels: [{{key: task_id, valueType: STRING}}]
  labelExtractors: {{task_id: EXTRACT(jsonPayload.task_id)}}
"""


def _policy(i: int, metric: int, threshold: int) -> str:
    return f"""- key: bench-{i}
  displayName: bench policy {i}
  combiner: OR
  severity: WARNING
  userLabels: {{team: bench, severity: warning}}
  documentation: {{content: "Runbook for ${{metric.label.task_id}}", mimeType: text/markdown}}
  conditions:
    - displayName: failures
      conditionThreshold:
        filter: metric.type="logging.googleapis.com/user/composer_obs/bench_{metric}"
        aggregations:
          - {{alignmentPeriod: 60s, perSeriesAligner: ALIGN_SUM, crossSeriesReducer: REDUCE_SUM,
             groupByFields: [metric.label.task_id]}}
        comparison: COMPARISON_GT
        thresholdValue: {threshold}
        duration: 0s
        trigger: {{count: 1}}
"""


def _dashboard(i: int, metric: int, tag: str) -> str:
    widget = {
        "title": f"failures {metric}",
        "xyChart": {
            "dataSets": [
                {
                    "timeSeriesQuery": {
                        "timeSeriesFilter": {
                            "filter": "metric.type="
                            f'"logging.googleapis.com/user/composer_obs/bench_{metric}"',
                            "aggregation": {
                                "alignmentPeriod": "60s",
                                "perSeriesAligner": "ALIGN_SUM",
                            },
                        }
                    },
                    "plotType": "LINE",
                }
            ]
        },
    }
    body = {
        "displayName": f"bench dashboard {i}{tag}",
        "mosaicLayout": {
            "columns": 48,
            "tiles": [{"xPos": 0, "yPos": 0, "width": 24, "height": 16, "widget": widget}],
        },
    }
    return json.dumps(body, indent=2)


def write_definitions(root: Path, size: int, changed: int = 0) -> None:
    """``size`` resources; the first ``changed`` of each kind differ from the base set."""
    metrics, policies = size * 2 // 5, size * 2 // 5
    dashboards = size - metrics - policies
    for sub in ("log_metrics", "alert_policies", "dashboards"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    # Changes: 2 metrics, 2 policies, 1 dashboard (or fewer on tiny sets).
    (root / "log_metrics" / "bench.yaml").write_text(
        "".join(_metric(i, " v2" if i < min(changed, 2) else "") for i in range(metrics))
    )
    (root / "alert_policies" / "bench.yaml").write_text(
        "".join(
            _policy(i, i % metrics, 7 if i < min(max(changed - 2, 0), 2) else 5)
            for i in range(policies)
        )
    )
    target = root / "dashboards"
    for old in target.glob("*.json"):
        old.unlink()
    for i in range(dashboards):
        tag = " v2" if i < max(changed - 4, 0) else ""
        (target / f"bench_{i:04d}.json").write_text(_dashboard(i, i % metrics, tag))


def load(root: Path, project: str) -> Spec:
    return load_spec(Layout.under(root), Variables.load(environ={}, fallbacks={"PROJECT": project}))


def run_size(endpoint: Endpoint, size: int, work: Path) -> dict[str, float]:
    project = f"bench-{size}"
    root = work / str(size)
    write_definitions(root, size)
    started = time.perf_counter()
    spec = load(root, project)
    load_s = time.perf_counter() - started
    api = Api(project, endpoint, CallCounter())
    started = time.perf_counter()
    first = apply_plan(plan_from_api(spec, api), api)
    apply_s = time.perf_counter() - started
    assert first.ok, first.failed[:3]
    created = api.counter.total_writes

    times = []
    for _ in range(5):
        api.counter = CallCounter()
        plan = plan_from_api(spec, api)
        times.append(plan.seconds)
        assert not plan.has_changes, [c.as_dict() for c in plan.changes if c.writes][:3]
    plan_reads = api.counter.total_reads
    api.counter = CallCounter()
    apply_plan(plan_from_api(spec, api), api)
    noop_writes = api.counter.total_writes

    write_definitions(root, size, CHANGED)
    changed_spec = load(root, project)
    api.counter = CallCounter()
    plan = plan_from_api(changed_spec, api)
    result = apply_plan(plan, api)
    assert result.ok, result.failed[:3]
    change_writes = api.counter.total_writes
    change_reads = api.counter.total_reads
    api.close()
    return {
        "resources": len(spec),
        "load_s": load_s,
        "first_apply_s": apply_s,
        "first_apply_writes": created,
        "plan_s": statistics.median(times),
        "plan_reads": plan_reads,
        "noop_apply_writes": noop_writes,
        "changes": min(CHANGED, size),
        "change_writes": change_writes,
        "change_reads": change_reads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, emulator_process(Path(tmp) / "emu") as ep:
        for size in sizes:
            results[size] = run_size(ep, size, Path(tmp))
    print(
        f"{'resources':>9} {'load s':>7} {'1st apply s':>11} {'plan s':>7} {'plan reads':>10} "
        f"{'re-apply writes':>15} {'writes for 5 changes':>20}"
    )
    for r in results.values():
        print(
            f"{r['resources']:>9} {r['load_s']:>7.2f} {r['first_apply_s']:>11.2f} "
            f"{r['plan_s']:>7.3f} {r['plan_reads']:>10} {r['noop_apply_writes']:>15} "
            f"{r['change_writes']:>20}"
        )
    fields = []
    for size, r in results.items():
        fields += [
            f"plan_{size}_s={r['plan_s']:.3f}",
            f"plan_reads_{size}={r['plan_reads']}",
            f"reapply_writes_{size}={r['noop_apply_writes']}",
            f"change_writes_{size}={r['change_writes']}",
        ]
    largest = max(results)
    fields.append(f"plan_{largest}_under_3s={results[largest]['plan_s'] < 3.0}")
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
