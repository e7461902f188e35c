"""Server reflection as clients ask for it: ``grpc.reflection.v1`` and ``v1alpha``, on a real server."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from audioval_servicekit import ServiceSettings, build_server
from audioval_servicekit.server import RunningServer

V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = build_server(ServiceSettings(port=0), [], ["audioval.v1.ClassifyService"])
    yield running
    running.stop(0)


def ask(
    channel: grpc.Channel, version: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One request on the reflection stream of ``version``, as a client of that version sends it.

    A v1 client's messages are byte-for-byte a v1alpha client's (same fields, same numbers),
    so the v1 call is the v1alpha messages on the v1 method path, which is what goes on the wire.
    """
    if version == "v1alpha":
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo
    else:
        call = channel.stream_stream(
            V1_METHOD,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
    return next(iter(call(iter([request]), timeout=10)))


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_services_under_both_versions(server: RunningServer, version: str) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reply = ask(channel, version, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in reply.list_services_response.service}
    assert {
        "audioval.v1.ClassifyService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
@pytest.mark.parametrize(
    ("symbol", "file", "package"),
    [
        ("grpc.health.v1.Health", "grpc_health/v1/health.proto", "grpc.health.v1"),
        (
            "grpc.reflection.v1.ServerReflection",
            "grpc/reflection/v1/reflection.proto",
            "grpc.reflection.v1",
        ),
    ],
)
def test_reflection_describes_a_symbol_under_both_versions(
    server: RunningServer, version: str, symbol: str, file: str, package: str
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reply = ask(
            channel, version, reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        )
    assert not reply.HasField("error_response"), reply.error_response
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in reply.file_descriptor_response.file_descriptor_proto
    ]
    described = {f.name: f for f in files}
    assert described[file].package == package
    service = symbol.rsplit(".", 1)[1]
    assert service in {s.name for s in described[file].service}


def test_reflection_v1_describes_its_methods_with_v1_types(server: RunningServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reply = ask(
            channel,
            "v1",
            reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="grpc.reflection.v1.ServerReflection"
            ),
        )
    (raw,) = reply.file_descriptor_response.file_descriptor_proto
    file = descriptor_pb2.FileDescriptorProto.FromString(raw)
    (method,) = file.service[0].method
    assert method.input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    assert method.client_streaming and method.server_streaming
    assert all("v1alpha" not in f.type_name for message in file.message_type for f in message.field)


def test_an_unknown_symbol_is_not_found_under_v1(server: RunningServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        reply = ask(
            channel,
            "v1",
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Service"),
        )
    assert reply.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
