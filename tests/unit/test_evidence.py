"""The evidence shapes the writers read: one declared place per field, no guessed fall-backs."""

from __future__ import annotations

from typing import Any

from ingresscheck.evidence import served_certificate, timings


def _chain_result(**evidence: Any) -> dict[str, Any]:
    ev = {"address": "::1", "port": 8443, "sni": "api.example.test", "certificate": {"sha256": "ab", "not_after": "x"}}
    return {"check": "tls.expiry", "host": "api.example.test", "evidence": {**ev, **evidence}}


def test_timings_are_the_phases_that_happened() -> None:
    # Given evidence whose attempt timed some phases and skipped one, When read, Then only numbers are kept
    assert timings({"timings_ms": {"connect": 1, "tls": None, "total": 2.5, "odd": True}}) == {
        "connect": 1.0,
        "total": 2.5,
    }
    assert timings({"response": {"timings_ms": {"total": 3}}}) == {}  # not a declared place


def test_served_certificate_names_the_address_as_the_tls_subjects_do() -> None:
    # Given a served-chain result at an IPv6 address, Then its address reads like the results' subjects
    cert = served_certificate(_chain_result())
    assert cert is not None and (cert.address, cert.sha256, cert.not_after) == ("[::1]:8443", "ab", "x")


def test_served_certificate_is_none_outside_the_served_chain_family() -> None:
    # Given a certificate-like mapping in other checks' evidence, or a chain result without the fields
    assert served_certificate({**_chain_result(), "check": "tls.default_certificate"}) is None
    assert served_certificate({**_chain_result(), "check": "static.tls_secret"}) is None
    assert served_certificate(_chain_result(certificate=None)) is None
    assert served_certificate(_chain_result(port=None)) is None
