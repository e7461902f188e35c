"""Keep held SQS messages invisible while their tracks are rebuilt and judged.

One thread per process renews the visibility of every message a worker holds (received and
not yet settled) every ``interval_s``, so a long rebuild or classify call never lets SQS hand
the same manifest to another worker. Settling a message releases it first, so the heartbeat
cannot extend a message that was just deleted or given a short retry delay.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["VisibilityHeartbeat"]

log = logging.getLogger(__name__)

# ChangeMessageVisibilityBatch takes at most 10 entries.
_BATCH = 10


class VisibilityHeartbeat:
    """Renews ``timeout_s`` of visibility for held messages every ``interval_s`` seconds."""

    def __init__(self, sqs: Any, queue_url: str, *, interval_s: float, timeout_s: int) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        # Held for the whole renewal round, so release() waits until no renewal is in progress.
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # receipt handle -> track id (or message id) for logs
        self._sent_at: dict[str, float] = {}  # receipt handle -> when SQS got it (epoch s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility-heartbeat", daemon=True)

    def start(self) -> VisibilityHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def hold(self, receipt_handle: str, label: str, *, sent_at: float | None = None) -> None:
        """Keep this message invisible until :meth:`release`; ``sent_at`` (epoch seconds) is
        when it was sent, for :meth:`oldest_age` (kept when the message is held again)."""
        with self._lock:
            self._held[receipt_handle] = label
            if sent_at is not None:
                self._sent_at[receipt_handle] = sent_at

    def release(self, receipt_handle: str) -> None:
        """Stop renewing this message (call before deleting it or changing its visibility)."""
        with self._lock:
            self._held.pop(receipt_handle, None)
            self._sent_at.pop(receipt_handle, None)

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def oldest_age(self) -> float:
        """Seconds since the oldest held message was sent (0 when none is held)."""
        with self._lock:
            oldest = min(self._sent_at.values(), default=None)
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            with self._lock:
                self._renew(list(self._held.items()))

    def _renew(self, held: list[tuple[str, str]]) -> None:
        for start in range(0, len(held), _BATCH):
            batch = held[start : start + _BATCH]
            entries = [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": self._timeout_s}
                for i, (handle, _) in enumerate(batch)
            ]
            try:
                response = self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue_url, Entries=entries
                )
            except (ClientError, BotoCoreError) as exc:
                # The next round tries again; a message that does lapse is handled idempotently.
                log.warning(
                    "visibility renewal failed",
                    extra={"track_ids": [label for _, label in batch], "error": str(exc)},
                )
                continue
            for failed in response.get("Failed", []):
                log.warning(
                    "visibility renewal refused",
                    extra={
                        "track_id": batch[int(failed["Id"])][1],
                        "error": failed.get("Code", ""),
                    },
                )
