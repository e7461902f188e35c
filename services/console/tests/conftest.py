"""The console's fixtures: one moto server per module, a verdict table of each test's own."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import soundfile as sf

from audioval.v1 import verdict_pb2
from audioval_localstack import Emulator, provision
from audioval_pipeline.clients import aws_client
from audioval_pipeline.settings import PipelineSettings
from audioval_pipeline.verdict_table import VerdictTable


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def pipeline(emulator: Emulator) -> PipelineSettings:
    """The pipeline's resources with a verdict table of this test's own (moto's state is
    shared by the whole process)."""
    settings = PipelineSettings(
        aws_endpoint_url=emulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        verdict_table=f"verdicts-{uuid.uuid4().hex[:12]}",
    )
    provision(settings, baseline_streams=1)
    return settings


@pytest.fixture
def table(pipeline: PipelineSettings) -> VerdictTable:
    return VerdictTable(aws_client("dynamodb", pipeline), pipeline.verdict_table)


@pytest.fixture
def review_track() -> Callable[[], tuple[bytes, verdict_pb2.Verdict]]:
    return held_for_review


def held_for_review() -> tuple[bytes, verdict_pb2.Verdict]:
    """A WAV missing three quarters of its bytes (the validator holds it for review) and the
    verdict the validator gives it, as classify stores it."""
    from audiomodel.validator import validate_bytes
    from audioval_servicekit.verdict_codec import to_proto

    rng = np.random.default_rng(7)
    t = np.arange(6 * 22050) / 22050
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    samples = (tone + 0.01 * rng.standard_normal(t.size)) * 32767
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.int16), 22050, format="WAV", subtype="PCM_16")
    wav = buffer.getvalue()
    cut = wav[: len(wav) // 4]
    verdict = validate_bytes(cut)
    track_id = uuid.uuid4().hex
    return cut, to_proto(verdict, track_id=track_id, user_id="uploader-1")
