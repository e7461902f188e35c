"""Where the pipeline's AWS resources are, shared by every service, and the one client factory.

``PipelineSettings`` reads ``AUDIOVAL_*`` (no service prefix: one environment configures the
whole stack). ``aws_client`` is the only place boto3 clients are made: endpoint, region,
credentials and botocore's ``standard`` retry mode (exponential backoff with jitter on
throttling and 5xx) are applied once, and clients are passed down from ``main()``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PipelineSettings", "aws_client"]


class PipelineSettings(BaseSettings):
    """AWS endpoint and the names of the streams, queues and tables the services share."""

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
    manifest_queue: str = "audioval-manifests.fifo"
    dead_letter_queue: str = "audioval-manifests-dlq.fifo"
    # Receives before SQS moves a manifest to the dead-letter queue.
    max_receive_count: int = Field(default=5, ge=1)
    verdict_table: str = "audioval-verdicts"


def aws_client(service: str, settings: PipelineSettings) -> Any:
    """A boto3 client for ``service`` configured from ``settings``."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.aws_region,
        retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
        connect_timeout=settings.aws_connect_timeout_s,
        read_timeout=settings.aws_read_timeout_s,
        max_pool_connections=32,
    )
    credentials: dict[str, str] = {}
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        credentials = {
            "aws_access_key_id": settings.aws_access_key_id.get_secret_value(),
            "aws_secret_access_key": settings.aws_secret_access_key.get_secret_value(),
        }
    return boto3.session.Session().client(
        service, endpoint_url=settings.aws_endpoint_url, config=config, **credentials
    )
