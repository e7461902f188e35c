"""Settings of the review console (``AUDIOVAL_CONSOLE_*``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from audioval_pipeline.settings import PipelineSettings

__all__ = ["ConsoleSettings"]

# The moderator a bare AUDIOVAL_CONSOLE_TOKEN logs in as.
DEFAULT_MODERATOR = "moderator"


class ConsoleSettings(BaseSettings):
    """Where the console listens, who may log in, and where it finds verdicts and tracks (the
    pipeline's verdict table and quarantine bucket)."""

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # One token (logs in as "moderator") and/or "name:token" entries, one per moderator.
    # None at all: no login (loopback development only); every browser is moderator "local".
    token: SecretStr | None = None
    tokens: list[SecretStr] = Field(default_factory=list)
    # How long opening a track holds it for one moderator.
    lease_s: float = Field(default=600.0, gt=0)
    # classify, for "reject and add as known-bad reference" (empty: the button is not offered).
    classify_address: str = ""
    classify_token: SecretStr | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    log_level: str = "INFO"
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_enabled else 'http'}://{host}:{self.port}/"

    def moderators(self) -> dict[str, str]:
        """token -> moderator name, from ``token`` and ``tokens``."""
        found: dict[str, str] = {}
        if self.token is not None and self.token.get_secret_value():
            found[self.token.get_secret_value()] = DEFAULT_MODERATOR
        for entry in self.tokens:
            name, sep, token = entry.get_secret_value().partition(":")
            if not sep or not name or not token:
                raise ValueError("AUDIOVAL_CONSOLE_TOKENS entries are name:token")
            found[token] = name
        return found

    @model_validator(mode="after")
    def _check(self) -> ConsoleSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if not self.tls_enabled and not _is_loopback(self.host):
            raise ValueError(
                f"refusing to serve the console on {self.host} without TLS; "
                "set tls_cert_file and tls_key_file"
            )
        if not self.moderators() and not _is_loopback(self.host):
            raise ValueError("a console beyond loopback needs moderator tokens")
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
