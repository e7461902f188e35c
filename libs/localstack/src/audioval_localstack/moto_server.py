"""``python -m audioval_localstack.moto_server``: moto's server, made safe and lean for uploads.

Every answer is the one moto (5.2) gives; what changes is what it costs. Under the funnel's
crowd load the emulator was the stack's biggest user of CPU after the validator (``py-spy`` of
``bench/funnel_load.py``), for these reasons, each fixed here:

- **Kinesis writes are serialised.** moto numbers a shard's next record as its last
  number + 1, unlocked ("not safe for concurrency", its own comment), while its server answers
  each request on a thread of its own: two PutRecords landing on one shard at the same moment
  can get the same sequence number, the second record replacing the first, and both callers
  told that number. Rebuild then finds another track's record where the manifest says its own
  is and refuses the upload (seen under ``bench/funnel_load.py``'s crowd load). One lock around
  moto's PutRecord(s) keeps every number unique; the GIL held them to one core anyway.
- **No regex over JSON bodies.** moto puts its request id into every response body with a regex
  looking for an XML ``<RequestId>`` element, whatever the body. JSON bodies (Kinesis, SQS,
  DynamoDB) have none, yet each is scanned in full: a GetRecords answer carrying a track's
  records is several MiB of base64. Here it runs only on bodies that hold the element.
- **GetRecords answers without a base64 round trip.** moto keeps a record's data as the base64
  text PutRecords sent, decodes it for every answer and has its generic serializer (a walk
  over botocore's shapes) encode it again. :func:`get_records` writes the same JSON document
  from the stored text: the same fields, the same timestamps (moto's own millisecond rounding).
- **PutRecords parses its body once.** moto's ``_get_param`` parses a JSON body again for every
  parameter it reads (three for PutRecords: 3 x ~6 MiB of JSON per call), and before that its
  request set-up runs ``parse_qsl`` over the whole body looking for a query string. Large JSON
  bodies skip the latter (:func:`parse_qsl`), and :func:`put_records` reads its parameters
  from one parse.
- **Per-request work that never changes is done once.** For every request moto lists its own
  package directory (a ``listdir`` and ~170 ``isdir``) to find the backend for a host name, and
  lists the methods of the response class with ``inspect.getmembers``; both answers are now
  kept. Requests are not logged one line each (werkzeug's access log, whose line was formatted
  even when its level was off); warnings and errors still are.

The arguments are ``moto.server``'s.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl as _std_parse_qsl

import moto.backends
import moto.core.responses
from moto.core.responses import ActionResult, BaseResponse
from moto.core.serialize import TimestampSerializer
from moto.core.utils import method_names_from_class as _moto_method_names
from moto.kinesis.models import KinesisBackend
from moto.kinesis.responses import KinesisResponse
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import main

__all__ = [
    "enrich_response",
    "get_records",
    "log_request",
    "main",
    "method_names_from_class",
    "parse_qsl",
    "put_records",
]

F = TypeVar("F", bound=Callable[..., Any])

_werkzeug_log = logging.getLogger("werkzeug")
_moto_enrich = BaseResponse._enrich_response
_moto_log_request = MotoRequestHandler.log_request
_moto_modules = moto.backends.list_of_moto_modules
_kinesis_writes = threading.Lock()
# Bodies this long that look like JSON objects skip the query-string parse (see parse_qsl).
_LARGE_BODY = 64 * 1024


def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's ``_enrich_response``, skipping its regex where it cannot match."""
    if isinstance(body, str) and "<RequestId>" in body:
        return _moto_enrich(headers, body)
    # What moto's does for any other body: the status as a string, a fresh request id header.
    return _moto_enrich(headers, "")[0], body


