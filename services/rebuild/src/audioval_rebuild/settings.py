"""Settings of the rebuild worker (``AUDIOVAL_REBUILD_*``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from audioval_pipeline.settings import PipelineSettings
from audioval_servicekit import ServiceSettings


class RebuildSettings(ServiceSettings):
    """Where the worker serves health, where it reads manifests, and whom it asks for verdicts.

    The gRPC port serves health and reflection only; the work is the manifest loop.
    """

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_REBUILD_", extra="ignore")

    port: int = Field(default=50052, ge=0, le=65535)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    # -- classify -------------------------------------------------------------------------------
    classify_address: str = "127.0.0.1:50053"
    # Sent as ``authorization: Bearer <token>`` when classify requires auth.
    classify_auth_token: SecretStr | None = None
    # With a CA file the channel to classify uses TLS and checks classify's certificate.
    classify_tls_ca_file: Path | None = None
    # One ValidateTrack call may take this long (the validator's own budget is 300 s).
    classify_deadline_s: float = Field(default=330.0, gt=0)
    # Cap on gRPC's reconnect backoff, so a restarted classify is found again quickly.
    classify_max_reconnect_backoff_s: float = Field(default=5.0, gt=0)

    # -- the manifest queue ---------------------------------------------------------------------
    # Long-poll wait of one ReceiveMessage; also bounds how long a stop request waits.
    receive_wait_s: int = Field(default=5, ge=0, le=20)
    receive_max_messages: int = Field(default=10, ge=1, le=10)
    # Visibility given on receive and renewed by the heartbeat while a track is held.
    visibility_timeout_s: int = Field(default=60, ge=1, le=43200)
    heartbeat_interval_s: float = Field(default=20.0, gt=0)
    # After a transient failure a manifest becomes visible again this soon (not a full timeout).
    retry_delay_s: int = Field(default=10, ge=0, le=43200)
    # Receive loops (threads), each asking SQS for as many manifests as there are free slots.
    workers: int = Field(default=2, ge=1, le=64)
    # Manifests handled at the same time by this process (reading records, waiting on
    # classify); None: 4 per CPU, 4 to 64. Handler threads start as the load needs them.
    concurrency: int | None = Field(default=None, ge=1, le=256)
    # Which manifests must be handled one after another: "track" (the default: a manifest sent
    # again for a track waits for the first, then finds the verdict and is dropped; different
    # tracks of one user run at the same time) or "user" (the whole FIFO group in order, as
    # SQS delivers it: one user's uploads are judged one at a time).
    ordered_by: Literal["track", "user"] = "track"

    # -- reading the stream ---------------------------------------------------------------------
    # Largest track rebuilt (in memory: each handler holds at most one track, so the worst
    # case is manifest_concurrency x this). Classify's own limit is the same by default.
    max_track_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_get_records_calls: int = Field(default=1000, ge=1)
    get_records_limit: int = Field(default=1000, ge=1, le=10000)
    # Wall-clock budget of reading one track's records (throttling included).
    read_timeout_s: float = Field(default=120.0, gt=0)
    # Own backoff on throttling after botocore's retries gave up: full jitter, bounded.
    # Throttling is expected under load (many tracks read at once): retried until read_timeout_s
    # in practice (5 gave up within seconds and sent tracks to the DLQ under Kinesis' limits).
    throttle_retries: int = Field(default=50, ge=0)
    throttle_backoff_base_s: float = Field(default=0.2, gt=0)
    throttle_backoff_cap_s: float = Field(default=2.0, gt=0)
    # One shard's read limits as Kinesis publishes them; handlers of this process pace their
    # calls to each shard within them instead of being throttled. 0 turns pacing off.
    shard_read_calls_per_s: float = Field(default=5.0, ge=0)
    shard_read_bytes_per_s: float = Field(default=2 * 1024 * 1024, ge=0)
    shard_iterator_calls_per_s: float = Field(default=5.0, ge=0)
    # Shards of one track read at the same time (ingest spreads a track over the shards).
    read_parallel_shards: int = Field(default=8, ge=1, le=64)

    @property
    def manifest_concurrency(self) -> int:
        """``concurrency``, or 4 per CPU (4 to 64) when it is not set."""
        if self.concurrency is not None:
            return self.concurrency
        return max(4, min(64, 4 * (os.cpu_count() or 1)))

    @model_validator(mode="after")
    def _check_timing(self) -> RebuildSettings:
        if self.heartbeat_interval_s >= self.visibility_timeout_s:
            raise ValueError("heartbeat_interval_s must be shorter than visibility_timeout_s")
        if self.receive_wait_s >= self.pipeline.aws_read_timeout_s:
            # A long poll longer than the HTTP read timeout would fail as a timeout every time.
            raise ValueError(
                "receive_wait_s must be shorter than the pipeline's aws_read_timeout_s"
            )
        return self
