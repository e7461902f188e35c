from __future__ import annotations

from pathlib import Path

import pytest

from audiomodel.findings import CODES, Severity, codes_table, finding
from audiomodel.verdict import Decision, Label, Thresholds, decide

FINDINGS_MD = Path(__file__).resolve().parent.parent / "FINDINGS.md"


def test_the_documented_table_is_the_registry() -> None:
    assert FINDINGS_MD.read_text().endswith(codes_table()), "regenerate the table in FINDINGS.md"


def test_codes_are_namespaced_lower_case() -> None:
    for code in CODES:
        area, _, name = code.partition(".")
        assert area and name and code == code.lower() and " " not in code


def test_an_unregistered_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unregistered"):
        finding("container.made_up", "no")


def test_a_malicious_finding_rejects_whatever_the_score() -> None:
    decision, label, score = decide(
        [finding("container.embedded_executable", "x")], 0.01, Thresholds()
    )
    assert (decision, label) == (Decision.REJECT, Label.MOCK) and score >= 0.99


def test_a_suspicious_finding_holds_for_review() -> None:
    decision, _, score = decide(
        [finding("container.trailing_data", "x")], 0.0, Thresholds(review=0.6, reject=0.9)
    )
    assert decision is Decision.REVIEW and score == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("score", "expected"), [(0.1, Decision.ACCEPT), (0.7, Decision.REVIEW), (0.95, Decision.REJECT)]
)
def test_the_score_decides_when_findings_are_only_informational(
    score: float, expected: Decision
) -> None:
    info = finding("model.score", "x", Severity.INFO)
    assert decide([info], score, Thresholds(review=0.5, reject=0.9))[0] is expected


def test_a_suspicious_finding_never_rejects_on_its_own_even_when_thresholds_meet() -> None:
    decision, _, _ = decide(
        [finding("container.size_mismatch", "x")], 0.0, Thresholds(review=0.9, reject=0.9)
    )
    assert decision is Decision.REVIEW
