"""One moto server for the ingest tests, with the pipeline's resources provisioned."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from audioval_localstack import Emulator, provision
from audioval_pipeline.settings import PipelineSettings


@pytest.fixture(scope="session")
def pipeline_settings() -> Iterator[PipelineSettings]:
    """Settings pointing at a provisioned emulator (2 active streams in ``local-a``)."""
    with Emulator() as emulator:
        settings = PipelineSettings(
            aws_endpoint_url=emulator.endpoint_url,
            aws_access_key_id=SecretStr("testing"),
            aws_secret_access_key=SecretStr("testing"),
            # Fail fast if the emulator misbehaves instead of retrying for a minute.
            aws_max_attempts=2,
        )
        provision(settings, baseline_streams=2)
        yield settings
