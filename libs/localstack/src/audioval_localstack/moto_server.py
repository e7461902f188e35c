"""``python -m audioval_localstack.moto_server``: moto's server, without one per-response scan.

moto (5.2) puts its request id into every response body with a regex looking for an XML
``<RequestId>`` element, whatever the body. JSON bodies (Kinesis, SQS, DynamoDB) have none, yet
each is scanned in full: a GetRecords answer carrying a track's records is several MiB of
base64, and under upload load that regex was a third of the emulator's CPU (py-spy of
``bench/funnel_load.py``'s crowd load). Here it runs only on bodies that hold the element, so
every response is the same as moto's own; the arguments are ``moto.server``'s.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import BaseResponse
from moto.server import main

__all__ = ["enrich_response", "main"]

_moto_enrich = BaseResponse._enrich_response


def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's ``_enrich_response``, skipping its regex where it cannot match."""
    if isinstance(body, str) and "<RequestId>" in body:
        return _moto_enrich(headers, body)
    # What moto's does for any other body: the status as a string, a fresh request id header.
    return _moto_enrich(headers, "")[0], body


BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
