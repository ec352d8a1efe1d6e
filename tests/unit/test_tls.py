"""One trust store for both HTTP paths: ``tls.trust_context`` reads the environment as httpx
does, and the httpx client and ``status``'s fast path both verify with it."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dokploy_provider import dokploy, fast_status, tls
from dokploy_provider.errors import ProviderError
from dokploy_provider.urls import parse_server_url

TOKEN = "devpodTestToken0123456789abcdefghijklmnopqrstu"


def _self_signed_ca(path: Path, name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _subjects(context: ssl.SSLContext) -> list[str]:
    return [str(cert.get("subject")) for cert in context.get_ca_certs()]


def test_ssl_cert_file_is_the_whole_trust_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _self_signed_ca(tmp_path / "ca.pem", "Our Private CA")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    subjects = _subjects(tls.trust_context())
    assert len(subjects) == 1 and "Our Private CA" in subjects[0]


def test_without_variables_certifi_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = tls.trust_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) > 50  # certifi's bundle, not an empty store


def test_both_http_paths_verify_with_the_shared_context(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def recording_context() -> ssl.SSLContext:
        calls.append("made")
        return ssl.create_default_context()

    monkeypatch.setattr(dokploy, "trust_context", recording_context)
    monkeypatch.setattr(fast_status, "trust_context", recording_context)
    url = parse_server_url("https://127.0.0.1:9")
    with dokploy.DokployClient(url, TOKEN, connect_timeout=1, read_timeout=1):
        pass
    assert calls == ["made"]
    client = fast_status.FastClient(url, TOKEN, connect_timeout=0.5, read_timeout=0.5, attempts=1)
    with pytest.raises(ProviderError):  # nothing listens on port 9; the context was made first
        client.get("settings.health", {})
    assert calls == ["made", "made"]
