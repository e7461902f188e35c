"""Settings of the ingest service (``AUDIOVAL_INGEST_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from audioval_pipeline.settings import PipelineSettings
from audioval_servicekit import ServiceSettings

# Kinesis limits (PutRecords): a record's data + partition key <= 1 MiB, a call <= 500 records
# and <= 5 MiB. The pipeline spec keeps a record's file data at or under 512 KiB.
KINESIS_MAX_RECORD_DATA = 512 * 1024
# A shard takes 1 MiB a second, partition keys included: records this much under 512 KiB leave
# room for two records' framing and keys, so one call carries two of them, not one (a call
# costs ~2 ms of CPU however small).
RECORD_DATA_BYTES = KINESIS_MAX_RECORD_DATA - 128
KINESIS_MAX_BATCH_RECORDS = 500
KINESIS_MAX_BATCH_BYTES = 5 * 1024 * 1024


class IngestSettings(ServiceSettings):
    """Where ingest listens, what it accepts, and how it writes to Kinesis / SQS / DynamoDB."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_INGEST_", extra="ignore")

    port: int = Field(default=50051, ge=0, le=65535)
    # Largest upload accepted; a stream that goes past it ends with RESOURCE_EXHAUSTED.
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    # Largest `chunk` in one UploadTrackRequest (the API allows up to 4 MiB).
    max_chunk_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    # SQS FIFO message group ids are at most 128 printable ASCII characters; user_id is one.
    max_user_id_length: int = Field(default=128, ge=1, le=128)
    max_track_name_length: int = Field(default=1024, ge=1)
    max_content_type_length: int = Field(default=255, ge=1)

    # File bytes per Kinesis record (the ChunkRecord adds a few dozen bytes of framing).
    record_data_bytes: int = Field(default=RECORD_DATA_BYTES, ge=1, le=KINESIS_MAX_RECORD_DATA)
    batch_max_records: int = Field(default=KINESIS_MAX_BATCH_RECORDS, ge=1, le=500)
    batch_max_bytes: int = Field(
        default=KINESIS_MAX_BATCH_BYTES, ge=1024, le=KINESIS_MAX_BATCH_BYTES
    )
    # Retries of the records a PutRecords call did not accept (on top of botocore's own
    # retries of whole calls): exponential backoff with full jitter, bounded in count and time.
    # Attempts count consecutive calls that got no record through (a call that moved some is
    # progress: at a shard's 1 MiB/s a 5 MiB batch takes a dozen calls). Uploads sharing a shard
    # can each be refused many times in a row while others drain it (10 failed one of 50
    # concurrent uploads on two shards), so put_max_total_s is the bound meant to bind.
    put_max_attempts: int = Field(default=30, ge=1)
    put_base_delay_s: float = Field(default=0.05, gt=0)
    # A shard's write budget is per second and holds about a second's worth: a backoff much
    # longer than that leaves it unused (2.0 wrote 0.67 MiB/s into one shard, 1.0 wrote 0.91).
    put_max_delay_s: float = Field(default=1.0, gt=0)
    put_max_total_s: float = Field(default=30.0, gt=0)
    # One shard's write limits as Kinesis publishes them. Writers of this process pace their
    # calls to each shard within them (records AWS would refuse cost CPU and are never sent);
    # 0 turns pacing off. Calls carry at most one second of a shard's budget.
    shard_write_bytes_per_s: float = Field(default=1024 * 1024, ge=0)
    shard_write_records_per_s: float = Field(default=1000.0, ge=0)
    # Share of those rates left unused after a shard's first second: calls reach the shard a few
    # ms after their turn and not always in turn order; at exactly the limit some are refused.
    shard_write_headroom: float = Field(default=0.05, ge=0, lt=1)

    # A track's records rotate over this many evenly spaced hash keys (ExplicitHashKey), so they
    # land on every shard of a stream of up to this many evenly split shards: no one shard's
    # 1 MiB/s in and 2 MiB/s out bounds a track, and rebuild reads the shards in parallel. Keep
    # it >= the shards per stream (a multiple of it spreads consecutive records best); 1 puts a
    # track on one shard.
    spread_hash_keys: int = Field(default=8, ge=1, le=64)

    # How long the stream registry read is trusted before it is read again.
    stream_cache_ttl_s: float = Field(default=5.0, ge=0)
    # When the registry cannot be read, a cached set this young is still used.
    stream_cache_max_stale_s: float = Field(default=60.0, ge=0)

    # The manifest's SQS FIFO message group. "track": tracks are judged independently, one
    # user's album at the same time (SQS gives out none of a group's later messages while one
    # is in flight). "user": one user's tracks one after another, in upload order (set rebuild's
    # AUDIOVAL_REBUILD_ORDERED_BY=user too).
    manifest_group_by: Literal["track", "user"] = "track"

    # SQS' message size limit; the manifest of the largest upload must fit (checked at startup).
    sqs_max_message_bytes: int = Field(default=256 * 1024, ge=1024)

    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    @model_validator(mode="after")
    def _record_fits_a_batch(self) -> IngestSettings:
        # A record carries up to record_data_bytes of data plus framing; one must fit a batch.
        if self.record_data_bytes + 1024 > self.batch_max_bytes:
            raise ValueError("record_data_bytes must leave room in batch_max_bytes")
        if self.put_max_delay_s < self.put_base_delay_s:
            raise ValueError("put_max_delay_s must be >= put_base_delay_s")
        return self
