"""``google.monitoring.v3.AlertPolicyService`` over gRPC: decoding and encoding only; the
behaviour is ``AlertPolicyService``'s."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.monitoring_v3.types import (
    AlertPolicy,
    CreateAlertPolicyRequest,
    DeleteAlertPolicyRequest,
    GetAlertPolicyRequest,
    ListAlertPoliciesRequest,
    ListAlertPoliciesResponse,
    UpdateAlertPolicyRequest,
)
from google.protobuf import empty_pb2

from observability.emulator.alert_policies.service import AlertPolicyService
from observability.emulator.common.grpc_common import unary

SERVICE_NAME = "google.monitoring.v3.AlertPolicyService"

_Policy = AlertPolicy.pb()
_ListResponse = ListAlertPoliciesResponse.pb()


def handler(service: AlertPolicyService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_policies(request: Any) -> Any:
        policies, token, total = service.list_policies(request)
        return _ListResponse(alert_policies=policies, next_page_token=token, total_size=total)

    def delete(request: Any) -> Any:
        service.delete(request)
        return empty_pb2.Empty()

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "CreateAlertPolicy": unary(service.create, CreateAlertPolicyRequest.pb(), _Policy),
            "GetAlertPolicy": unary(service.get, GetAlertPolicyRequest.pb(), _Policy),
            "ListAlertPolicies": unary(list_policies, ListAlertPoliciesRequest.pb(), _ListResponse),
            "UpdateAlertPolicy": unary(service.update, UpdateAlertPolicyRequest.pb(), _Policy),
            "DeleteAlertPolicy": unary(delete, DeleteAlertPolicyRequest.pb(), empty_pb2.Empty),
        },
    )
