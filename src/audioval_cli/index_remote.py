"""``audioval index --index grpc://host:port``: the running stack's index, through classify's
``audioval.v1.IndexService``.

The CLI sends each file's bytes (classify decodes and fingerprints them on its validator pool,
as it does an upload) and prints what the service answers in the same JSON shapes as the
embedded index: ``ref``, ``list``, ``score``, times in seconds. gRPC refusals become one JSON
object with ``error`` (and the status name) per input, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from audioval.v1 import index_pb2, index_pb2_grpc

__all__ = ["GRPC_SCHEME", "RemoteIndex", "RemoteIndexError"]

GRPC_SCHEME = "grpc://"
# Decoding and fingerprinting a long recording on a busy pool takes seconds.
TIMEOUT_S = 120.0
_LISTS = {
    "known-bad": index_pb2.REFERENCE_LIST_KNOWN_BAD,
    "catalogue": index_pb2.REFERENCE_LIST_CATALOGUE,
}
_LIST_NAMES = {number: name for name, number in _LISTS.items()}


class RemoteIndexError(RuntimeError):
    """The service refused a call: ``status`` is the gRPC status name."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reference(reference: index_pb2.Reference) -> dict[str, Any]:
    return {
        "ref": int(reference.ref),
        "list": _LIST_NAMES.get(reference.list, "unspecified"),
        "track_id": reference.track_id or None,
        "ref_path": reference.name or None,
        "duration_s": round(reference.duration_s, 3),
        "hashes": int(reference.hashes),
    }


class RemoteIndex:
    """An IndexService at ``grpc://host:port`` (a bearer token when the stack asks for one)."""

    def __init__(self, uri: str, *, token: str | None = None) -> None:
        target = uri[len(GRPC_SCHEME) :].rstrip("/")
        if not target:
            raise RemoteIndexError("INVALID_ARGUMENT", f"no host:port in {uri!r}")
        self.uri = uri
        self._channel = grpc.insecure_channel(
            target, options=[("grpc.max_send_message_length", 256 * 1024 * 1024)]
        )
        self._stub = index_pb2_grpc.IndexServiceStub(self._channel)
        self._metadata = [("authorization", f"Bearer {token}")] if token else []

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> RemoteIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=TIMEOUT_S, metadata=self._metadata)
        except grpc.RpcError as err:
            code = err.code()
            raise RemoteIndexError(code.name, f"{code.name}: {err.details()}") from None

    def add(self, path: str, *, list_name: str) -> dict[str, Any]:
        """Add the file's recording: the reference as ``index add`` prints it."""
        request = index_pb2.AddReferenceRequest(
            content=Path(path).read_bytes(), list=_LISTS[list_name], name=path
        )
        response = self._call(self._stub.AddReference, request)
        out = {"path": path, **_reference(response.reference)}
        del out["ref_path"]
        out["superseded_track_ids"] = list(response.superseded_track_ids)
        return out

    def match(self, path: str, *, limit: int) -> list[dict[str, Any]]:
        """The references the file matches, best first, as ``index match`` prints them."""
        request = index_pb2.MatchTrackRequest(content=Path(path).read_bytes(), limit=limit)
        response = self._call(self._stub.MatchTrack, request)
        return [
            {
                **_reference(m.reference),
                "score": m.score,
                "query_start_s": m.query_start_s,
                "ref_start_s": m.ref_start_s,
                "matched_s": m.matched_s,
                "scale": m.scale,
            }
            for m in response.matches
        ]

    def remove(self, ref: int) -> dict[str, Any]:
        """Remove a reference: the reference as it was."""
        response = self._call(self._stub.RemoveReference, index_pb2.RemoveReferenceRequest(ref=ref))
        return _reference(response.reference)
