"""status_errors: one table of domain errors to status codes, for every kind of handler."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest

from audioval_servicekit.errors import note, status_errors, status_of

log = logging.getLogger("test_errors")


class NotFoundError(LookupError):
    pass


class GoneError(NotFoundError):
    """More specific than NotFoundError: its row comes first."""


class BackendDownError(RuntimeError):
    pass


_STATUS = (
    (GoneError, grpc.StatusCode.OUT_OF_RANGE),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (BackendDownError, grpc.StatusCode.UNAVAILABLE),
)
_refusing = status_errors(_STATUS, logger=log, what="lookup")


class AbortedError(Exception):
    """What the fake context raises on abort (gRPC raises a bare Exception)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


class FakeContext:
    def __init__(self, *, active: bool = True, remaining: float | None = 10.0) -> None:
        self.active = active
        self.remaining = remaining

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise AbortedError(code, details)

    def is_active(self) -> bool:
        return self.active

    def time_remaining(self) -> float | None:
        return self.remaining


class Servicer:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    @_refusing
    def get(self, request: str, context: grpc.ServicerContext) -> str:
        note(track_id=request)
        if self.error is not None:
            raise self.error
        return request.upper()

    @_refusing
    def watch(self, request: str, context: grpc.ServicerContext) -> Iterator[str]:
        note(track_id=request)
        yield "first"
        if self.error is not None:
            raise self.error
        yield "second"


def _context(**kwargs: object) -> grpc.ServicerContext:
    return FakeContext(**kwargs)  # type: ignore[arg-type, return-value]


def test_the_most_specific_row_wins() -> None:
    assert status_of(GoneError("x"), _STATUS) is grpc.StatusCode.OUT_OF_RANGE
    assert status_of(NotFoundError("x"), _STATUS) is grpc.StatusCode.NOT_FOUND
    assert status_of(ValueError("x"), _STATUS) is None


def test_a_mapped_error_aborts_with_its_code_and_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test_errors")
    with pytest.raises(AbortedError) as aborted:
        Servicer(NotFoundError("no track 't1'")).get("t1", _context())
    assert (aborted.value.code, aborted.value.details) == (
        grpc.StatusCode.NOT_FOUND,
        "no track 't1'",
    )
    (record,) = caplog.records
    assert record.getMessage() == "lookup refused"
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert vars(record)["status"] == "NOT_FOUND" and vars(record)["rpc"] == "get"
    assert vars(record)["track_id"] == "t1"  # noted by the handler before it failed


def test_a_server_side_condition_logs_at_error_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(AbortedError) as aborted:
        Servicer(BackendDownError("table unreachable")).get("t1", _context())
    assert aborted.value.code is grpc.StatusCode.UNAVAILABLE
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is None


def test_an_unmapped_error_propagates_for_grpc_to_report(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ZeroDivisionError):
        Servicer(ZeroDivisionError("bug")).get("t1", _context())
    assert caplog.records == []  # gRPC logs it with its traceback and answers UNKNOWN


def test_a_result_passes_through() -> None:
    assert Servicer(None).get("t1", _context()) == "T1"
    assert list(Servicer(None).watch("t1", _context())) == ["first", "second"]


def test_a_streaming_handler_is_mapped_mid_stream(caplog: pytest.LogCaptureFixture) -> None:
    responses = Servicer(GoneError("track expired")).watch("t2", _context())
    assert next(responses) == "first"
    with pytest.raises(AbortedError) as aborted:
        next(responses)
    assert aborted.value.code is grpc.StatusCode.OUT_OF_RANGE
    (record,) = caplog.records
    assert vars(record)["track_id"] == "t2" and vars(record)["rpc"] == "watch"


@pytest.mark.parametrize(
    ("remaining", "seen"),
    [(5.0, grpc.StatusCode.CANCELLED), (0.0, grpc.StatusCode.DEADLINE_EXCEEDED)],
)
def test_the_logged_status_is_what_a_departed_client_got(
    remaining: float, seen: grpc.StatusCode, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AbortedError):
        Servicer(BackendDownError("late")).get("t3", _context(active=False, remaining=remaining))
    (record,) = caplog.records
    assert vars(record)["status"] == seen.name
    assert record.levelno == logging.WARNING
    expected = "lookup cancelled" if seen is grpc.StatusCode.CANCELLED else "lookup refused"
    assert record.getMessage() == expected
