"""``google.monitoring.v3.AlertPolicyService`` over gRPC: decoding and encoding only; the
behaviour is ``AlertPolicyService``'s."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.monitoring_v3 import types
from google.cloud.monitoring_v3.types import ListAlertPoliciesResponse

from observability.emulator.alert_policies.service import AlertPolicyService
from observability.emulator.common.crud import crud_handler

SERVICE_NAME = "google.monitoring.v3.AlertPolicyService"

_ListResponse = ListAlertPoliciesResponse.pb()


def handler(service: AlertPolicyService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_policies(request: Any) -> Any:
        policies, token, total = service.list_policies(request)
        return _ListResponse(alert_policies=policies, next_page_token=token, total_size=total)

    return crud_handler(SERVICE_NAME, types, "AlertPolicy", "AlertPolicies", service, list_policies)
