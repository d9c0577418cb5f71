"""The behaviour of ``google.monitoring.v3.AlertPolicyService``, on raw protobufs.

Create assigns the policy and condition ids (decimal, as Google's are) and the creation and
mutation records; Update follows the documented rules: with an empty mask the supplied policy
replaces the stored one; with a mask only the listed fields change (a listed field the
supplied policy lacks is cleared). Either way conditions are matched by name: a supplied
condition with the name of an existing one replaces it keeping its id, one without a name is
added with a new id, and an existing condition left out is deleted. Every write is validated
as a whole (``common.validation``) and the policy's notification channels must exist in
the project (NOT_FOUND otherwise, as Google answers).
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Final

import grpc
from google.cloud.monitoring_v3.types import AlertPolicy
from google.protobuf import field_mask_pb2, timestamp_pb2

from observability.emulator.alert_policies.listing import (
    Schema,
    compile_list_filter,
    page,
    sort_views,
)
from observability.emulator.alert_policies.store import (
    AlertPolicyStore,
    StoredPolicy,
    policy_from_body,
    policy_to_body,
)
from observability.emulator.channels.store import (
    NotificationChannelStore,
    split_channel_name,
)
from observability.emulator.common.errors import ApiError
from observability.emulator.common.validation import invalid, validate_policy

MUTATED_BY: Final = "composer-obs-emulator"
"""Who ``creationRecord``/``mutationRecord`` say made a change (Google puts the caller)."""

_PolicyPb = AlertPolicy.pb()
_READ_ONLY = frozenset({"name", "creation_record", "mutation_record", "validity"})

POLICY_SCHEMA: Final = Schema(
    fields=frozenset(
        {
            "name",
            "display_name",
            "documentation.content",
            "documentation.mime_type",
            "documentation.subject",
            "combiner",
            "enabled",
            "severity",
            "conditions.count",
            "conditions.display_name",
            "conditions.name",
            "notification_channels",
        }
    ),
    maps={"user_labels": "user_labels", "user_label": "user_labels"},
)


def new_id() -> str:
    """A fresh resource id, shaped like Google's (a 19-digit decimal number)."""
    return str(10**18 + secrets.randbelow(9 * 10**18))


def now_pb() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


def parse_project(name: str, field: str = "name") -> str:
    """The PROJECT of ``projects/PROJECT``; INVALID_ARGUMENT otherwise."""
    kind, _, project = name.partition("/")
    if kind != "projects" or not project or "/" in project:
        raise invalid(field, name, "must be projects/[PROJECT_ID_OR_NUMBER]")
    return project


def parse_policy_name(name: str, field: str = "name") -> tuple[str, str]:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "alertPolicies":
        raise invalid(field, name, "must be projects/[PROJECT_ID]/alertPolicies/[ALERT_POLICY_ID]")
    if not parts[1] or not parts[3]:
        raise invalid(field, name, "must be projects/[PROJECT_ID]/alertPolicies/[ALERT_POLICY_ID]")
    return parts[1], parts[3]


def policy_view(body: dict[str, Any]) -> dict[str, Any]:
    """The flat view list filters and ordering read (see ``listing``)."""
    documentation = body.get("documentation", {})
    conditions = body.get("conditions", [])
    return {
        "name": body.get("name", ""),
        "display_name": body.get("displayName", ""),
        "documentation.content": documentation.get("content", ""),
        "documentation.mime_type": documentation.get("mimeType", ""),
        "documentation.subject": documentation.get("subject", ""),
        "combiner": body.get("combiner", "COMBINE_UNSPECIFIED"),
        "enabled": body.get("enabled", True),
        "severity": body.get("severity", "SEVERITY_UNSPECIFIED"),
        "conditions.count": len(conditions),
        "conditions.display_name": [c.get("displayName", "") for c in conditions],
        "conditions.name": [c.get("name", "") for c in conditions],
        "notification_channels": body.get("notificationChannels", []),
        "user_labels": body.get("userLabels", {}),
    }


def merge_conditions(policy_name: str, existing: Any, supplied: Any) -> list[Any]:
    """The documented condition-by-name rules; returns the new condition list."""
    known = {condition.name for condition in existing}
    seen: set[str] = set()
    result = []
    for i, condition in enumerate(supplied):
        merged = _PolicyPb.Condition()
        merged.CopyFrom(condition)
        if condition.name:
            if condition.name not in known:
                raise invalid(
                    f"alert_policy.conditions[{i}].name",
                    condition.name,
                    "no condition of this policy has that name (leave it out to add a "
                    "new condition)",
                )
            if condition.name in seen:
                raise invalid(f"alert_policy.conditions[{i}].name", condition.name, "given twice")
            seen.add(condition.name)
        else:
            merged.name = f"{policy_name}/conditions/{new_id()}"
        result.append(merged)
    return result


