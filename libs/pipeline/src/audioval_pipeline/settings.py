"""Where the pipeline's AWS resources are: one settings object for the whole stack.

``PipelineSettings`` reads ``AUDIOVAL_*`` (no service prefix: one environment configures every
service, the local stack and the CLI); each service nests it in its own settings and passes it
to :func:`audioval_pipeline.clients.aws_client`.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PipelineSettings"]


class PipelineSettings(BaseSettings):
    """AWS endpoint and the names of the streams, queues, tables and buckets the services share."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_", extra="ignore")

    # None means real AWS; the local stack sets http://127.0.0.1:4566.
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    # Only for the local emulator; against AWS leave empty and let boto3 find credentials.
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_max_attempts: int = Field(default=8, ge=1)
    aws_connect_timeout_s: float = Field(default=2.0, gt=0)
    aws_read_timeout_s: float = Field(default=10.0, gt=0)

    # The availability zone this process runs in (picks its stream set).
    availability_zone: str = "local-a"
    stream_registry_table: str = "audioval-stream-registry"
    stream_name_prefix: str = "audioval-chunks"
    # Shards of each stream the local stack creates (on AWS, the Pulumi stack's shardsPerStream).
    # More than one lets a track's records spread over shards (ingest's spread_hash_keys).
    shards_per_stream: int = Field(default=4, ge=1, le=64)
    manifest_queue: str = "audioval-manifests.fifo"
    dead_letter_queue: str = "audioval-manifests-dlq.fifo"
    # Receives before SQS moves a manifest to the dead-letter queue.
    max_receive_count: int = Field(default=5, ge=1)
    verdict_table: str = "audioval-verdicts"
    # Private bucket holding the bytes of each track judged ``review`` (key: the track id) for
    # the review console's player; rebuild writes it, the console reads it. Empty: none held.
    quarantine_bucket: str = "audioval-quarantine"
