"""``google.monitoring.v3.NotificationChannelService`` over gRPC: decoding and encoding only;
the behaviour is ``NotificationChannelService``'s."""

from __future__ import annotations

from typing import Any

import grpc
from google.cloud.monitoring_v3 import types
from google.protobuf import empty_pb2

from observability.emulator.channels.service import NotificationChannelService
from observability.emulator.common.crud import crud_handler
from observability.emulator.common.grpc_common import unary

SERVICE_NAME = "google.monitoring.v3.NotificationChannelService"

_Channel = types.NotificationChannel.pb()
_Descriptor = types.NotificationChannelDescriptor.pb()
_ListResponse = types.ListNotificationChannelsResponse.pb()
_DescriptorsResponse = types.ListNotificationChannelDescriptorsResponse.pb()
_CodeResponse = types.GetNotificationChannelVerificationCodeResponse.pb()


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

    def send_code(request: Any) -> Any:
        service.send_verification_code(request)
        return empty_pb2.Empty()

    def get_code(request: Any) -> Any:
        code, expire = service.get_verification_code(request)
        return _CodeResponse(code=code, expire_time=expire)

    other_methods = {
        "ListNotificationChannelDescriptors": unary(
            list_descriptors,
            types.ListNotificationChannelDescriptorsRequest.pb(),
            _DescriptorsResponse,
        ),
        "GetNotificationChannelDescriptor": unary(
            service.get_descriptor, types.GetNotificationChannelDescriptorRequest.pb(), _Descriptor
        ),
        "SendNotificationChannelVerificationCode": unary(
            send_code, types.SendNotificationChannelVerificationCodeRequest.pb(), empty_pb2.Empty
        ),
        "GetNotificationChannelVerificationCode": unary(
            get_code, types.GetNotificationChannelVerificationCodeRequest.pb(), _CodeResponse
        ),
        "VerifyNotificationChannel": unary(
            service.verify, types.VerifyNotificationChannelRequest.pb(), _Channel
        ),
    }
    return crud_handler(
        SERVICE_NAME,
        types,
        "NotificationChannel",
        "NotificationChannels",
        service,
        list_channels,
        other_methods,
    )
