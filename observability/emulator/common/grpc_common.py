"""What every emulated gRPC service shares: unary handlers that turn ApiError into a status.

The GAPIC packages ship no servicer base classes, so services register plain functions with
``grpc.method_handlers_generic_handler``; the raw protobuf classes (``X.pb()``) are used for
(de)serialization because proto-plus wrappers would cost more than the work itself.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from observability.emulator.common.errors import ApiError
from observability.emulator.common.sqlite_db import unavailable

_log = logging.getLogger(__name__)


def _internal(error: Exception) -> ApiError:
    _log.error("storage failure", exc_info=error)
    return ApiError(grpc.StatusCode.INTERNAL, f"emulator bug: {type(error).__name__}: {error}")


class _Undecodable:
    """A request the protobuf decoder refused, carried to the handler to be answered."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _deserializer(request_class: Any) -> Callable[[bytes], Any]:
    """``request_class.FromString`` that hands a refusal to the handler instead of raising.

    grpcio answers a deserializer's exception with INTERNAL ("Exception deserializing
    request!"), which Google's clients retry for a minute; a request nested deeper than the
    decoders allow (100 levels of messages, about 33 levels of objects in a ``jsonPayload``)
    is the caller's error, so it gets INVALID_ARGUMENT at once.
    """

    def deserialize(data: bytes) -> Any:
        try:
            return request_class.FromString(data)
        except DecodeError as error:
            return _Undecodable(str(error))

    return deserialize


def unary(
    behaviour: Callable[[Any], Any], request_class: Any, response_class: Any
) -> grpc.RpcMethodHandler:
    """A unary-unary handler calling ``behaviour(request) -> response`` (raw protobufs)."""

    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            if isinstance(request, _Undecodable):
                raise ApiError.invalid(f"Invalid request: {request.reason}")
            return behaviour(request)
        except ApiError as error:
            error.abort(context)
        except sqlite3.Error as error:
            (unavailable(error) or _internal(error)).abort(context)

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=_deserializer(request_class),
        response_serializer=response_class.SerializeToString,
    )
