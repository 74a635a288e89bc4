"""Connecting to the checked address keeps TLS honest: the name is sent and verified.

The vetted connection connects to an IP address it resolved itself; the certificate must
still be checked against the tool's host name (and SNI must carry it), or an address
check would have cost the TLS check. The server's certificate names only ``localhost``.
"""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from gateway.vendor_connections import VettedAdapter


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_vendor(tmp_path) -> Iterator[tuple[int, Path, list[str]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names only localhost."""
    cert, key = self_signed(tmp_path, "localhost")
    server_names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    server = make_server(
        "127.0.0.1",
        0,
        lambda environ, start: Response("hello")(environ, start),
        ssl_context=context,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, cert, server_names
    server.shutdown()


def vetted_session(allow_private_network: bool, ca: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca)
    session.mount("https://", VettedAdapter(allow_private_network))
    return session


def test_the_certificate_is_checked_against_the_name_not_the_address(tls_vendor):
    port, ca, server_names = tls_vendor
    session = vetted_session(True, ca)

    response = session.get(f"https://localhost:{port}/", timeout=5)

    assert response.text == "hello"
    assert server_names == ["localhost"], "SNI carries the name"
    with pytest.raises(requests.exceptions.SSLError):  # a certificate for another name fails
        session.get(f"https://127.0.0.1:{port}/", timeout=5)
