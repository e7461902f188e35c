"""The settings every service has; each service subclasses with its own prefix and fields."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Listening address, transport security, auth and shutdown behaviour of one gRPC service.

    Read from the environment (``AUDIOVAL_<SERVICE>_*``, prefix set by the subclass) with
    local defaults; built once in ``main()`` and passed down.
    """

    model_config = SettingsConfigDict(env_prefix="AUDIOVAL_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    # Seconds in-flight RPCs get to finish on shutdown, after health has gone NOT_SERVING.
    grace_seconds: float = Field(default=5.0, ge=0)
    max_workers: int = Field(default=16, ge=1)
    # Largest single gRPC message accepted, bytes (ValidateTrack carries whole files inline).
    max_message_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Bearer tokens accepted from clients; empty means auth is off (loopback development).
    auth_tokens: list[SecretStr] = Field(default_factory=list)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # With a CA file, clients must present a certificate it signed (mTLS).
    tls_client_ca_file: Path | None = None
    # Listening beyond loopback without TLS must be asked for explicitly.
    allow_insecure_non_loopback: bool = False
    log_level: str = "INFO"
    # Prometheus metrics on http://metrics_host:metrics_port/metrics; port 0 serves none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # Where spans go: an OTLP/gRPC collector (``http://127.0.0.1:4317``); empty exports none
    # (trace context is still passed on).
    trace_otlp_endpoint: str = ""

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    @model_validator(mode="after")
    def _refuse_plaintext_beyond_loopback(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if (
            not self.tls_enabled
            and not self.allow_insecure_non_loopback
            and not _is_loopback(self.host)
        ):
            raise ValueError(
                f"refusing to listen on {self.host} without TLS; set tls_cert_file/tls_key_file "
                "or allow_insecure_non_loopback=true"
            )
        if (
            self.metrics_port
            and not self.allow_insecure_non_loopback
            and not _is_loopback(self.metrics_host)
        ):
            raise ValueError(
                f"refusing to serve metrics on {self.metrics_host} (plain HTTP) unless "
                "allow_insecure_non_loopback=true"
            )
        return self


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
