"""TLS and mTLS on a real server: what a client without the right credentials gets."""

from __future__ import annotations

import datetime
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from audioval_servicekit import ServiceSettings, build_server


def issue(
    tmp: Path, name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key, cert_path, key_path


def check(port: int, credentials: grpc.ChannelCredentials | None) -> int:
    target = f"localhost:{port}"
    channel = (
        grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    )
    with channel:
        return int(
            health_pb2_grpc.HealthStub(channel)
            .Check(health_pb2.HealthCheckRequest(), timeout=5)
            .status
        )


def test_tls_serves_clients_that_trust_the_ca_and_refuses_plaintext(tmp_path: Path) -> None:
    ca, ca_key, ca_path, _ = issue(tmp_path, "ca")
    _, _, cert, key = issue(tmp_path, "server", (ca, ca_key))
    running = build_server(ServiceSettings(port=0, tls_cert_file=cert, tls_key_file=key), [], [])
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=ca_path.read_bytes())
        assert check(running.port, trusted) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError):
            check(running.port, None)
    finally:
        running.stop(0)


def test_mtls_refuses_a_client_without_a_certificate(tmp_path: Path) -> None:
    ca, ca_key, ca_path, _ = issue(tmp_path, "ca")
    _, _, cert, key = issue(tmp_path, "server", (ca, ca_key))
    _, _, client_cert, client_key = issue(tmp_path, "client", (ca, ca_key))
    settings = ServiceSettings(
        port=0, tls_cert_file=cert, tls_key_file=key, tls_client_ca_file=ca_path
    )
    running = build_server(settings, [], [])
    try:
        with_cert = grpc.ssl_channel_credentials(
            ca_path.read_bytes(), client_key.read_bytes(), client_cert.read_bytes()
        )
        assert check(running.port, with_cert) == health_pb2.HealthCheckResponse.SERVING
        without = grpc.ssl_channel_credentials(root_certificates=ca_path.read_bytes())
        with pytest.raises(grpc.RpcError):
            check(running.port, without)
    finally:
        running.stop(0)