def parse_qsl(qs: Any, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl``, but a large JSON object text is one pair of its own.

    moto's request set-up parses every body as a query string, to find form parameters of
    query-protocol calls. A JSON object text with no ``&`` is a single field to that parse, so
    its result is one pair whose key starts with ``{`` (the text before the first ``=``): it
    names no parameter, it only makes the query string not empty. The pair here (that text as
    is, an empty value) stands for it without copying and unquoting megabytes of base64.
    """
    if (
        kwargs.get("keep_blank_values")  # as moto asks: else a pair with no value is dropped
        and isinstance(qs, str)
        and len(qs) > _LARGE_BODY
        and qs.startswith("{")
        and "&" not in qs
        and "%" not in qs
    ):
        return [(qs[: qs.find("=")] if "=" in qs else qs, "")]
    return _std_parse_qsl(qs, *args, **kwargs)


@functools.cache
def method_names_from_class(clazz: object) -> frozenset[str]:
    """The function names of a response class (moto asks on every request)."""
    return frozenset(_moto_method_names(clazz))


@functools.cache
def _module_names() -> frozenset[str]:
    return frozenset(_moto_modules())


def list_of_moto_modules() -> Iterable[str]:
    """moto's backend package names, listed from disk once."""
    return _module_names()


def _json_params(body: Any) -> Any:
    """A JSON request's parameters, as ``_get_param`` finds them (none if it is not JSON)."""
    try:
        params = json.loads(body)
    except (ValueError, TypeError):
        return {}
    return params if isinstance(params, dict) else {}


def put_records(self: KinesisResponse) -> ActionResult:
    """moto's PutRecords, its parameters read from one parse of the body."""
    params = _json_params(self.body)
    response = self.kinesis_backend.put_records(
        params.get("StreamARN"), params.get("StreamName"), params.get("Records")
    )
    return ActionResult(response)


def get_records(self: KinesisResponse) -> tuple[str, dict[str, str]]:
    """moto's GetRecords answer, written from the records' stored base64 text."""
    params = _json_params(self.body)
    next_iterator, records, millis_behind = self.kinesis_backend.get_records(
        params.get("StreamARN"), params.get("ShardIterator"), params.get("Limit")
    )
    answer: dict[str, Any] = {
        "Records": [
            {
                "SequenceNumber": str(record.sequence_number),
                "ApproximateArrivalTimestamp": TimestampSerializer._timestamp_unixtimestamp(
                    record.created_at_datetime
                ),
                "Data": record.data,
                "PartitionKey": record.partition_key,
            }
            for record in records
        ]
    }
    if next_iterator is not None:
        answer["NextShardIterator"] = next_iterator
    if millis_behind is not None:
        answer["MillisBehindLatest"] = millis_behind
    return json.dumps(answer), {"Content-Type": "application/x-amz-json-1.1"}


def log_request(self: MotoRequestHandler, code: int | str = "-", size: int | str = "-") -> None:
    """werkzeug's access log line, formatted only when it is logged."""
    if _werkzeug_log.isEnabledFor(logging.INFO):
        _moto_log_request(self, code, size)


def _one_writer(method: F) -> F:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _kinesis_writes:
            return method(*args, **kwargs)

    return locked  # type: ignore[return-value]


BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]
moto.core.responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined,assignment]
moto.core.responses.parse_qsl = parse_qsl  # type: ignore[attr-defined,assignment]
moto.backends.list_of_moto_modules = list_of_moto_modules
KinesisBackend.put_record = _one_writer(KinesisBackend.put_record)  # type: ignore[method-assign]
KinesisBackend.put_records = _one_writer(KinesisBackend.put_records)  # type: ignore[method-assign]
KinesisResponse.put_records = put_records  # type: ignore[method-assign]
KinesisResponse.get_records = get_records  # type: ignore[assignment]
MotoRequestHandler.log_request = log_request  # type: ignore[method-assign,assignment]
# werkzeug logs each request at INFO; keep its warnings and errors.
_werkzeug_log.setLevel(logging.WARNING)

if __name__ == "__main__":
    main()