class AlertPolicyService:
    """Create/Get/List/Update/Delete over the stores (raw protobuf requests and responses)."""

    def __init__(self, policies: AlertPolicyStore, channels: NotificationChannelStore) -> None:
        self.policies = policies
        self.channels = channels

    def _check_channels(self, project: str, policy: Any) -> None:
        for i, name in enumerate(policy.notification_channels):
            parts = split_channel_name(name)
            if parts is not None and parts[0] != project:
                raise invalid(
                    f"alert_policy.notification_channels[{i}]",
                    name,
                    f"must be a notification channel of project {project}",
                )
            if self.channels.get_channel(name) is None:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"Notification channel not found: {name}")

    def _stored(self, name: str, field: str = "name") -> StoredPolicy:
        project, policy_id = parse_policy_name(name, field)
        found = self.policies.get_policy(project, policy_id)
        if found is None:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"Alert policy not found: {name}")
        return found

    @staticmethod
    def _checked_new(supplied: Any) -> Any:
        """A copy of ``supplied`` without what the server sets, refused if invalid as a new
        policy."""
        policy = _PolicyPb()
        policy.CopyFrom(supplied)
        for field in _READ_ONLY:
            policy.ClearField(field)
        for condition in policy.conditions:
            condition.name = ""
        validate_policy(policy)
        return policy

    def create(self, request: Any) -> Any:
        project = parse_project(request.name)
        policy = self._checked_new(request.alert_policy)
        self._check_channels(project, policy)
        policy_id = new_id()
        policy.name = f"projects/{project}/alertPolicies/{policy_id}"
        for condition in policy.conditions:
            condition.name = f"{policy.name}/conditions/{new_id()}"
        if not policy.HasField("enabled"):
            policy.enabled.value = True
        stamp = now_pb()
        policy.creation_record.mutate_time.CopyFrom(stamp)
        policy.creation_record.mutated_by = MUTATED_BY
        policy.mutation_record.CopyFrom(policy.creation_record)
        with self.policies.transaction() as conn:
            self.policies.put(conn, project, policy_id, policy_to_body(policy))
        return policy

    def get(self, request: Any) -> Any:
        return self._stored(request.name).proto()

    def list_policies(self, request: Any) -> tuple[list[Any], str, int]:
        """``(policies, next page token, total size)``."""
        project = parse_project(request.name)
        test = compile_list_filter(request.filter, POLICY_SCHEMA)
        views = [
            (stored, view)
            for stored in self.policies.list_policies(project)
            if test(view := policy_view(stored.body))
        ]
        sort_views(views, request.order_by, POLICY_SCHEMA, lambda item: item[1])
        chunk, token = page(views, request.page_size, request.page_token)
        return [stored.proto() for stored, _ in chunk], token, len(views)

    def update(self, request: Any) -> Any:
        supplied = request.alert_policy
        if not supplied.name:
            raise invalid("alert_policy.name", "", "the policy to update must be named")
        paths = list(request.update_mask.paths) if request.HasField("update_mask") else []
        try:
            stored = self._stored(supplied.name, "alert_policy.name")
        except ApiError as error:
            # Without a mask the body is the whole new policy, and Google checks it before
            # looking the name up: its system test test_update_alert_policy_inside
            # (python-monitoring tests/system/test_vpcsc_v3.py) updates a missing policy with
            # only a name and expects INVALID_ARGUMENT. A valid body still gets NOT_FOUND.
            if error.code == grpc.StatusCode.NOT_FOUND and not paths:
                self._checked_new(supplied)
            raise
        existing = stored.proto()
        if not paths:
            policy = _PolicyPb()
            policy.CopyFrom(supplied)
            for field in _READ_ONLY:
                policy.ClearField(field)
            del policy.conditions[:]
            policy.conditions.extend(
                merge_conditions(existing.name, existing.conditions, supplied.conditions)
            )
        else:
            policy = self._apply_mask(existing, supplied, paths)
        policy.name = existing.name
        policy.creation_record.CopyFrom(existing.creation_record)
        if not policy.HasField("enabled"):
            policy.enabled.value = True
        validate_policy(policy)
        self._check_channels(stored.project, policy)
        policy.mutation_record.mutate_time.CopyFrom(now_pb())
        policy.mutation_record.mutated_by = MUTATED_BY
        with self.policies.transaction() as conn:
            if self.policies.get(stored.project, stored.id) is None:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"Alert policy not found: {policy.name}")
            self.policies.put(conn, stored.project, stored.id, policy_to_body(policy))
        return policy

    @staticmethod
    def _apply_mask(existing: Any, supplied: Any, paths: list[str]) -> Any:
        policy = _PolicyPb()
        policy.CopyFrom(existing)
        plain: list[str] = []
        for path in paths:
            head, _, key = path.partition(".")
            if path == "conditions":
                del policy.conditions[:]
                policy.conditions.extend(
                    merge_conditions(existing.name, existing.conditions, supplied.conditions)
                )
            elif head in ("user_label", "user_labels") and key:
                key = key.strip('"')
                if key in supplied.user_labels:
                    policy.user_labels[key] = supplied.user_labels[key]
                else:
                    policy.user_labels.pop(key, None)
            elif head in _READ_ONLY:
                continue
            else:
                mask = field_mask_pb2.FieldMask(paths=[path])
                if not mask.IsValidForDescriptor(_PolicyPb.DESCRIPTOR) or path.startswith(
                    "conditions."
                ):
                    raise invalid("update_mask", path, "not a field of AlertPolicy that can be set")
                plain.append(path)
        if plain:
            field_mask_pb2.FieldMask(paths=plain).MergeMessage(
                supplied, policy, replace_message_field=True, replace_repeated_field=True
            )
        return policy

    def delete(self, request: Any) -> None:
        stored = self._stored(request.name)
        with self.policies.transaction() as conn:
            if not self.policies.remove(conn, stored.project, stored.id):
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"Alert policy not found: {request.name}")


__all__ = ["AlertPolicyService", "policy_from_body"]
