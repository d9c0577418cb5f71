"""Durable storage of alert policies: one SQLite file (``alert_policies.db``, WAL).

A policy is kept as the proto's JSON (``json_format.MessageToJson``), so every condition kind
the client's proto knows (threshold with ratio and missing-data options, absence, log match
with label extractors, MQL, PromQL, SQL) comes back exactly as it was stored, and an
evaluator can read it without the gRPC layer:

    store = AlertPolicyStore(data_dir / "alert_policies.db")
    for policy in store.list_policies("my-project"):
        policy.name, policy.body["conditions"]   # REST JSON (camelCase) dict
        policy.proto()                            # google.monitoring.v3.AlertPolicy (raw pb)

The table is ``common.crud.ResourceStore``, the one every CRUD resource is kept in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from google.cloud.monitoring_v3.types import AlertPolicy

from observability.emulator.common.crud import ResourceName, ResourceStore, StoredMessage

POLICIES: Final = ResourceName("alertPolicies", "ALERT_POLICY_ID", "Alert policy not found")


@dataclass(frozen=True, slots=True)
class StoredPolicy(StoredMessage):
    """An alert policy as the evaluator reads it; ``body`` is the REST JSON shape
    (``displayName``, ``conditions``...), ``proto()`` the raw AlertPolicy."""

    kind: ClassVar[ResourceName] = POLICIES
    message: ClassVar[Any] = AlertPolicy.pb()


class AlertPolicyStore(ResourceStore[StoredPolicy]):
    """Alert policies per project; see the module docstring for the evaluator's view."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, StoredPolicy)

    def get_policy(self, project: str, policy_id: str) -> StoredPolicy | None:
        return self.get(project, policy_id)

    def list_policies(self, project: str) -> list[StoredPolicy]:
        """Every policy of ``project`` in creation order (enabled or not)."""
        return self.rows(project)

    def all_policies(self) -> list[StoredPolicy]:
        """Every policy of every project (what an evaluation tick walks)."""
        return [policy for project in self.projects() for policy in self.list_policies(project)]
