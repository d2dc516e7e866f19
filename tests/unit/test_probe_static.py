"""static.tls_secret: the verdict is about the Secret, whatever its certificate's X.509 subject says."""

from __future__ import annotations

import pytest
import trustme

from ingresscheck.discovery import Inventory
from ingresscheck.discovery.model import SecretInfo
from ingresscheck.probes._contract import ProbeContext
from ingresscheck.probes.static import StaticProbe
from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import ingress, one, run_probes

HOST = "shop.example.test"


def _secret(cert_pem: bytes, *, type_: str = "kubernetes.io/tls") -> SecretInfo:
    return SecretInfo("demo", "shop-tls", type_, ("tls.crt", "tls.key"), cert_pem=cert_pem, key_matches=True)


def test_tls_secret_subject_is_the_secret_and_its_dn_stays_evidence() -> None:
    # Given a TLS Secret whose certificate has a subject DN (CN=..., O=...)
    cert = trustme.CA().issue_cert(HOST, common_name=HOST)
    pem = cert.cert_chain_pems[0].bytes()
    # When static judges the Ingress that names it
    report = run_probes(
        ["static"],
        Profile(),
        [ingress("shop", HOST, tls_secret="shop-tls")],
        secrets={("demo", "shop-tls"): _secret(pem)},
    )
    # Then the result is about the Secret, and the DN is kept in the evidence
    r = one(report, "static.tls_secret", HOST)
    assert r.status is Status.PASS, r.message
    assert r.subject == "demo/shop-tls"
    assert r.evidence["subject"].startswith("CN=") and HOST in r.evidence["subject"]
    assert r.evidence["secret"] == "demo/shop-tls"


def test_tls_secret_of_the_wrong_type_is_still_about_the_secret() -> None:
    # Given a Secret of the wrong type: a failure before any certificate is read
    report = run_probes(
        ["static"],
        Profile(),
        [ingress("shop", HOST, tls_secret="shop-tls")],
        secrets={("demo", "shop-tls"): _secret(b"", type_="Opaque")},
    )
    # Then the fail still names the Secret as its subject
    r = one(report, "static.tls_secret", HOST)
    assert r.status is Status.FAIL and r.subject == "demo/shop-tls"


def test_evidence_key_named_like_a_parameter_stays_evidence() -> None:
    # Given a probe reporting evidence with keys named like report()'s parameters
    ctx = ProbeContext(StaticProbe, Profile(), Inventory("u", "l"), None, None, {})  # type: ignore[arg-type]
    # When it reports them through the one evidence mapping
    r = ctx.passed("static.no_host", "ok", {"subject": "CN=x", "host": "h", "kind": "k"}, subject="demo/x")
    # Then the result's placing parameters are untouched and the evidence keeps every key
    assert (r.subject, r.host, r.kind) == ("demo/x", None, None)
    assert r.evidence == {"subject": "CN=x", "host": "h", "kind": "k"}


def test_an_unknown_keyword_is_a_type_error() -> None:
    # Given the contract without the legacy keyword form
    ctx = ProbeContext(StaticProbe, Profile(), Inventory("u", "l"), None, None, {})  # type: ignore[arg-type]
    # When evidence is passed as a loose keyword, Then it is refused instead of landing anywhere
    with pytest.raises(TypeError):
        ctx.passed("static.no_host", "ok", owners=["a"])  # type: ignore[call-arg]
