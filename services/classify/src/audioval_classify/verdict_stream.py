"""Follow the verdict table's DynamoDB stream, so watchers hear of every stored verdict.

A classify replica publishes the verdicts it stores itself at once; verdicts the rebuild worker
stores (integrity failures) and those other replicas store reach it only through the table.
:class:`VerdictStreamFollower` reads the table's stream (view type ``NEW_IMAGE``) with the
DynamoDB Streams API and hands each newly judged item to a ``publish`` callable (the
broadcaster, which drops the copies of verdicts this replica published already). An item with a
``superseded`` trail holds a verdict that replaced another (a re-scan, a moderator's decision):
it is handed over as superseding, so the broadcaster sends it even though it has sent the
track's first verdict.

The protocol, as AWS documents it:

- ``DescribeTable`` names the table's current stream (``LatestStreamArn``); ``DescribeStream``
  (paged by ``ExclusiveStartShardId``) lists its shards with their parents.
- Shards open when the follower starts are read from ``LATEST``: watchers want what is stored
  from now on, not the last 24 hours. A shard that appears later is read from
  ``TRIM_HORIZON`` (all of it is new), once its parent has been read to its end.
- ``GetRecords`` returns the next iterator; none means the shard is closed and read to its end,
  so the follower lists the shards again to find its children.
- An expired iterator is replaced by one ``AFTER_SEQUENCE_NUMBER`` of the last record read; a
  position the stream has trimmed restarts at ``TRIM_HORIZON``; a stream that is gone (the table
  re-created, the stream re-enabled) is looked up again.
- Throttling and every other error is logged and retried after an exponential backoff with
  jitter, bounded by ``max_backoff_s``: the follower never ends the service.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from google.protobuf.message import DecodeError

from audioval_pipeline.verdict_table import verdict_from_item

__all__ = ["FollowerStats", "VerdictStreamFollower"]

log = logging.getLogger(__name__)

# Error codes AWS uses when a caller reads a stream too often.
_THROTTLING = frozenset(
    {
        "LimitExceededException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
    }
)
# GetRecords returns at most 1,000 records or 1 MB; ask for the most.
_MAX_RECORDS = 1000


@dataclass
class _Cursor:
    """Where the follower is in one shard."""

    shard_id: str
    start: str  # "LATEST" or "TRIM_HORIZON": where to begin when no record has been read
    iterator: str | None = None
    last_sequence: str | None = None


@dataclass
class FollowerStats:
    """What the follower did so far (for logs and tests)."""

    records: int = 0
    published: int = 0
    duplicates: int = 0
    errors: int = 0
    iterator_renewals: int = 0


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class VerdictStreamFollower:
    """One thread that follows the verdict table's stream and publishes new verdicts.

    Parameters
    ----------
    dynamodb, streams:
        boto3 ``dynamodb`` and ``dynamodbstreams`` clients.
    table:
        The verdict table's name.
    publish:
        Called with each verdict the stream carries (with ``supersedes=True`` when the item
        has a ``superseded`` trail); returns False for a copy of a verdict it has seen (the
        broadcaster's ``publish``).
    poll_interval_s:
        The wait between two rounds of reads that found nothing.
    shard_refresh_s:
        How often the shard list is read again even when no shard closed.
    max_backoff_s:
        The longest wait after repeated errors.
    """

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table: str,
        publish: Callable[..., bool],
        *,
        poll_interval_s: float = 0.5,
        shard_refresh_s: float = 60.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._db = dynamodb
        self._streams = streams
        self._table = table
        self._publish = publish
        self._poll_interval_s = poll_interval_s
        self._shard_refresh_s = shard_refresh_s
        self._max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._random = random.Random()
        # Set once iterators are held on every open shard: verdicts stored from then on
        # reach ``publish``.
        self.ready = threading.Event()
        self.stats = FollowerStats()
        self._stream_arn: str | None = None
        self._cursors: dict[str, _Cursor] = {}
        self._finished: set[str] = set()
        self._refresh_at = 0.0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> VerdictStreamFollower:
        """Start following in a daemon thread (a second call does nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"verdict-stream-{self._table}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Ask the thread to end and wait at most ``timeout_s``; True when it has ended.

        A thread still inside an AWS call when the wait runs out is a daemon: it cannot keep
        the process alive, and it publishes nothing once it sees the stop.
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("verdict stream follower still busy after stop", extra=self._where())
            return False
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                found = self._step()
            except Exception as exc:  # any failure is logged and retried: never fatal
                failures += 1
                self.stats.errors += 1
                self._on_error(exc, failures)
                continue
            failures = 0
            if not found:
                self._stop.wait(self._poll_interval_s)
        log.info("verdict stream follower stopped", extra=self._where())

    def _step(self) -> bool:
        """One round: find the stream and its shards when needed, read every shard once.

        Returns whether any record was read (then the next round starts at once).
        """
        if self._stream_arn is None:
            self._stream_arn = self._find_stream()
            if self._stream_arn is None:
                raise LookupError(f"table {self._table} has no stream enabled")
            self._cursors.clear()
            self._finished.clear()
            self._refresh_shards(initial=True)
            self.ready.set()
            log.info("following verdict stream", extra=self._where())
        elif time.monotonic() >= self._refresh_at:
            self._refresh_shards(initial=False)
        found = False
        for cursor in list(self._cursors.values()):
            if self._stop.is_set():
                break
            found |= self._read(cursor)
        return found

    def _on_error(self, exc: Exception, failures: int) -> None:
        code = _error_code(exc)
        if code == "ResourceNotFoundException":
            # The stream (or the table) is gone: look it up again from the table.
            self._stream_arn = None
        delay = min(self._max_backoff_s, self._poll_interval_s * 2 ** min(failures, 16))
        delay = self._random.uniform(delay / 2, delay)
        extra = {**self._where(), "error": code or type(exc).__name__, "retry_in_s": delay}
        if code in _THROTTLING:
            log.info("verdict stream throttled", extra=extra)
        elif isinstance(exc, ClientError | BotoCoreError | LookupError):
            log.warning("verdict stream read failed: %s", exc, extra=extra)
        else:
            log.exception("verdict stream follower error", extra=extra)
        self._stop.wait(delay)

    # -- stream and shards ----------------------------------------------------------------------

    def _find_stream(self) -> str | None:
        table = self._db.describe_table(TableName=self._table)["Table"]
        spec = table.get("StreamSpecification") or {}
        if not spec.get("StreamEnabled"):
            return None
        arn = table.get("LatestStreamArn")
        return str(arn) if arn else None

    def _shards(self) -> Iterator[Mapping[str, Any]]:
        assert self._stream_arn is not None
        request: dict[str, Any] = {"StreamArn": self._stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            yield from description.get("Shards", [])
            last = description.get("LastEvaluatedShardId")
            if not last:
                return
            request["ExclusiveStartShardId"] = last

    def _refresh_shards(self, *, initial: bool) -> None:
        """Pick up shards that opened since the last look (all open shards at the start)."""
        listed = list(self._shards())
        listed_ids = {str(s["ShardId"]) for s in listed}
        for shard in listed:
            shard_id = str(shard["ShardId"])
            if shard_id in self._cursors or shard_id in self._finished:
                continue
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            if initial:
                if closed:  # history from before the follower started
                    self._finished.add(shard_id)
                    continue
                cursor = _Cursor(shard_id, start="LATEST")
            else:
                parent = shard.get("ParentShardId")
                if parent and parent in self._cursors:
                    continue  # read the parent to its end first; its close brings us back
                cursor = _Cursor(shard_id, start="TRIM_HORIZON")
            cursor.iterator = self._iterator(cursor)
            self._cursors[shard_id] = cursor
            log.info("reading verdict stream shard", extra={**self._where(), "shard": shard_id})
        # Shards trimmed from the stream are never listed again: forget them.
        self._finished &= listed_ids
        self._refresh_at = time.monotonic() + self._shard_refresh_s

    def _iterator(self, cursor: _Cursor) -> str:
        """An iterator just past the last record read, or at the cursor's start."""
        request: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": cursor.shard_id}
        if cursor.last_sequence is not None:
            request |= {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "SequenceNumber": cursor.last_sequence,
            }
        else:
            request["ShardIteratorType"] = cursor.start
        try:
            return str(self._streams.get_shard_iterator(**request)["ShardIterator"])
        except self._streams.exceptions.TrimmedDataAccessException:
            # The records after our position are gone (the follower stalled for a day):
            # continue from the oldest record still there.
            log.warning(
                "verdict stream trimmed past our position",
                extra={**self._where(), "shard": cursor.shard_id},
            )
            cursor.last_sequence = None
            cursor.start = "TRIM_HORIZON"
            trimmed = {**request, "ShardIteratorType": "TRIM_HORIZON"}
            trimmed.pop("SequenceNumber", None)
            return str(self._streams.get_shard_iterator(**trimmed)["ShardIterator"])

    def _read(self, cursor: _Cursor) -> bool:
        """One GetRecords on ``cursor``'s shard; returns whether it carried records."""
        if cursor.iterator is None:
            cursor.iterator = self._iterator(cursor)
            self.stats.iterator_renewals += 1
        try:
            answer = self._streams.get_records(ShardIterator=cursor.iterator, Limit=_MAX_RECORDS)
        except (
            self._streams.exceptions.ExpiredIteratorException,
            self._streams.exceptions.TrimmedDataAccessException,
        ) as exc:
            log.info(
                "renewing verdict stream iterator",
                extra={**self._where(), "shard": cursor.shard_id, "error": _error_code(exc)},
            )
            cursor.iterator = None  # the next round asks for a new one after the last record
            return False
        records = answer.get("Records", [])
        for record in records:
            self._handle(record)
            cursor.last_sequence = str(record["dynamodb"]["SequenceNumber"])
        following = answer.get("NextShardIterator")
        if following:
            cursor.iterator = str(following)
        else:
            # Closed and read to its end: its children (if any) open on the next listing.
            del self._cursors[cursor.shard_id]
            self._finished.add(cursor.shard_id)
            self._refresh_at = 0.0
            log.info(
                "verdict stream shard closed", extra={**self._where(), "shard": cursor.shard_id}
            )
        return bool(records)

    def _handle(self, record: Mapping[str, Any]) -> None:
        self.stats.records += 1
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            return
        image = record.get("dynamodb", {}).get("NewImage")
        if not image:
            return
        try:
            verdict = verdict_from_item(image)
        except DecodeError:
            track_id = image.get("track_id", {}).get("S", "")
            log.warning("undecodable verdict in table", extra={"track_id": track_id})
            return
        if verdict is None:  # a pending item
            return
        published = (
            self._publish(verdict, supersedes=True)
            if image.get("superseded", {}).get("L")
            else self._publish(verdict)
        )
        if published:
            self.stats.published += 1
            log.info("verdict from stream", extra={"track_id": verdict.track_id})
        else:
            self.stats.duplicates += 1

    def _where(self) -> dict[str, str]:
        return {"table": self._table, "stream": self._stream_arn or ""}
