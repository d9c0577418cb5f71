"""``google.monitoring.v3.NotificationChannelService`` over gRPC: decoding and encoding only;
the behaviour is ``NotificationChannelService``'s."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.monitoring_v3.types import (
    CreateNotificationChannelRequest,
    DeleteNotificationChannelRequest,
    GetNotificationChannelDescriptorRequest,
    GetNotificationChannelRequest,
    GetNotificationChannelVerificationCodeRequest,
    GetNotificationChannelVerificationCodeResponse,
    ListNotificationChannelDescriptorsRequest,
    ListNotificationChannelDescriptorsResponse,
    ListNotificationChannelsRequest,
    ListNotificationChannelsResponse,
    NotificationChannel,
    NotificationChannelDescriptor,
    SendNotificationChannelVerificationCodeRequest,
    UpdateNotificationChannelRequest,
    VerifyNotificationChannelRequest,
)
from google.protobuf import empty_pb2

from observability.emulator.channels.service import NotificationChannelService
from observability.emulator.common.grpc_common import unary

SERVICE_NAME = "google.monitoring.v3.NotificationChannelService"

_Channel = NotificationChannel.pb()
_Descriptor = NotificationChannelDescriptor.pb()
_ListResponse = ListNotificationChannelsResponse.pb()
_DescriptorsResponse = ListNotificationChannelDescriptorsResponse.pb()
_CodeResponse = GetNotificationChannelVerificationCodeResponse.pb()


def handler(service: NotificationChannelService) -> grpc.GenericRpcHandler:
    """The generic handler to add to a ``grpc.Server``."""

    def list_descriptors(request: Any) -> Any:
        descriptors, token = service.list_descriptors(request)
        return _DescriptorsResponse(channel_descriptors=descriptors, next_page_token=token)

    def list_channels(request: Any) -> Any:
        channels, token, total = service.list_channels(request)
        return _ListResponse(
            notification_channels=channels, next_page_token=token, total_size=total
        )

    def delete(request: Any) -> Any:
        service.delete(request)
        return empty_pb2.Empty()

    def send_code(request: Any) -> Any:
        service.send_verification_code(request)
        return empty_pb2.Empty()

    def get_code(request: Any) -> Any:
        code, expire = service.get_verification_code(request)
        return _CodeResponse(code=code, expire_time=expire)

    methods = {
        "ListNotificationChannelDescriptors": unary(
            list_descriptors, ListNotificationChannelDescriptorsRequest.pb(), _DescriptorsResponse
        ),
        "GetNotificationChannelDescriptor": unary(
            service.get_descriptor, GetNotificationChannelDescriptorRequest.pb(), _Descriptor
        ),
        "CreateNotificationChannel": unary(
            service.create, CreateNotificationChannelRequest.pb(), _Channel
        ),
        "GetNotificationChannel": unary(service.get, GetNotificationChannelRequest.pb(), _Channel),
        "ListNotificationChannels": unary(
            list_channels, ListNotificationChannelsRequest.pb(), _ListResponse
        ),
        "UpdateNotificationChannel": unary(
            service.update, UpdateNotificationChannelRequest.pb(), _Channel
        ),
        "DeleteNotificationChannel": unary(
            delete, DeleteNotificationChannelRequest.pb(), empty_pb2.Empty
        ),
        "SendNotificationChannelVerificationCode": unary(
            send_code, SendNotificationChannelVerificationCodeRequest.pb(), empty_pb2.Empty
        ),
        "GetNotificationChannelVerificationCode": unary(
            get_code, GetNotificationChannelVerificationCodeRequest.pb(), _CodeResponse
        ),
        "VerifyNotificationChannel": unary(
            service.verify, VerifyNotificationChannelRequest.pb(), _Channel
        ),
    }
    return grpc.method_handlers_generic_handler(SERVICE_NAME, methods)
