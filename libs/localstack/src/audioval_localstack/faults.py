"""A fault layer in front of the local AWS emulator: Kinesis' shard limits and AWS' own errors.

moto never throttles and enforces only some of Kinesis' limits, so code that runs fine against
it can fall over against AWS. :class:`FaultProxy` is a small threaded HTTP reverse proxy on
127.0.0.1 that every AWS client talks to instead of moto. It

- enforces Kinesis' per-shard limits with token buckets: 1 MiB/s and 1,000 records/s in,
  2 MiB/s and 5 GetRecords calls/s out, 5 GetShardIterator calls/s, and 1 MiB per record (data +
  partition key). Records are mapped to shards as Kinesis does (``audioval_pipeline.shards``, as
  ingest's writers place them): the MD5 of the partition key (or the ExplicitHashKey) falls in one
  open shard's hash-key range, read from ListShards upstream and cached. PutRecords answers over-limit records with a per-record
  ``ProvisionedThroughputExceededException`` in an otherwise successful response and forwards
  only the accepted records; PutRecord, GetRecords and GetShardIterator over the limit get
  HTTP 400 with AWS' JSON error body and ``x-amzn-ErrorType`` header;
- injects AWS' own errors at a configured rate into any JSON-protocol call (``X-Amz-Target``:
  Kinesis, DynamoDB, SQS): throttling with each service's documented code, HTTP 500/503, and
  timeouts (the request is held past the client's read timeout, then the connection dropped).
  Injected errors never reach moto, so an injected failure has no side effect: it models a
  request AWS refused, not one it applied and then failed to answer;
- counts what it did (:meth:`FaultProxy.stats`).

GetRecords names only a shard iterator. The proxy learns which shard an iterator reads from the
GetShardIterator call that made it and the GetRecords answers that continue it; an iterator it
has not seen is decoded in moto's format (base64 of ``stream:shard:sequence``). Calls on an
iterator it cannot place are forwarded without limits.

The proxy is for the emulator only: it rewrites PutRecords bodies (so the request signature no
longer matches, which moto does not check) and asks upstream for shard maps with the signing
headers of the request that needed them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import json
import random
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from audioval_pipeline.shards import (
    ShardRange,
    TokenBucket,
    WriteBudget,
    hash_key,
    open_shards,
    shard_for,
)

__all__ = ["FAULT_KINDS", "FaultProxy", "FaultStats", "ShardLimits"]

FAULT_KINDS = ("throttle", "5xx", "timeout")

MIB = 1024 * 1024
# Kinesis' fixed limits (PutRecords: 500 records and 5 MiB per call; 1 MiB per record).
MAX_RECORD_BYTES = MIB
MAX_PUT_RECORDS = 500
MAX_PUT_RECORDS_BYTES = 5 * MIB

_KINESIS = "Kinesis_20131202"
_DYNAMODB = "DynamoDB_20120810"
_SQS = "AmazonSQS"
# DynamoDB operations whose documented throttle is ProvisionedThroughputExceededException.
_DYNAMODB_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
    }
)
_KINESIS_DATA_OPERATIONS = frozenset({"PutRecord", "PutRecords", "GetRecords", "GetShardIterator"})
# Headers that describe one hop, not the message: never passed through.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "content-length",
    }
)
_LOCAL_ACCOUNT = "123456789012"  # moto's default account, for error messages only


@dataclass(frozen=True)
class ShardLimits:
    """Kinesis' per-shard throughput limits (the provisioned-mode defaults).

    ``burst_s`` is how many seconds of each rate a bucket holds when full: a shard idle for a
    second may take one second's worth at once, never more.
    """

    in_bytes_per_s: float = 1.0 * MIB
    in_records_per_s: float = 1000.0
    out_bytes_per_s: float = 2.0 * MIB
    get_records_per_s: float = 5.0
    get_shard_iterator_per_s: float = 5.0
    burst_s: float = 1.0


@dataclass(frozen=True)
class FaultStats:
    """What the proxy did so far (a snapshot).

    Attributes
    ----------
    requests
        Requests received (``/moto-api/`` included).
    forwarded
        Requests sent on to the emulator (shard-map look-ups of the proxy's own not included).
    injected
        Injected errors by kind: ``throttle``, ``5xx``, ``timeout``.
    throttled_records
        PutRecords entries refused with a per-record ProvisionedThroughputExceededException.
    throttled_calls
        PutRecord, GetRecords and GetShardIterator calls refused with HTTP 400 for a shard limit.
    rejected_records
        Records refused as too large (ValidationException) or calls over PutRecords' limits.
    bytes_in, records_in
        Record bytes (data + partition key) and records accepted into Kinesis.
    bytes_out
        Record data bytes returned by GetRecords.
    """

    requests: int = 0
    forwarded: int = 0
    injected: Mapping[str, int] = field(default_factory=dict)
    throttled_records: int = 0
    throttled_calls: int = 0
    rejected_records: int = 0
    bytes_in: int = 0
    records_in: int = 0
    bytes_out: int = 0

    @property
    def injected_total(self) -> int:
        return sum(self.injected.values())


@dataclass
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def with_body(self, body: bytes) -> _Request:
        return _Request(self.method, self.path, self.headers, body)


# Sends one request upstream and returns the whole answer.
_Send = Callable[[_Request], _Response]


@dataclass
class _ShardBuckets:
    write: WriteBudget
    out_bytes: TokenBucket
    get_records: TokenBucket
    get_iterator: TokenBucket


def _error(
    status: int,
    error_type: str,
    message: str,
    *,
    content_type: str,
    query_error: str | None = None,
) -> _Response:
    """An AWS JSON-protocol error: ``{"__type", "message"}`` plus ``x-amzn-ErrorType``."""
    body = json.dumps({"__type": error_type, "message": message}).encode()
    headers = [
        ("Content-Type", content_type),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", error_type.rsplit("#", 1)[-1]),
    ]
    if query_error:
        # SQS' JSON protocol keeps its query-era codes in this header; botocore reports them.
        headers.append(("x-amzn-query-error", query_error))
    reason = http.client.responses.get(status, "Error")
    return _Response(status, reason, headers, body)


def _json_response(document: Mapping[str, Any], content_type: str) -> _Response:
    headers = [("Content-Type", content_type), ("x-amzn-RequestId", str(uuid.uuid4()))]
    return _Response(200, "OK", headers, json.dumps(document).encode())


def _decoded_length(data: str) -> int:
    """Bytes a base64 text decodes to (botocore sends it unwrapped and padded)."""
    return len(data) * 3 // 4 - (2 if data.endswith("==") else 1 if data.endswith("=") else 0)


def _hash_key(record: Mapping[str, Any]) -> int:
    explicit = record.get("ExplicitHashKey")
    return hash_key(str(record.get("PartitionKey", "")), str(explicit) if explicit else None)


def _stream_of(body: Mapping[str, Any]) -> str | None:
    name = body.get("StreamName")
    if name:
        return str(name)
    arn = body.get("StreamARN")
    return str(arn).rsplit("/", 1)[-1] if arn else None


def _moto_iterator(iterator: str) -> tuple[str, str] | None:
    """(stream, shard) of one of moto's shard iterators (base64 of ``stream:shard:seq``)."""
    try:
        parts = base64.b64decode(iterator, validate=False).decode("utf-8").split(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if len(parts) == 3 and parts[1].startswith("shardId-"):
        return parts[0], parts[1]
    return None


class _KinesisLimiter:
    """Per-shard token buckets, the shard maps they need, and where each iterator reads."""

    def __init__(
        self,
        limits: ShardLimits,
        clock: Callable[[], float],
        *,
        shard_map_ttl_s: float = 10.0,
        max_iterators: int = 100_000,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._ttl = shard_map_ttl_s
        self._max_iterators = max_iterators
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _ShardBuckets] = {}
        self._maps: dict[str, tuple[float, list[ShardRange]]] = {}
        self._iterators: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def buckets(self, stream: str, shard_id: str) -> _ShardBuckets:
        """The shard's buckets (call with the lock held)."""
        key = (stream, shard_id)
        found = self._buckets.get(key)
        if found is None:
            now = self._clock()
            burst = self._limits.burst_s
            limits = self._limits

            def bucket(rate: float) -> TokenBucket:
                return TokenBucket(rate, rate * burst, now)

            found = _ShardBuckets(
                write=WriteBudget(
                    limits.in_bytes_per_s,
                    limits.in_records_per_s,
                    bytes_capacity=limits.in_bytes_per_s * burst,
                    records_capacity=limits.in_records_per_s * burst,
                    now=now,
                ),
                out_bytes=bucket(limits.out_bytes_per_s),
                get_records=bucket(limits.get_records_per_s),
                get_iterator=bucket(limits.get_shard_iterator_per_s),
            )
            self._buckets[key] = found
        return found

    def admit(self, stream: str, shard_id: str, size: int, now: float) -> bool:
        """Take one record of ``size`` bytes from the shard's write budget if both have room.

        Call with the lock held. A refused record takes nothing (AWS does not charge it).
        """
        return self.buckets(stream, shard_id).write.admit(size, 1, now)

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def now(self) -> float:
        return self._clock()

    def shards(self, stream: str, request: _Request, send: _Send) -> list[ShardRange] | None:
        """The stream's open shards (cached); None when upstream cannot say."""
        wall = time.monotonic()
        with self._lock:
            cached = self._maps.get(stream)
        if cached is not None and wall - cached[0] < self._ttl:
            return cached[1]
        shards = self._list_shards(stream, request, send)
        if shards is not None:
            with self._lock:
                self._maps[stream] = (wall, shards)
        return shards

    def _list_shards(self, stream: str, request: _Request, send: _Send) -> list[ShardRange] | None:
        # Signed with the caller's headers so moto files the call under the same account/region.
        keep = {"authorization", "x-amz-date", "x-amz-security-token", "host", "user-agent"}
        headers = [(k, v) for k, v in request.headers if k.lower() in keep]
        headers += [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", f"{_KINESIS}.ListShards"),
        ]
        shards: list[ShardRange] = []
        query: dict[str, Any] = {"StreamName": stream}
        for _ in range(100):  # pages of up to 10,000 shards: far more than any local stream
            answer = send(_Request("POST", request.path, headers, json.dumps(query).encode()))
            if answer.status != 200:
                return None
            page = answer.json()
            shards.extend(open_shards(page.get("Shards", [])))
            token = page.get("NextToken")
            if not token:
                break
            query = {"NextToken": token}
        return shards

    def forget_map(self, stream: str) -> None:
        with self._lock:
            self._maps.pop(stream, None)

    def remember_iterator(self, iterator: str | None, stream: str, shard_id: str) -> None:
        if not iterator:
            return
        with self._lock:
            self._iterators[iterator] = (stream, shard_id)
            self._iterators.move_to_end(iterator)
            while len(self._iterators) > self._max_iterators:
                self._iterators.popitem(last=False)

    def place_iterator(self, iterator: str) -> tuple[str, str] | None:
        with self._lock:
            found = self._iterators.get(iterator)
        return found if found is not None else _moto_iterator(iterator)


class FaultProxy:
    """A reverse proxy in front of the emulator that throttles like Kinesis and fails like AWS.

    Parameters
    ----------
    upstream_url
        The emulator, e.g. ``Emulator().endpoint_url`` (``http://127.0.0.1:PORT``).
    fault_rate
        Share of JSON-protocol calls (0..1) answered with an injected fault instead.
    kinds
        Which faults to inject, picked uniformly: ``throttle``, ``5xx``, ``timeout``.
    enforce_limits
        Apply Kinesis' per-shard limits (:class:`ShardLimits`).
    seed
        Seeds the fault draws: the n-th call proxied gets the same fate in every run.
    timeout_hold_s
        How long a ``timeout`` holds the request before dropping the connection: set it longer
        than the clients' read timeout (PipelineSettings' default is 10 s).
    port
        Port on 127.0.0.1 (0 picks a free one).
    limits
        The per-shard limits.
    clock
        Time source of the token buckets (tests pass a manual clock).
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        fault_rate: float = 0.0,
        kinds: Iterable[str] = FAULT_KINDS,
        enforce_limits: bool = True,
        seed: int = 0,
        timeout_hold_s: float = 11.0,
        port: int = 0,
        limits: ShardLimits = ShardLimits(),
        clock: Callable[[], float] = time.monotonic,
        upstream_timeout_s: float = 60.0,
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_url!r}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError("fault_rate must be within [0, 1]")
        self._kinds = tuple(kinds)
        unknown = set(self._kinds) - set(FAULT_KINDS)
        if unknown or (fault_rate > 0 and not self._kinds):
            raise ValueError(f"kinds must be a non-empty subset of {FAULT_KINDS}")
        if timeout_hold_s <= 0:
            raise ValueError("timeout_hold_s must be positive")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.fault_rate = fault_rate
        self.enforce_limits = enforce_limits
        self.timeout_hold_s = timeout_hold_s
        self.upstream_timeout_s = upstream_timeout_s
        self._port = port
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._injected: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self._limiter = _KinesisLimiter(limits, clock)
        self._stopping = threading.Event()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        """Listen on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _ProxyServer(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="fault-proxy",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop listening, drop open connections (held ones too), wait for handler threads."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(timeout_s)
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._server = None
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- counters -------------------------------------------------------------------------------

    def stats(self) -> FaultStats:
        """A snapshot of the counters."""
        with self._lock:
            counts = dict(self._counts)
            injected = dict(self._injected)
        return FaultStats(
            requests=counts.get("requests", 0),
            forwarded=counts.get("forwarded", 0),
            injected=injected,
            throttled_records=counts.get("throttled_records", 0),
            throttled_calls=counts.get("throttled_calls", 0),
            rejected_records=counts.get("rejected_records", 0),
            bytes_in=counts.get("bytes_in", 0),
            records_in=counts.get("records_in", 0),
            bytes_out=counts.get("bytes_out", 0),
        )

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    # -- the request path -----------------------------------------------------------------------

    def handle(self, request: _Request, send: _Send) -> _Response | None:
        """The answer to one request, or None to drop the connection unanswered."""
        self._count("requests")
        if request.path.startswith("/moto-api"):
            return self._forward(request, send)
        target = request.header("X-Amz-Target")
        if not target or "." not in target:
            # Not a JSON-protocol call: errors could not be shaped for it, pass it on.
            return self._forward(request, send)
        prefix, operation = target.split(".", 1)
        content_type = request.header("Content-Type") or "application/x-amz-json-1.0"
        fate = self._draw()
        if fate is not None:
            return self._inject(*fate, prefix, operation, content_type)
        if self.enforce_limits and prefix == _KINESIS and operation in _KINESIS_DATA_OPERATIONS:
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return self._forward(request, send)
            if isinstance(body, dict):
                return self._kinesis(operation, body, request, send, content_type)
        return self._forward(request, send)

    def _forward(self, request: _Request, send: _Send) -> _Response:
        self._count("forwarded")
        return send(request)

    def _draw(self) -> tuple[str, bool] | None:
        """None, or the fault kind and whether a 5xx is a 503 (one locked draw per call)."""
        if self.fault_rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.fault_rate:
                return None
            kind = self._kinds[self._rng.randrange(len(self._kinds))]
            self._injected[kind] += 1
            return kind, self._rng.random() < 0.5

    def _inject(
        self, kind: str, unavailable: bool, prefix: str, operation: str, content_type: str
    ) -> _Response | None:
        note = "(injected by the audioval fault proxy)"
        if kind == "timeout":
            # Hold past the client's read timeout, then hang up: the client sees a timeout and
            # the request never reached the emulator.
            self._stopping.wait(self.timeout_hold_s)
            return None
        if kind == "5xx":
            if unavailable:
                code = "ServiceUnavailable"
                return _error(
                    503,
                    self._qualified(prefix, code),
                    f"Service unavailable {note}",
                    content_type=content_type,
                )
            code = {
                _KINESIS: "InternalFailureException",
                _DYNAMODB: "InternalServerError",
            }.get(prefix, "InternalFailure")
            return _error(
                500,
                self._qualified(prefix, code),
                f"Internal failure {note}",
                content_type=content_type,
            )
        if prefix == _KINESIS:
            code = (
                "ProvisionedThroughputExceededException"
                if operation in _KINESIS_DATA_OPERATIONS
                else "LimitExceededException"
            )
            return _error(400, code, f"Rate exceeded {note}", content_type=content_type)
        if prefix == _DYNAMODB:
            code = (
                "ProvisionedThroughputExceededException"
                if operation in _DYNAMODB_ITEM_OPERATIONS
                else "ThrottlingException"
            )
            return _error(
                400,
                self._qualified(prefix, code),
                f"Rate of requests exceeds the allowed throughput {note}",
                content_type=content_type,
            )
        if prefix == _SQS:
            return _error(
                400,
                self._qualified(prefix, "RequestThrottled"),
                f"Request is throttled {note}",
                content_type=content_type,
                query_error="RequestThrottled;Sender",
            )
        return _error(
            400, "ThrottlingException", f"Rate exceeded {note}", content_type=content_type
        )

    @staticmethod
    def _qualified(prefix: str, code: str) -> str:
        """The ``__type`` as each service writes it (DynamoDB and SQS qualify theirs)."""
        if prefix == _DYNAMODB:
            return f"com.amazonaws.dynamodb.v20120810#{code}"
        if prefix == _SQS:
            return f"com.amazonaws.sqs#{code}"
        return code

    # -- Kinesis limits -------------------------------------------------------------------------

    def _kinesis(
        self,
        operation: str,
        body: dict[str, Any],
        request: _Request,
        send: _Send,
        content_type: str,
    ) -> _Response:
        if operation == "PutRecords":
            return self._put_records(body, request, send, content_type)
        if operation == "PutRecord":
            return self._put_record(body, request, send, content_type)
        if operation == "GetShardIterator":
            return self._get_shard_iterator(body, request, send, content_type)
        return self._get_records(body, request, send, content_type)

    def _throttled(self, what: str, stream: str, shard_id: str, content_type: str) -> _Response:
        self._count("throttled_calls")
        return _error(
            400,
            "ProvisionedThroughputExceededException",
            f"Rate exceeded for {what} {shard_id} in stream {stream} under account {_LOCAL_ACCOUNT}.",
            content_type=content_type,
        )

    def _invalid(self, error_type: str, message: str, content_type: str) -> _Response:
        self._count("rejected_records")
        return _error(400, error_type, message, content_type=content_type)

    @staticmethod
    def _record_size(record: Mapping[str, Any]) -> int:
        key = str(record.get("PartitionKey", ""))
        return _decoded_length(str(record.get("Data", ""))) + len(key.encode())

    def _put_record(
        self, body: dict[str, Any], request: _Request, send: _Send, content_type: str
    ) -> _Response:
        size = self._record_size(body)
        if size > MAX_RECORD_BYTES:
            return self._invalid(
                "ValidationException",
                "1 validation error detected: Value at 'data' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_RECORD_BYTES}",
                content_type,
            )
        stream = _stream_of(body)
        shards = self._limiter.shards(stream, request, send) if stream else None
        shard = shard_for(shards, _hash_key(body)) if shards else None
        if stream is None or shard is None:
            return self._forward(request, send)
        limiter = self._limiter
        with limiter.lock:
            accepted = limiter.admit(stream, shard.shard_id, size, limiter.now())
        if not accepted:
            return self._throttled("shard", stream, shard.shard_id, content_type)
        answer = self._forward(request, send)
        if answer.status == 200:
            self._count("bytes_in", size)
            self._count("records_in")
        return answer

    def _put_records(
        self, body: dict[str, Any], request: _Request, send: _Send, content_type: str
    ) -> _Response:
        records = body.get("Records")
        stream = _stream_of(body)
        if not isinstance(records, list) or stream is None:
            return self._forward(request, send)
        if len(records) > MAX_PUT_RECORDS:
            return self._invalid(
                "ValidationException",
                "1 validation error detected: Value at 'records' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PUT_RECORDS}",
                content_type,
            )
        sizes = [self._record_size(r) for r in records]
        too_large = next((i for i, s in enumerate(sizes) if s > MAX_RECORD_BYTES), None)
        if too_large is not None:
            return self._invalid(
                "ValidationException",
                f"1 validation error detected: Value at 'records.{too_large + 1}.member.data' "
                f"failed to satisfy constraint: Member must have length less than or equal to "
                f"{MAX_RECORD_BYTES}",
                content_type,
            )
        if sum(sizes) > MAX_PUT_RECORDS_BYTES:
            return self._invalid(
                "InvalidArgumentException", "Records size exceeds 5 MB limit", content_type
            )
        shards = self._limiter.shards(stream, request, send)
        if not shards:
            return self._forward(request, send)
        placed = [shard_for(shards, _hash_key(r)) for r in records]
        if any(s is None for s in placed):
            self._limiter.forget_map(stream)  # resharded since the map was read
            return self._forward(request, send)
        accepted: list[int] = []
        refused: dict[int, str] = {}
        limiter = self._limiter
        with limiter.lock:
            now = limiter.now()
            for i, (shard, size) in enumerate(zip(placed, sizes, strict=True)):
                assert shard is not None
                if limiter.admit(stream, shard.shard_id, size, now):
                    accepted.append(i)
                else:
                    refused[i] = shard.shard_id
        if refused:
            self._count("throttled_records", len(refused))
        if accepted and not refused:
            answer = self._forward(request, send)
            if answer.status == 200:
                self._count("bytes_in", sum(sizes))
                self._count("records_in", len(records))
            return answer
        results: list[dict[str, Any]] = []
        failed = len(refused)
        if accepted:
            subset = dict(body, Records=[records[i] for i in accepted])
            answer = self._forward(request.with_body(json.dumps(subset).encode()), send)
            if answer.status != 200:
                return answer
            upstream = answer.json()
            upstream_results = iter(upstream.get("Records", []))
            failed += int(upstream.get("FailedRecordCount", 0))
            self._count("bytes_in", sum(sizes[i] for i in accepted))
            self._count("records_in", len(accepted))
            extra = {k: v for k, v in upstream.items() if k not in ("Records", "FailedRecordCount")}
        else:
            upstream_results = iter(())
            extra = {}
        for i in range(len(records)):
            if i in refused:
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": f"Rate exceeded for shard {refused[i]} in stream "
                        f"{stream} under account {_LOCAL_ACCOUNT}.",
                    }
                )
            else:
                results.append(next(upstream_results))
        return _json_response(
            {"FailedRecordCount": failed, "Records": results, **extra}, content_type
        )

    def _get_shard_iterator(
        self, body: dict[str, Any], request: _Request, send: _Send, content_type: str
    ) -> _Response:
        stream = _stream_of(body)
        shard_id = body.get("ShardId")
        if stream is None or not shard_id:
            return self._forward(request, send)
        limiter = self._limiter
        with limiter.lock:
            allowed = limiter.buckets(stream, str(shard_id)).get_iterator.take(1, limiter.now())
        if not allowed:
            return self._throttled("shard", stream, str(shard_id), content_type)
        answer = self._forward(request, send)
        if answer.status == 200:
            limiter.remember_iterator(answer.json().get("ShardIterator"), stream, str(shard_id))
        return answer

    def _get_records(
        self, body: dict[str, Any], request: _Request, send: _Send, content_type: str
    ) -> _Response:
        iterator = body.get("ShardIterator")
        place = self._limiter.place_iterator(str(iterator)) if iterator else None
        if place is None:
            return self._forward(request, send)
        stream, shard_id = place
        limiter = self._limiter
        with limiter.lock:
            now = limiter.now()
            buckets = limiter.buckets(stream, shard_id)
            buckets.out_bytes.refill(now)
            # Reads are charged after the fact (their size is known only then): a shard whose
            # read budget is in debt refuses calls until it has paid it back.
            allowed = buckets.out_bytes.tokens > 0 and buckets.get_records.take(1, now)
        if not allowed:
            return self._throttled("Shard -", stream, shard_id, content_type)
        answer = self._forward(request, send)
        if answer.status == 200:
            document = answer.json()
            size = sum(_decoded_length(str(r.get("Data", ""))) for r in document.get("Records", []))
            with limiter.lock:
                limiter.buckets(stream, shard_id).out_bytes.charge(size, limiter.now())
            self._count("bytes_out", size)
            limiter.remember_iterator(document.get("NextShardIterator"), stream, shard_id)
        return answer


class _Upstream:
    """One keep-alive connection to the emulator (per client connection, so per thread)."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def send(self, request: _Request) -> _Response:
        # A kept-alive connection the emulator closed fails on first use: retry once on a new
        # one. A fresh connection failing is a real failure.
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                return self._send_once(request)
            except (http.client.HTTPException, ConnectionError, OSError):
                self.close()
                if attempt == 2 or not reused:
                    return _error(
                        502,
                        "InternalFailure",
                        "the fault proxy could not reach the emulator",
                        content_type="application/x-amz-json-1.0",
                    )
        raise AssertionError("unreachable")

    def _send_once(self, request: _Request) -> _Response:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        conn = self._conn
        conn.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers:
            if name.lower() not in _HOP_BY_HOP:
                conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body)
        response = conn.getresponse()
        body = response.read()
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        if response.will_close:
            self.close()
        return _Response(response.status, response.reason, headers, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this long.
    timeout = 60.0
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        proxy = self.server.proxy
        self._upstream = _Upstream(
            proxy.upstream_host, proxy.upstream_port, proxy.upstream_timeout_s
        )

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the services log their own calls."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _proxy(self) -> None:
        request = _Request(
            method=self.command,
            path=self.path,
            headers=list(self.headers.items()),
            body=self._read_body(),
        )
        answer = self.server.proxy.handle(request, self._upstream.send)
        if answer is None:
            self.close_connection = True
            return
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.headers:
            # Server/Date come from the emulator already; content-length is ours to set.
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _proxy  # noqa: N815


class _ProxyServer(ThreadingHTTPServer):
    """Thread per connection; remembers connections so stop() can cut them all."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, _ProxyHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="fault-proxy-conn",
            daemon=True,
        )
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client hung up or idled out: nothing to answer
        finally:
            with self._open_lock:
                self._open.pop(request, None)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection errors end that connection only; nothing to report."""

    def close_connections(self, timeout_s: float) -> None:
        with self._open_lock:
            open_now = dict(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout_s
        for thread in open_now.values():
            thread.join(max(deadline - time.monotonic(), 0.0))
