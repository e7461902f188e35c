"""The one verdict conversion between the library and the API, both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audiomodel.findings import Finding, Severity
from audiomodel.validator import validate_bytes
from audiomodel.verdict import Decision, Label, Verdict
from audioval.v1 import verdict_pb2
from audioval_servicekit.verdict_codec import from_proto, to_proto


def _verdict() -> Verdict:
    return Verdict(
        decision=Decision.REJECT,
        label=Label.MOCK,
        score=0.97,
        findings=(
            Finding(
                "container.trailing_bytes",
                "Bytes after the end of the audio.",
                Severity.MALICIOUS,
                {"offset": 4096, "length": 8000, "entropy": 7.5, "looks_like": "elf", "exec": True},
            ),
            Finding("signal.silence", "Mostly silent.", Severity.INFO),
        ),
        model_version="tree-3",
        format="wav",
        size_bytes=12096,
        sha256="ab" * 32,
        timings_ms={"decode": 1.5, "total": 9.25},
    )


def test_domain_to_proto_and_back_is_the_same_verdict() -> None:
    verdict = _verdict()
    message = to_proto(verdict, track_id="t1", user_id="u1")
    assert from_proto(message) == verdict
    # Whole numbers come back as ints, as they went in (a Struct holds doubles).
    evidence = from_proto(message).findings[0].evidence
    assert type(evidence["offset"]) is int and type(evidence["entropy"]) is float
    assert evidence["exec"] is True


def test_the_message_carries_the_api_fields() -> None:
    judged_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = to_proto(_verdict(), track_id="t1", user_id="u1", judged_at=judged_at)
    assert (message.track_id, message.user_id) == ("t1", "u1")
    assert message.decision == verdict_pb2.DECISION_REJECT
    assert message.label == verdict_pb2.LABEL_MOCK
    assert [f.severity for f in message.findings] == [
        verdict_pb2.SEVERITY_MALICIOUS,
        verdict_pb2.SEVERITY_INFO,
    ]
    assert message.judged_at.ToDatetime(tzinfo=UTC) == judged_at


def test_a_real_verdict_survives_the_round_trip() -> None:
    verdict = validate_bytes(b"not audio at all, just text" * 100, name="t.wav")
    back = from_proto(to_proto(verdict, track_id="t", user_id="u"))
    assert back.to_dict() == {**verdict.to_dict(), "duration_s": 0.0}  # not on the wire


@pytest.mark.parametrize("field", ["decision", "label"])
def test_a_message_without_a_decision_or_label_is_refused(field: str) -> None:
    message = to_proto(_verdict(), track_id="t1", user_id="u1")
    message.ClearField(field)
    with pytest.raises(ValueError, match="t1"):
        from_proto(message)
