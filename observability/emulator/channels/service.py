"""The behaviour of ``google.monitoring.v3.NotificationChannelService``, on raw protobufs.

Channels are stored with their real labels and returned with the sensitive ones obfuscated
(``model``). An update that sends an obfuscated value back unchanged
keeps the stored secret. Deleting a channel that policies still name fails with
FAILED_PRECONDITION unless ``force`` is set, which also removes it from those policies, as
documented. SMS channels start UNVERIFIED; the verification-code methods work locally (the
code is whatever GetNotificationChannelVerificationCode returns).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Protocol

import grpc
from google.cloud.monitoring_v3.types import NotificationChannel
from google.protobuf import field_mask_pb2

from observability.emulator.channels.model import (
    CHANNEL_TYPES,
    descriptor,
    keep_secrets,
    obfuscated_labels,
    validate_channel,
)
from observability.emulator.channels.store import (
    CHANNELS,
    NotificationChannelStore,
    StoredChannel,
)
from observability.emulator.common import crud
from observability.emulator.common.errors import ApiError
from observability.emulator.common.listing import Schema, page
from observability.emulator.common.validation import invalid

_ChannelPb = NotificationChannel.pb()
_Verification = _ChannelPb.VerificationStatus
_READ_ONLY = frozenset({"name", "creation_record", "mutation_records", "verification_status"})
_MASKABLE = frozenset({"display_name", "description", "labels", "user_labels", "enabled"})

CHANNEL_SCHEMA: Final = Schema(
    fields=frozenset(
        {"name", "type", "display_name", "description", "enabled", "verification_status"}
    ),
    maps={
        "labels": "labels",
        "label": "labels",
        "user_labels": "user_labels",
        "user_label": "user_labels",
    },
)


def channel_view(channel: StoredChannel) -> dict[str, Any]:
    body = channel.body
    return {
        "name": channel.name,
        "type": channel.type,
        "display_name": channel.display_name,
        "description": body.get("description", ""),
        "enabled": channel.enabled,
        "verification_status": body.get("verificationStatus", "VERIFICATION_STATUS_UNSPECIFIED"),
        "labels": obfuscated_labels(channel.labels),
        "user_labels": channel.user_labels,
    }


def public(channel: Any) -> Any:
    """A copy of a raw channel protobuf with its secrets obfuscated (what readers get)."""
    shown = _ChannelPb()
    shown.CopyFrom(channel)
    labels = obfuscated_labels(dict(channel.labels))
    shown.labels.clear()
    shown.labels.update(labels)
    return shown


def verification_code(channel_name: str) -> str:
    digest = hashlib.sha256(channel_name.encode()).hexdigest()
    return f"G-{int(digest[:8], 16) % 1_000_000:06d}"


class ChannelUsers(Protocol):
    """What deleting a channel needs of the alert policies that name it: read a project's
    policies and rewrite them in one transaction. ``AlertPolicyStore`` is one; the channels
    package names only this shape, so policies may depend on channels and not the reverse."""

    def list_policies(self, project: str) -> Sequence[crud.StoredMessage]: ...

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def put_message(
        self, conn: sqlite3.Connection, project: str, id_: str, message: Any
    ) -> None: ...


class NotificationChannelService:
    """Descriptors and channel CRUD over the stores (raw protobuf requests and responses)."""

    def __init__(self, channels: NotificationChannelStore, policies: ChannelUsers) -> None:
        self.channels = channels
        self.policies = policies

    # -- descriptors -----------------------------------------------------------------

    def list_descriptors(self, request: Any) -> tuple[list[Any], str]:
        project = crud.parse_project(request.name)
        all_descriptors = [descriptor(project, t) for t in CHANNEL_TYPES.values()]
        return page(all_descriptors, request.page_size, request.page_token)

    def get_descriptor(self, request: Any) -> Any:
        parts = request.name.split("/")
        if (
            len(parts) != 4
            or parts[0] != "projects"
            or parts[2] != "notificationChannelDescriptors"
        ):
            raise invalid(
                "name",
                request.name,
                "must be projects/[PROJECT_ID]/notificationChannelDescriptors/[CHANNEL_TYPE]",
            )
        channel_type = CHANNEL_TYPES.get(parts[3])
        if channel_type is None:
            raise ApiError(
                grpc.StatusCode.NOT_FOUND,
                f"Notification channel descriptor not found: {request.name}",
            )
        return descriptor(parts[1], channel_type)

    # -- channels --------------------------------------------------------------------

    def create(self, request: Any) -> Any:
        project = crud.parse_project(request.name)
        channel = _ChannelPb()
        channel.CopyFrom(request.notification_channel)
        for field in ("name", "creation_record", "mutation_records"):
            channel.ClearField(field)
        channel_type = validate_channel(channel, creating=True)
        channel_id = crud.new_id()
        channel.name = CHANNELS.of(project, channel_id)
        if channel_type.needs_verification:
            channel.verification_status = _Verification.UNVERIFIED
        if not channel.HasField("enabled"):
            channel.enabled.value = True
        channel.creation_record.mutate_time.CopyFrom(crud.now_pb())
        channel.creation_record.mutated_by = crud.MUTATED_BY
        with self.channels.transaction() as conn:
            self.channels.put_message(conn, project, channel_id, channel)
        return public(channel)

    def get(self, request: Any) -> Any:
        return public(self.channels.find(CHANNELS, request.name).proto())

    def list_channels(self, request: Any) -> tuple[list[Any], str, int]:
        project = crud.parse_project(request.name)
        stored = self.channels.list_channels(project)
        chunk, token, total = crud.list_page(stored, request, CHANNEL_SCHEMA, channel_view)
        return [public(channel.proto()) for channel in chunk], token, total

    def update(self, request: Any) -> Any:
        supplied = request.notification_channel
        paths = list(request.update_mask.paths) if request.HasField("update_mask") else []
        try:
            stored = self.channels.find(CHANNELS, supplied.name, "notification_channel.name")
        except ApiError as error:
            # As for alert policies: Google's test_update_notification_channel_inside
            # (python-monitoring tests/system/test_vpcsc_v3.py) expects INVALID_ARGUMENT for
            # a missing channel updated with only its name; a valid body gets NOT_FOUND.
            if error.code == grpc.StatusCode.NOT_FOUND and not paths:
                validate_channel(supplied, creating=False)
            raise
        existing = stored.proto()
        channel = _ChannelPb()
        channel.CopyFrom(existing)
        if not paths:
            if supplied.type_ and supplied.type_ != existing.type_:
                raise invalid(
                    "notification_channel.type",
                    supplied.type_,
                    "the type of a channel cannot change",
                )
            paths = sorted(_MASKABLE)
        plain: list[str] = []
        for path in paths:
            head, _, key = path.partition(".")
            if path in ("type", "type_"):
                if supplied.type_ != existing.type_:
                    raise invalid(
                        "notification_channel.type",
                        supplied.type_,
                        "the type of a channel cannot change",
                    )
            elif head in ("labels", "user_labels") and key:
                crud.mask_label(getattr(channel, head), getattr(supplied, head), key)
            elif path in _MASKABLE:
                plain.append(path)
            elif path in _READ_ONLY:
                if path == "verification_status":
                    raise invalid(
                        "update_mask", path, "call VerifyNotificationChannel to change it"
                    )
            else:
                raise invalid(
                    "update_mask", path, "not a field of NotificationChannel that can be set"
                )
        if plain:
            field_mask_pb2.FieldMask(paths=plain).MergeMessage(
                supplied, channel, replace_message_field=True, replace_repeated_field=True
            )
        labels = keep_secrets(dict(channel.labels), dict(existing.labels))
        channel.labels.clear()
        channel.labels.update(labels)
        if not channel.HasField("enabled"):
            channel.enabled.value = True
        validate_channel(channel, creating=False)
        record = channel.mutation_records.add()
        record.mutate_time.CopyFrom(crud.now_pb())
        record.mutated_by = crud.MUTATED_BY
        with self.channels.transaction() as conn:
            self.channels.put_message(conn, stored.project, stored.id, channel)
        return public(channel)

    def delete(self, request: Any) -> None:
        stored = self.channels.find(CHANNELS, request.name)
        users = [
            policy
            for policy in self.policies.list_policies(stored.project)
            if stored.name in policy.body.get("notificationChannels", [])
        ]
        if users and not request.force:
            raise ApiError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Notification channel {stored.name} is used by alert policies "
                + ", ".join(p.name for p in users)
                + "; remove it from them or delete with force=true",
            )
        with self.policies.transaction() as conn:
            for user in users:
                policy = user.proto()
                kept = [name for name in policy.notification_channels if name != stored.name]
                del policy.notification_channels[:]
                policy.notification_channels.extend(kept)
                for per_channel in policy.alert_strategy.notification_channel_strategy:
                    names = [n for n in per_channel.notification_channel_names if n != stored.name]
                    del per_channel.notification_channel_names[:]
                    per_channel.notification_channel_names.extend(names)
                self.policies.put_message(conn, user.project, user.id, policy)
        with self.channels.transaction() as conn:
            self.channels.remove(conn, stored.project, stored.id)

    # -- verification ----------------------------------------------------------------

    def send_verification_code(self, request: Any) -> None:
        self.channels.find(CHANNELS, request.name)

    def get_verification_code(self, request: Any) -> tuple[str, Any]:
        stored = self.channels.find(CHANNELS, request.name)
        expire = crud.now_pb()
        expire.FromDatetime(datetime.now(timezone.utc) + timedelta(hours=1))
        return verification_code(stored.name), expire

    def verify(self, request: Any) -> Any:
        stored = self.channels.find(CHANNELS, request.name)
        if request.code != verification_code(stored.name):
            raise invalid("code", request.code, "wrong verification code")
        channel = stored.proto()
        channel.verification_status = _Verification.VERIFIED
        with self.channels.transaction() as conn:
            self.channels.put_message(conn, stored.project, stored.id, channel)
        return public(channel)
