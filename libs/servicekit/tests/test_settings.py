from __future__ import annotations

import pytest
from pydantic import ValidationError

from audioval_servicekit import ServiceSettings


def test_plaintext_on_a_non_loopback_address_is_refused() -> None:
    with pytest.raises(ValidationError, match="without TLS"):
        ServiceSettings(host="0.0.0.0")


def test_plaintext_beyond_loopback_is_allowed_only_when_asked_for() -> None:
    assert ServiceSettings(host="0.0.0.0", allow_insecure_non_loopback=True).host == "0.0.0.0"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_tls(host: str) -> None:
    assert ServiceSettings(host=host).host == host


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOVAL_PORT", "6000")
    monkeypatch.setenv("AUDIOVAL_AUTH_TOKENS", '["a", "b"]')
    settings = ServiceSettings()
    assert settings.port == 6000
    assert [t.get_secret_value() for t in settings.auth_tokens] == ["a", "b"]


def test_a_certificate_without_its_key_is_refused(tmp_path: object) -> None:
    with pytest.raises(ValidationError, match="go together"):
        ServiceSettings(tls_cert_file="cert.pem")
