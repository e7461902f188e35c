"""classify on its own (no Ray address): it starts a private Ray, token auth on, and serves."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import soundfile as sf

from audioval.v1 import classify_pb2, classify_pb2_grpc, verdict_pb2
from audioval_cli.stack import wait_serving
from audioval_corpus.samples import synth_music
from audioval_localstack import free_port

pytestmark = [pytest.mark.slow]


def test_classify_without_a_ray_address_starts_its_own_ray_and_validates(tmp_path: Path) -> None:
    port = free_port()
    # A fresh home and no Ray settings: what a container or a bare `python -m` run sees.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(
        HOME=str(tmp_path),
        AUDIOVAL_CLASSIFY_PORT=str(port),
        AUDIOVAL_CLASSIFY_STORE="memory",
        AUDIOVAL_CLASSIFY_POOL_SIZE="1",
    )
    env.pop("AUDIOVAL_CLASSIFY_RAY_ADDRESS", None)
    log = (tmp_path / "classify.log").open("wb")
    service = subprocess.Popen(
        [sys.executable, "-m", "audioval_classify"], env=env, stdout=log, stderr=log
    )
    try:
        wait_serving(f"127.0.0.1:{port}", time.monotonic() + 120)
        buf = io.BytesIO()
        sf.write(buf, synth_music(3.0), 44100, format="WAV", subtype="PCM_16")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = classify_pb2_grpc.ClassifyServiceStub(channel).ValidateTrack(
                classify_pb2.ValidateTrackRequest(track_id="t-own-ray", content=buf.getvalue()),
                timeout=60,
            )
        assert reply.verdict.decision == verdict_pb2.DECISION_ACCEPT
        # Ray's default for a new local cluster: token auth on, the token in the user's home.
        token = tmp_path / ".ray" / "auth_token"
        assert token.exists() and token.read_text().strip()
    finally:
        service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "classify.log").read_text()[-3000:]
