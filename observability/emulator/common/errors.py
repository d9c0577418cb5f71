"""One error type for every emulated API, rendered the way Google renders it on each transport.

Service code raises ``ApiError(code, message, details)`` without knowing the transport. The
gRPC edge turns it into a rich status (``grpc-status-details-bin``, which google-api-core
decodes into ``exception.details``); the REST edge into Google's JSON error body
``{"error": {"code", "message", "status", "details"}}`` with the matching HTTP status. Both
clients then raise the same ``google.api_core.exceptions`` class they would against Google.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc_status import rpc_status

# google.rpc.Code -> HTTP status, from google/rpc/code.proto.
_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_CODE_BY_HTTP_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.NOT_FOUND,  # Google answers 404 for a method a path lacks
    413: grpc.StatusCode.INVALID_ARGUMENT,
}


class ApiError(Exception):
    """A failed call: a canonical code, a message for the user, optional typed details."""

    def __init__(
        self, code: grpc.StatusCode, message: str, details: Sequence[Message] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = tuple(details)

    @classmethod
    def invalid(cls, message: str, details: Sequence[Message] = ()) -> ApiError:
        """INVALID_ARGUMENT, by far the most common refusal."""
        return cls(grpc.StatusCode.INVALID_ARGUMENT, message, details)

    @classmethod
    def from_http_status(cls, status: int, message: str) -> ApiError:
        """An error the HTTP layer itself raised (unknown path, wrong method...)."""
        return cls(_CODE_BY_HTTP_STATUS.get(status, grpc.StatusCode.UNKNOWN), message)

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self.code]

    def _packed_details(self) -> list[any_pb2.Any]:
        packed = []
        for detail in self.details:
            wrapper = any_pb2.Any()
            wrapper.Pack(detail)
            packed.append(wrapper)
        return packed

    def to_json(self) -> dict[str, Any]:
        """Google's REST error body."""
        error: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.code.name,
        }
        if self.details:
            error["details"] = [json_format.MessageToDict(d) for d in self._packed_details()]
        return {"error": error}

    def abort(self, context: grpc.ServicerContext) -> NoReturn:
        """End the gRPC call with this error as a rich status."""
        status = status_pb2.Status(
            code=self.code.value[0], message=self.message, details=self._packed_details()
        )
        context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returned")  # it always raises


def json_type_name(value: object) -> str:
    """How an error message names the JSON type of a value that has the wrong one."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"
