"""Settings of the ingest service (``AUDIOVAL_INGEST_*``)."""

from __future__ import annotations

from audioval_servicekit import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class IngestSettings(ServiceSettings):
    """Where ingest listens and what it accepts."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_INGEST_", extra="ignore")

    port: int = Field(default=50051, ge=0, le=65535)
    # Largest upload accepted; a stream that goes past it ends with RESOURCE_EXHAUSTED.
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    # Largest `chunk` in one UploadTrackRequest (the API allows up to 4 MiB).
    max_chunk_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
