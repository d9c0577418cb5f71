"""What every emulated gRPC service shares: unary handlers that turn ApiError into a status.

The GAPIC packages ship no servicer base classes, so services register plain functions with
``grpc.method_handlers_generic_handler``; the raw protobuf classes (``X.pb()``) are used for
(de)serialization because proto-plus wrappers would cost more than the work itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from observability.emulator.errors import ApiError


def unary(
    behaviour: Callable[[Any], Any], request_class: Any, response_class: Any
) -> grpc.RpcMethodHandler:
    """A unary-unary handler calling ``behaviour(request) -> response`` (raw protobufs)."""

    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behaviour(request)
        except ApiError as error:
            error.abort(context)

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=request_class.FromString,
        response_serializer=response_class.SerializeToString,
    )
