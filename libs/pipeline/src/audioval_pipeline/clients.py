"""The one boto3 client factory.

``aws_client`` is the only place boto3 clients are made: endpoint, region, credentials and
botocore's ``standard`` retry mode (exponential backoff with jitter on throttling and 5xx) are
applied once, and clients are passed down from ``main()``.
"""

from __future__ import annotations

from typing import Any

from audioval_pipeline.settings import PipelineSettings

__all__ = ["aws_client"]


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
