"""Bearer-token authentication for gRPC servers."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import grpc

# Health checks and reflection stay open: load balancers and grpcurl call them without a token.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def _deny(
    handler: grpc.RpcMethodHandler[Any, Any] | None, code: grpc.StatusCode, details: str
) -> grpc.RpcMethodHandler[Any, Any] | None:
    """A handler of the same streaming shape as ``handler`` that only aborts."""
    if handler is None:
        return None  # unknown method: let gRPC answer UNIMPLEMENTED

    def abort(_request: Any, context: grpc.ServicerContext) -> None:
        context.abort(code, details)

    factories = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    factory = factories[(handler.request_streaming, handler.response_streaming)]
    return factory(
        abort,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


if TYPE_CHECKING:  # grpc-stubs makes the interceptor generic; the runtime class is not
    _Interceptor = grpc.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.ServerInterceptor


class BearerAuthInterceptor(_Interceptor):
    """Accepts a call only with ``authorization: Bearer <token>`` naming a configured token.

    Tokens are compared in constant time so response timing does not leak a prefix.
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = [t.encode() for t in tokens if t]
        if not self._tokens:
            raise ValueError("BearerAuthInterceptor needs at least one token")

    def _accepts(self, presented: str) -> bool:
        candidate = presented.encode()
        # Compare against every token (no early exit) so timing says nothing about which matched.
        matches = [hmac.compare_digest(candidate, token) for token in self._tokens]
        return any(matches)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method or ""
        if method.startswith(PUBLIC_METHOD_PREFIXES):
            return continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = metadata.get("authorization", "")
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _deny(
                continuation(handler_call_details),
                grpc.StatusCode.UNAUTHENTICATED,
                "missing bearer token",
            )
        if not self._accepts(token.strip()):
            return _deny(
                continuation(handler_call_details),
                grpc.StatusCode.UNAUTHENTICATED,
                "invalid bearer token",
            )
        return continuation(handler_call_details)
