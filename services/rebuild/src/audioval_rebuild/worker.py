"""The manifest loop: receive, rebuild, verify, ask classify, and only then delete.

Per message:

- not a manifest (poison): send it to the dead-letter queue with ``error_code`` =
  ``pipeline.poison``, delete it;
- the track is already judged: delete it (delivery is at least once; this is idempotent);
- the manifest or its records do not rebuild the file (hash, count, missing record, too large):
  dead-letter it with the finding's code, store a REJECT verdict (conditional put: the first
  verdict wins), delete it;
- rebuilt and verified: ``ValidateTrack`` (classify stores the verdict); a ``review`` verdict's
  bytes go to the quarantine bucket (:mod:`audioval_rebuild.quarantine`) for the console; then
  delete it. A track judged ``review`` whose bytes are not held yet (the put failed after
  classify stored the verdict) is read again and held, without asking classify again;
- anything transient (classify unavailable or late, AWS errors, read timeouts): leave it; it
  comes back after ``retry_delay_s`` and SQS' redrive dead-letters it after
  ``max_receive_count`` receives.

Nothing ends the loop but the stop event, which is checked between messages.

Manifests are handled concurrently: the loop takes free slots of a :class:`ManifestPool`
(shared by the process' loops, sized by ``RebuildSettings.manifest_concurrency``), asks SQS for
at most that many messages and hands each to the pool, then polls again without waiting for
them. SQS FIFO delivers a group (a user) in order and gives out none of its later messages while
one is in flight; once received, order is kept only where it matters: manifests of one track
(``ordered_by="track"``, the default) or of one user (``"user"``) are handled one after another
(:class:`KeyedLocks`). A held message's visibility is renewed by the heartbeat until it is
settled, so a long track is not handed to another worker, and it is deleted only once its
verdict is stored.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
from collections.abc import Mapping, MutableMapping
from concurrent.futures import Future
from typing import Any

import grpc
from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry import trace

from audioval.v1 import pipeline_pb2, verdict_pb2
from audioval_rebuild.classify_client import ClassifyClient
from audioval_rebuild.integrity import IntegrityError, PoisonManifestError
from audioval_rebuild.manifest import check_manifest, parse_manifest
from audioval_rebuild.manifest_pool import KeyedLocks, ManifestPool
from audioval_rebuild.metrics import MANIFESTS
from audioval_rebuild.quarantine import Quarantine
from audioval_rebuild.reader import ReadLimits, ReadPacer, ReadTimeoutError, read_track
from audioval_rebuild.settings import RebuildSettings
from audioval_rebuild.verdict_table import VerdictTable, rejection
from audioval_rebuild.visibility import VisibilityHeartbeat
from audioval_servicekit.metrics import VERDICTS
from audioval_servicekit.tracing import span_from_traceparent

__all__ = ["Outcome", "RebuildWorker"]

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

# SQS message attribute values are capped; error messages are for people, keep them short.
_MAX_ERROR_MESSAGE = 1000
_MAX_IDLE_BACKOFF_S = 30.0


class Outcome(enum.StrEnum):
    """What became of one message."""

    JUDGED = "judged"  # classify stored a verdict; deleted
    ALREADY_JUDGED = "already_judged"  # a verdict existed; deleted
    REFUSED = "refused"  # integrity failure: dead-lettered, REJECT stored, deleted
    POISON = "poison"  # not a manifest: dead-lettered, deleted
    RETRY = "retry"  # transient failure: left to come back
    RELEASED = "released"  # not started because the worker is stopping


class _TrackLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the message's context (track id first) to every line, merged with call extras."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class RebuildWorker:
    """One receive loop over the manifest queue.

    Parameters
    ----------
    settings
        Queue, read and retry behaviour.
    sqs, kinesis
        boto3 clients (``audioval_pipeline.clients.aws_client``).
    verdicts
        The verdict table.
    classify
        The ValidateTrack client.
    queue_url, dlq_url
        The manifest queue and its dead-letter queue.
    heartbeat
        Renews visibility of the messages this worker holds (may be shared between workers).
    stop
        Set to end :meth:`run` between messages.
    pool
        Where messages are handled (shared by the process' loops); default: the worker's own,
        of ``settings.manifest_concurrency`` slots.
    order
        The locks that keep manifests of one track (or user) in order; shared like ``pool``.
    read_pacer
        Each shard's read budget, shared by the process' loops; None reads unpaced.
    quarantine
        Where the bytes of ``review`` tracks are held; None holds nothing.
    """

    def __init__(
        self,
        settings: RebuildSettings,
        *,
        sqs: Any,
        kinesis: Any,
        verdicts: VerdictTable,
        classify: ClassifyClient,
        queue_url: str,
        dlq_url: str,
        heartbeat: VisibilityHeartbeat,
        stop: threading.Event | None = None,
        pool: ManifestPool | None = None,
        order: KeyedLocks | None = None,
        read_pacer: ReadPacer | None = None,
        quarantine: Quarantine | None = None,
    ) -> None:
        self._settings = settings
        self._sqs = sqs
        self._kinesis = kinesis
        self._verdicts = verdicts
        self._classify = classify
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self._heartbeat = heartbeat
        self.stop = stop or threading.Event()
        self.pool = pool or ManifestPool(settings.manifest_concurrency)
        self._order = order or KeyedLocks()
        self._read_pacer = read_pacer
        self._quarantine = quarantine
        self._limits = ReadLimits(
            max_calls=settings.max_get_records_calls,
            records_per_call=settings.get_records_limit,
            timeout_s=settings.read_timeout_s,
            throttle_retries=settings.throttle_retries,
            backoff_base_s=settings.throttle_backoff_base_s,
            backoff_cap_s=settings.throttle_backoff_cap_s,
            parallel_shards=settings.read_parallel_shards,
        )

    def run(self) -> None:
        """Receive and handle manifests until :attr:`stop` is set."""
        failures = 0
        while not self.stop.is_set():
            try:
                self.dispatch_once()
                failures = 0
            except (ClientError, BotoCoreError) as exc:
                # SQS itself is failing: back off (bounded) instead of spinning.
                failures += 1
                pause = min(_MAX_IDLE_BACKOFF_S, 2.0 ** min(failures, 5))
                log.warning(
                    "receive failed", extra={"track_id": None, "error": str(exc), "retry_s": pause}
                )
                self.stop.wait(pause)
            except Exception:
                log.exception("receive loop error", extra={"track_id": None})
                self.stop.wait(1.0)

    def dispatch_once(self) -> list[Future[Outcome]]:
        """Wait for free slots, one long poll for at most that many, each message handed to
        the pool; returns without waiting for them."""
        slots = self.pool.reserve(
            self._settings.receive_max_messages, timeout_s=max(1.0, self._settings.receive_wait_s)
        )
        if not slots:
            return []  # every slot busy: look at the stop event, then wait again
        try:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=slots,
                WaitTimeSeconds=self._settings.receive_wait_s,
                VisibilityTimeout=self._settings.visibility_timeout_s,
                MessageSystemAttributeNames=[
                    "ApproximateReceiveCount",
                    "MessageGroupId",
                    "SentTimestamp",
                ],
            )
        except BaseException:
            self.pool.give_back(slots)
            raise
        messages: list[dict[str, Any]] = response.get("Messages", [])[:slots]
        self.pool.give_back(slots - len(messages))
        for message in messages:
            self._heartbeat.hold(
                message["ReceiptHandle"], message.get("MessageId", ""), sent_at=_sent_at(message)
            )
        return [self.pool.submit(functools.partial(self._start, m)) for m in messages]

    def poll_once(self) -> list[Outcome]:
        """One long poll, every received message handled (concurrently); their outcomes in
        the order received."""
        return [future.result() for future in self.dispatch_once()]

    def _start(self, message: Mapping[str, Any]) -> Outcome:
        if self.stop.is_set():
            # Hand it back now rather than after the visibility timeout.
            self._settle(message, delete=False, visibility_s=0)
            return Outcome.RELEASED
        return self.handle(message)

    def handle(self, message: Mapping[str, Any]) -> Outcome:
        """Handle one received message; never raises."""
        attributes = message.get("Attributes", {})
        context: dict[str, Any] = {
            "track_id": None,
            "message_id": message.get("MessageId"),
            "receive_count": int(attributes.get("ApproximateReceiveCount", "1")),
        }
        track_log = _TrackLog(log, context)
        try:
            outcome = self._handle(message, context, track_log)
        except Exception:
            # The loop must go on; the message comes back and is tried again (then dead-lettered).
            track_log.exception("unexpected failure; will retry")
            self._settle(
                message, track_log, delete=False, visibility_s=self._settings.retry_delay_s
            )
            outcome = Outcome.RETRY
        MANIFESTS.labels(outcome.value).inc()
        return outcome

    def _handle(
        self, message: Mapping[str, Any], context: dict[str, Any], track_log: _TrackLog
    ) -> Outcome:
        started = time.monotonic()
        try:
            manifest = parse_manifest(message.get("Body", ""))
        except PoisonManifestError as exc:
            return self._poison(message, exc, track_log)
        context["track_id"] = manifest.track_id
        context["user_id"] = manifest.user_id
        self._heartbeat.hold(message["ReceiptHandle"], manifest.track_id)  # relabel for logs
        key = manifest.user_id if self._settings.ordered_by == "user" else manifest.track_id
        # The upload's trace goes on here (a new trace when the manifest carries none).
        with (
            span_from_traceparent(tracer, "rebuild.track", manifest.traceparent) as span,
            self._order.hold(key),
        ):
            outcome = self._judge(message, manifest, started, track_log)
            span.set_attribute("audioval.outcome", outcome.value)
            return outcome

    def _judge(
        self,
        message: Mapping[str, Any],
        manifest: pipeline_pb2.Manifest,
        started: float,
        track_log: _TrackLog,
    ) -> Outcome:
        try:
            stored = None
            if self._verdicts.is_judged(manifest.track_id):
                stored = self._review_not_held(manifest.track_id)
                if stored is None:
                    track_log.info("already judged; dropping the duplicate manifest")
                    self._settle(message, track_log, delete=True)
                    return Outcome.ALREADY_JUDGED
            try:
                check_manifest(manifest, max_track_bytes=self._settings.max_track_bytes)
                with tracer.start_as_current_span("rebuild.read_track"):
                    content = read_track(
                        self._kinesis,
                        manifest,
                        self._limits,
                        sleep=self.stop.wait,
                        pacer=self._read_pacer,
                    )
            except IntegrityError as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                return self._refuse(message, manifest, exc, elapsed_ms, track_log)
            read_ms = (time.monotonic() - started) * 1000
            verdict = stored or self._classify.validate(manifest, content)
            if self._quarantine is not None and verdict.decision == verdict_pb2.DECISION_REVIEW:
                self._quarantine.hold(
                    manifest.track_id, content, sha256=manifest.sha256, format_name=verdict.format
                )
        except grpc.RpcError as exc:
            return self._retry(
                message, track_log, "classify failed", exc.code().name, exc.details() or ""
            )
        except (ClientError, BotoCoreError, ReadTimeoutError) as exc:
            return self._retry(message, track_log, "aws failed", type(exc).__name__, str(exc))
        self._settle(message, track_log, delete=True)
        track_log.info(
            "judged",
            extra={
                "decision": verdict_pb2.Decision.Name(verdict.decision),
                "size_bytes": len(content),
                "chunks": manifest.chunk_count,
                "read_ms": round(read_ms, 1),
                "total_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return Outcome.JUDGED

    def _review_not_held(self, track_id: str) -> verdict_pb2.Verdict | None:
        """The stored verdict when it is ``review`` and the quarantine lacks the bytes."""
        if self._quarantine is None:
            return None
        verdict = self._verdicts.get(track_id)
        if verdict is None or verdict.decision != verdict_pb2.DECISION_REVIEW:
            return None
        return None if self._quarantine.holds(track_id) else verdict

    def _poison(
        self, message: Mapping[str, Any], exc: PoisonManifestError, track_log: _TrackLog
    ) -> Outcome:
        attributes = message.get("Attributes", {})
        message_id = str(message.get("MessageId", ""))
        try:
            self._dead_letter(
                body=str(message.get("Body", "")),
                group=attributes.get("MessageGroupId") or "poison",
                dedup=message_id,
                code=PoisonManifestError.code,
                detail=str(exc),
                track_id="",
            )
        except (ClientError, BotoCoreError) as send_error:
            return self._retry(message, track_log, "dead-letter failed", "aws", str(send_error))
        self._settle(message, track_log, delete=True)
        track_log.warning("poison message dead-lettered", extra={"error": str(exc)})
        return Outcome.POISON

    def _refuse(
        self,
        message: Mapping[str, Any],
        manifest: pipeline_pb2.Manifest,
        exc: IntegrityError,
        elapsed_ms: float,
        track_log: _TrackLog,
    ) -> Outcome:
        # Dead-letter first: if the verdict write then fails, the retry dead-letters again with
        # the same deduplication id (a no-op) and writes the verdict.
        try:
            self._dead_letter(
                body=str(message.get("Body", "")),
                group=manifest.user_id,
                dedup=manifest.track_id,
                code=exc.code,
                detail=exc.message,
                track_id=manifest.track_id,
            )
            stored = self._verdicts.put_first(rejection(manifest, exc, elapsed_ms=elapsed_ms))
        except (ClientError, BotoCoreError) as aws_error:
            return self._retry(message, track_log, "refusal failed", "aws", str(aws_error))
        if stored:
            VERDICTS.labels("reject").inc()
        self._settle(message, track_log, delete=True)
        track_log.warning(
            "refused",
            extra={"error_code": exc.code, "error": exc.message, "verdict_stored": stored},
        )
        return Outcome.REFUSED

    def _retry(
        self, message: Mapping[str, Any], track_log: _TrackLog, what: str, code: str, detail: str
    ) -> Outcome:
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        last = receive_count >= self._settings.pipeline.max_receive_count
        track_log.warning(
            f"{what}; will retry" if not last else f"{what}; SQS will dead-letter it next",
            extra={"error_code": code, "error": (detail or "")[:_MAX_ERROR_MESSAGE]},
        )
        self._settle(message, track_log, delete=False, visibility_s=self._settings.retry_delay_s)
        return Outcome.RETRY

    def _dead_letter(
        self, *, body: str, group: str, dedup: str, code: str, detail: str, track_id: str
    ) -> None:
        attributes = {
            "error_code": {"DataType": "String", "StringValue": code},
            "error_message": {
                "DataType": "String",
                "StringValue": (detail or code)[:_MAX_ERROR_MESSAGE],
            },
        }
        if track_id:
            attributes["track_id"] = {"DataType": "String", "StringValue": track_id}
        self._sqs.send_message(
            QueueUrl=self._dlq_url,
            MessageBody=body or "(empty)",
            MessageGroupId=group,
            MessageDeduplicationId=dedup,
            MessageAttributes=attributes,
        )

    def _settle(
        self,
        message: Mapping[str, Any],
        track_log: logging.LoggerAdapter | None = None,  # type: ignore[type-arg]
        *,
        delete: bool,
        visibility_s: int = 0,
    ) -> None:
        """Release from the heartbeat, then delete the message or set when it comes back."""
        handle = message["ReceiptHandle"]
        self._heartbeat.release(handle)
        try:
            if delete:
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=handle)
            else:
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url, ReceiptHandle=handle, VisibilityTimeout=visibility_s
                )
        except (ClientError, BotoCoreError) as exc:
            # The message comes back after its visibility lapses and is handled idempotently.
            (track_log or _TrackLog(log, {"track_id": None})).warning(
                "could not settle message",
                extra={"message_id": message.get("MessageId"), "delete": delete, "error": str(exc)},
            )


def _sent_at(message: Mapping[str, Any]) -> float | None:
    """When SQS got the message (epoch seconds), from its SentTimestamp attribute."""
    sent = message.get("Attributes", {}).get("SentTimestamp")
    try:
        return int(sent) / 1000.0 if sent is not None else None
    except ValueError:
        return None
