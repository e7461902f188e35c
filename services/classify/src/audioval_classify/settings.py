"""Settings of the classify service (``AUDIOVAL_CLASSIFY_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from audioval_pipeline.settings import PipelineSettings
from audioval_servicekit import ServiceSettings


class ClassifySettings(ServiceSettings):
    """Where classify listens and how much it may take on."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_CLASSIFY_", extra="ignore")

    port: int = Field(default=50053, ge=0, le=65535)
    # WatchVerdicts subscribers each get a bounded queue; a subscriber that falls this far
    # behind is cut off with RESOURCE_EXHAUSTED rather than growing memory without bound.
    watch_queue_size: int = Field(default=1024, ge=1)
    # "dynamodb" keeps verdicts in the pipeline's verdict table (shared by replicas and the
    # rebuild worker); "memory" is for a single replica without AWS.
    store: Literal["dynamodb", "memory"] = "dynamodb"
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    # With the dynamodb store, each replica follows the verdict table's stream so watchers also
    # hear of verdicts stored elsewhere (the rebuild worker, other replicas). The poll interval
    # bounds how late such a verdict arrives; AWS allows 5 GetRecords a second per shard,
    # shared by every replica. The backoff after errors grows up to its maximum.
    stream_poll_interval_s: float = Field(default=0.5, ge=0.05, le=10.0)
    stream_max_backoff_s: float = Field(default=30.0, ge=0.1, le=300.0)
    # Track ids each replica remembers so a verdict it published itself is not sent again when
    # the stream brings it back (must outlast the stream's delay, in verdicts).
    watch_recent_tracks: int = Field(default=10_000, ge=1)
    # The Ray cluster the validator actors run on: "host:port" of its GCS, or empty to start
    # a private Ray in this process (one machine). Authentication is Ray's own: RAY_AUTH_MODE
    # and RAY_AUTH_TOKEN_PATH in the environment.
    ray_address: str = ""
    # Start-up waits this long to join the cluster: for its GCS to accept connections and its
    # head's node to take this driver (a replica started alongside its head, as `audioval up`
    # starts one, joins once the head is up; a failed join is retried until then).
    ray_connect_timeout_s: float = Field(default=120.0, ge=0)
    # Validator actors (0: the CPUs Ray sees), the logical CPUs each takes, and how many tracks
    # may be in flight (running or waiting for an actor) before RESOURCE_EXHAUSTED.
    pool_size: int = Field(default=0, ge=0)
    actor_cpus: float = Field(default=1.0, gt=0)
    max_in_flight: int = Field(default=32, ge=1)
    # An actor still busy with one track after this long is killed (and restarted) and the
    # track retried once; 0 means the time budget plus a minute.
    call_timeout_s: float = Field(default=0.0, ge=0)
    # The embedded fingerprint index (a directory, created on first use; empty: no
    # identification). Known-bad matches reject, catalogue matches are reported as duplicates,
    # accepted tracks join the catalogue. This process is its writer: one replica per index
    # directory (several replicas need the Ray-sharded index, not built yet).
    index_dir: str = ""
    # Limits of one validation (fail closed: over a limit is a reject, never unseen).
    max_track_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_duration_s: float = Field(default=4 * 3600.0, gt=0)
    time_budget_s: float = Field(default=300.0, gt=0)
