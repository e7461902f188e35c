"""``python -m audioval_localstack.moto_server``: moto's server, with two fixes for heavy upload.

- **Kinesis writes are serialised.** moto (5.2) numbers a shard's next record as its last
  number + 1, unlocked ("not safe for concurrency", its own comment), while its server answers
  each request on a thread of its own: two PutRecords landing on one shard at the same moment
  can get the same sequence number, the second record replacing the first, and both callers
  told that number. Rebuild then finds another track's record where the manifest says its own
  is and refuses the upload (seen under ``bench/funnel_load.py``'s crowd load). One lock around
  moto's PutRecord(s) keeps every number unique; the GIL held them to one core anyway.
- **No regex over JSON bodies.** moto puts its request id into every response body with a regex
  looking for an XML ``<RequestId>`` element, whatever the body. JSON bodies (Kinesis, SQS,
  DynamoDB) have none, yet each is scanned in full: a GetRecords answer carrying a track's
  records is several MiB of base64, and under upload load that regex was a third of the
  emulator's CPU (py-spy of the crowd load). Here it runs only on bodies that hold the element,
  so every response is the same as moto's own.

The arguments are ``moto.server``'s.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from moto.core.responses import BaseResponse
from moto.kinesis.models import KinesisBackend
from moto.server import main

__all__ = ["enrich_response", "main"]

F = TypeVar("F", bound=Callable[..., Any])

_moto_enrich = BaseResponse._enrich_response
_kinesis_writes = threading.Lock()


def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's ``_enrich_response``, skipping its regex where it cannot match."""
    if isinstance(body, str) and "<RequestId>" in body:
        return _moto_enrich(headers, body)
    # What moto's does for any other body: the status as a string, a fresh request id header.
    return _moto_enrich(headers, "")[0], body


def _one_writer(method: F) -> F:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _kinesis_writes:
            return method(*args, **kwargs)

    return locked  # type: ignore[return-value]


BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]
KinesisBackend.put_record = _one_writer(KinesisBackend.put_record)  # type: ignore[method-assign]
KinesisBackend.put_records = _one_writer(KinesisBackend.put_records)  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
