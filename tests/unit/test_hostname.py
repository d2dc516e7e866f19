"""RFC 6125 host matching: SAN dNSNames only, one-label wildcards, case, trailing dots, IDNA."""

from __future__ import annotations

import datetime as dt

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ingresscheck import hostname


@pytest.mark.parametrize(
    ("host", "name", "expected"),
    [
        ("a.example.test", "a.example.test", True),
        ("a.example.test", "b.example.test", False),
        ("a.example.test", "*.example.test", True),
        ("example.test", "*.example.test", False),  # the wildcard needs a label to stand for
        ("a.b.example.test", "*.example.test", False),  # exactly one label
        ("foo.example.test", "f*.example.test", False),  # no partial-label wildcards
        ("foo.example.test", "*oo.example.test", False),
        ("a.b.example.test", "a.*.example.test", False),  # only the left-most label
        ("a.b.example.test", "*.*.example.test", False),
        ("example.test", "*.test", False),  # never over a two-label, public-suffix-like name
        ("test", "*", False),
        ("A.Example.TEST", "a.example.test", True),  # case-insensitive
        ("a.example.test", "*.EXAMPLE.test", True),
        ("a.example.test.", "a.example.test", True),  # trailing dots ignored
        ("a.example.test", "*.example.test.", True),
        ("", "*.example.test", False),
        ("a..example.test", "*.example.test", False),
    ],
)
def test_rfc6125_table(host: str, name: str, expected: bool) -> None:
    """Given a host and a presented name, when matched, then the RFC 6125 verdict holds."""
    assert hostname.matches(host, [name]) is expected


def test_idna_compares_a_labels() -> None:
    """Given a U-label host, when matched, then its A-label SAN (exact or wildcard) covers it."""
    assert hostname.to_alabels("Bücher.example.test") == "xn--bcher-kva.example.test"
    assert hostname.matches("bücher.example.test", ["xn--bcher-kva.example.test"])
    assert hostname.matches("xn--bcher-kva.example.test", ["*.example.test"])
    assert hostname.matches("shop.bücher.test", ["*.xn--bcher-kva.test"])
    assert not hostname.matches("bucher.example.test", ["xn--bcher-kva.example.test"])


def test_any_name_of_several_is_enough() -> None:
    assert hostname.matches("api.example.test", ["www.example.test", "*.example.test"])
    assert not hostname.matches("api.example.test", [])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _cert(ca: trustme.CA, common_name: str, *sans: str) -> x509.Certificate:
    leaf = ca.issue_cert(*sans, common_name=common_name)
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())


def _cert_without_san(common_name: str) -> x509.Certificate:
    """trustme always adds a subjectAltName extension; this one has none (a CN-only certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(now)
    return builder.not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())


def test_covered_by_returns_the_covering_san(ca: trustme.CA) -> None:
    """Given a cert with an exact and a wildcard SAN, then covered_by names the SAN that matches."""
    cert = _cert(ca, "www.example.test", "www.example.test", "*.api.example.test")
    assert hostname.covered_by("WWW.example.test", cert) == "www.example.test"
    assert hostname.covered_by("v1.api.example.test", cert) == "*.api.example.test"
    assert hostname.covered_by("api.example.test", cert) is None
    assert hostname.dns_names(cert) == ["www.example.test", "*.api.example.test"]


def test_the_cn_is_ignored_when_sans_exist(ca: trustme.CA) -> None:
    """Given CN=host but SANs for other names, then the host is not covered."""
    cert = _cert(ca, "api.example.test", "www.example.test")
    assert hostname.covered_by("api.example.test", cert) is None


def test_a_cert_without_san_covers_nothing() -> None:
    """Given a cert with only a CN, then dns_names is None and nothing is covered, not even the CN."""
    cert = _cert_without_san("api.example.test")
    assert hostname.dns_names(cert) is None
    assert hostname.covered_by("api.example.test", cert) is None
