"""One verdict, three forms: the library's, the API's and the JSON every command prints."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiomodel.findings import Finding, Severity
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision, Label, Verdict
from audioval_cli.upload import verdict_json
from audioval_servicekit.verdict_codec import to_proto

AUDIOVAL = shutil.which("audioval", path=str(Path(sys.executable).parent))
CONTRACT_KEYS = {"path", "verdict", "label", "score", "findings"}  # DESIGN.md's validate contract


def _song() -> bytes:
    t = np.arange(44100 * 2) / 44100
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) * np.exp(-((t * 3) % 1) * 4)
    noise = np.random.default_rng(1).normal(0, 3e-4, t.size)
    buf = io.BytesIO()
    sf.write(buf, (tone + noise).astype(np.float32), 44100, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_domain_to_json_and_back_is_the_same_verdict() -> None:
    verdict = Verdict(
        decision=Decision.REVIEW,
        label=Label.MOCK,
        score=0.5,
        findings=(
            Finding("signal.silence", "Mostly silent.", Severity.SUSPICIOUS, {"seconds": 3}),
            Finding("container.trailing_bytes", "Tail.", Severity.INFO, {"offset": 10.5}),
        ),
        model_version="tree-3",
        format="flac",
        size_bytes=10,
        sha256="cd" * 32,
        timings_ms={"total": 2.125},
        duration_s=1.5,
    )
    doc = json.loads(json.dumps({"path": "x.flac", **verdict.to_dict()}))
    assert Verdict.from_dict(doc) == verdict


def test_a_library_verdict_keeps_its_json_through_a_round_trip() -> None:
    for content in (_song(), b"#!/bin/sh\necho payload\n" * 200):
        first = validate_bytes(content, name="t.wav").to_dict()
        assert Verdict.from_dict(json.loads(json.dumps(first))).to_dict() == first


@pytest.mark.parametrize("payload", [b"", b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 20])
def test_validate_and_upload_print_the_same_json_for_the_same_verdict(
    payload: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "track.wav"
    path.write_bytes(_song() + payload)
    assert AUDIOVAL, "the audioval console script is installed by uv sync"
    result = subprocess.run(
        [AUDIOVAL, "validate", str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    validated = json.loads(result.stdout)
    # What classify would store for the same verdict, printed the way `audioval upload` does.
    stored = to_proto(Verdict.from_dict(validated), track_id="t-1", user_id="u-1")
    uploaded = verdict_json(stored, path)
    assert validated.keys() >= CONTRACT_KEYS and uploaded.keys() >= CONTRACT_KEYS
    assert all("code" in f for f in uploaded["findings"])
    shared = validated.keys() & uploaded.keys()
    assert {key: uploaded[key] for key in shared} == {key: validated[key] for key in shared}
    # What differs is documented: the track id is added, the duration is not on the wire.
    assert uploaded.keys() - validated.keys() == {"track_id"}
    assert validated.keys() - uploaded.keys() == {"duration_s"}
    assert uploaded["track_id"] == "t-1"
