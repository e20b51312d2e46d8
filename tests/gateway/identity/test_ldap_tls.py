"""LDAP over TLS against a real slapd (issue 7): ldaps://, StartTLS, CA and name checks.

A private CA issues slapd's certificate (SAN 127.0.0.1). Every refusal is asserted as
DirectoryUnavailable, not merely "no user": a client that skipped verification would get
a user back and fail these tests.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config import parse_config
from gateway.identity.authenticator import Authenticator
from gateway.identity.ldap import DirectoryUnavailable, LdapDirectory
from gateway.identity.settings import parse_identity
from tests.support.slapd import BASE, PASSWORDS, Slapd, ldap_section, populate, start_slapd

# A clear reason for a chain that does not verify: OpenSSL's wording ("certificate verify
# failed"), GnuTLS's ("certificate is NOT trusted"), or any "certificate verification".
VERIFY_FAILED = r"(?i)certificate (is NOT trusted|verif)"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that issued slapd's certificate
    other_ca: Path  # an unrelated self-signed CA: the "wrong CA"
    cert: Path
    key: Path


def _pem_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _ca(common_name: str, path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _server_cert(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cert_path: Path, key_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _pem_key(key, key_path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("ldap-pki")
    ca, ca_key = _ca("Airlock test LDAP CA", d / "ca.pem")
    _ca("Some other CA", d / "other-ca.pem")
    _server_cert(ca, ca_key, d / "slapd.pem", d / "slapd.key")
    return Pki(d / "ca.pem", d / "other-ca.pem", d / "slapd.pem", d / "slapd.key")


@pytest.fixture(scope="module")
def tls_slapd(pki: Pki, dave_key: asyncssh.SSHKey) -> Iterator[Slapd]:
    server = start_slapd(pki.cert, pki.key, pki.ca)
    try:
        populate(server, dave_key.export_public_key().decode().strip())
        yield server
    finally:
        server.stop()


def directory(server: Slapd, **extra: Any) -> LdapDirectory:
    settings = parse_identity({"identity": {"ldap": ldap_section(server, **extra)}}).ldap
    assert settings is not None
    return LdapDirectory(settings)


def authenticator(server: Slapd, **extra: Any) -> Authenticator:
    raw = {"identity": {"ldap": ldap_section(server, **extra)}}
    return Authenticator(parse_config(raw, Path("/nonexistent/airlock.toml")))


# --- the right CA: it works ----------------------------------------------------------------


async def test_ldaps_with_the_right_ca(tls_slapd: Slapd, pki: Pki) -> None:
    d = directory(tls_slapd, url=tls_slapd.tls_url, ca_file=str(pki.ca))
    names = directory(
        tls_slapd,
        url=tls_slapd.tls_url,
        ca_file=str(pki.ca),
        group_mode="groupOfNames",
        group_base=f"ou=groups,{BASE}",
    )
    try:
        found = await d.authenticate("dave", PASSWORDS["dave"])
        assert found is not None and found.groups == {"ops", "dba"}
        assert await d.authenticate("dave", "wrong") is None
        found = await names.lookup("erin")  # group search over the same TLS channel
        assert found is not None and found.groups == {"ops"}
    finally:
        d.close()
        names.close()


async def test_start_tls_with_the_right_ca(tls_slapd: Slapd, pki: Pki) -> None:
    d = directory(tls_slapd, start_tls=True, ca_file=str(pki.ca))
    try:
        found = await d.authenticate("erin", PASSWORDS["erin"])
        assert found is not None and found.groups == {"ops"}
        assert await d.authenticate("erin", "wrong") is None
        assert (await d.lookup("frank")) is not None
    finally:
        d.close()


async def test_authenticator_logs_in_over_ldaps(tls_slapd: Slapd, pki: Pki) -> None:
    auth = authenticator(tls_slapd, url=tls_slapd.tls_url, ca_file=str(pki.ca))
    try:
        ident = await auth.check_password("dave", PASSWORDS["dave"])
        assert ident is not None and ident.source == "ldap" and ident.groups == {"ops", "dba"}
    finally:
        auth.close()


# --- refusals: never allowed, never downgraded ------------------------------------------

TRANSPORTS = pytest.mark.parametrize("transport", ["ldaps", "start_tls"])


def tls_options(server: Slapd, transport: str) -> dict[str, Any]:
    if transport == "ldaps":
        return {"url": server.tls_url}
    return {"start_tls": True}


@TRANSPORTS
async def test_wrong_ca_is_refused(tls_slapd: Slapd, pki: Pki, transport: str) -> None:
    d = directory(tls_slapd, ca_file=str(pki.other_ca), **tls_options(tls_slapd, transport))
    try:
        with pytest.raises(DirectoryUnavailable):
            await d.authenticate("dave", PASSWORDS["dave"])
        with pytest.raises(DirectoryUnavailable):
            await d.lookup("dave")
    finally:
        d.close()


@TRANSPORTS
async def test_wrong_ca_refuses_the_login_and_logs_it(
    tls_slapd: Slapd, pki: Pki, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    opts = tls_options(tls_slapd, transport)
    auth = authenticator(tls_slapd, ca_file=str(pki.other_ca), **opts)
    try:
        with caplog.at_level(logging.ERROR, "airlock.identity"):
            assert await auth.check_password("dave", PASSWORDS["dave"]) is None
            assert await auth.identity("dave") is None  # the public-key path refuses too
            assert await auth.authorized_keys("dave") == ()
        refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(refusals) == 3
        assert all("refusing" in m and "directory unavailable" in m for m in refusals)
    finally:
        auth.close()


@TRANSPORTS
async def test_wrong_ca_reason_names_certificate_verification(
    tls_slapd: Slapd, pki: Pki, transport: str
) -> None:
    d = directory(tls_slapd, ca_file=str(pki.other_ca), **tls_options(tls_slapd, transport))
    try:
        with pytest.raises(DirectoryUnavailable, match=VERIFY_FAILED):
            await d.authenticate("dave", PASSWORDS["dave"])
    finally:
        d.close()


async def test_without_ca_file_the_system_store_does_not_trust_a_private_ca(
    tls_slapd: Slapd,
) -> None:
    d = directory(tls_slapd, url=tls_slapd.tls_url)
    try:
        with pytest.raises(DirectoryUnavailable):
            await d.authenticate("dave", PASSWORDS["dave"])
    finally:
        d.close()


@TRANSPORTS
async def test_name_mismatch_is_refused_even_with_the_right_ca(
    tls_slapd: Slapd, pki: Pki, transport: str
) -> None:
    # The certificate names 127.0.0.1 only. "localhost" reaches the same server, but the
    # name checked (libldap canonicalises it to this machine's hostname) is not in it.
    opts = tls_options(tls_slapd, transport)
    port = tls_slapd.tls_port if transport == "ldaps" else tls_slapd.port
    scheme = "ldaps" if transport == "ldaps" else "ldap"
    opts["url"] = f"{scheme}://localhost:{port}"
    d = directory(tls_slapd, ca_file=str(pki.ca), **opts)
    try:
        with pytest.raises(DirectoryUnavailable):
            await d.authenticate("dave", PASSWORDS["dave"])
    finally:
        d.close()


async def test_start_tls_against_a_server_without_tls_is_refused(
    slapd: Slapd, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    # The session slapd has no certificate: StartTLS must fail the login, not fall back
    # to binding in clear text.
    d = directory(slapd, start_tls=True, ca_file=str(pki.ca))
    try:
        # slapd's answer to the StartTLS extended operation when it has no certificate.
        with pytest.raises(DirectoryUnavailable, match="unsupported extended operation"):
            await d.authenticate("dave", PASSWORDS["dave"])
    finally:
        d.close()
    auth = authenticator(slapd, start_tls=True, ca_file=str(pki.ca))
    try:
        with caplog.at_level(logging.ERROR, "airlock.identity"):
            assert await auth.check_password("dave", PASSWORDS["dave"]) is None
        assert "directory unavailable" in caplog.text
    finally:
        auth.close()
