"""Settings of the rebuild worker (``AUDIOVAL_REBUILD_*``)."""

from __future__ import annotations

from audioval_servicekit import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class RebuildSettings(ServiceSettings):
    """Where the worker serves health, where it reads manifests, and whom it asks for verdicts."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_REBUILD_", extra="ignore")

    port: int = Field(default=50052, ge=0, le=65535)
    classify_address: str = "127.0.0.1:50053"
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
