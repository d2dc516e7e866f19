"""The evidence shapes report writers read, declared once: the probes build them, the writers import them.

Evidence is free-form for people (the HTML and JSON reports show all of it), but a few fields are read
by machines: the Prometheus writer's phase timings and served certificates, and diff's certificate and
latency changes. Those fields are declared here, by the family of checks that carries them, so a writer
reads one declared place instead of guessing keys with fall-backs, and a probe that changes a shape
changes it here, where mypy and the writers' tests see it.

Families:

* every evidence built from one network attempt (``net.Attempt.evidence()``, ``tls.Handshake.evidence()``)
  carries ``timings_ms`` at its top level: :class:`Timed`;
* the TLS checks judged on a served chain (:data:`SERVED_CHAIN_CHECKS`) carry the handshake's address,
  port and SNI and the served leaf under ``certificate``: :class:`ServedChain` with
  :class:`CertificateFacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

# checks of the tls probe whose evidence is a ServedChain (one result per served chain, per host)
SERVED_CHAIN_CHECKS = frozenset({"tls.chain", "tls.hostname", "tls.expiry", "tls.key_strength", "tls.termination"})


class Timed(TypedDict, total=False):
    """Evidence of one network attempt: milliseconds per phase (``dns``, ``connect``, ``tls``, ``request``,
    ``wait``, ``transfer``, ``total``, or whatever else the attempt timed); None: the phase did not happen."""

    timings_ms: dict[str, float | None]


class CertificateFacts(TypedDict):
    """Public facts of one certificate (never key material beyond its type and size)."""

    subject: str  # the X.509 subject DN
    issuer: str
    san: list[str] | None  # None: the certificate has no subjectAltName extension
    not_before: str  # ISO 8601, UTC
    not_after: str
    key: str
    key_bits: int | None
    sha256: str  # of the DER certificate, hex
    serial: str


class Handshake(Timed, total=False):
    """A TLS handshake with one address (``tls.handshake`` and the basis of every TLS family)."""

    address: str
    port: int
    sni: str | None
    version: str | None
    cipher: str | None
    error: str


class ServedChain(Handshake, total=False):
    """A served chain (SERVED_CHAIN_CHECKS): the handshake that got it, every address that served it,
    and its leaf."""

    addresses: list[str]
    address_from: str
    certificate: CertificateFacts
    chain: list[dict[str, Any]]


def timings(evidence: Mapping[str, Any]) -> dict[str, float]:
    """The phases a result's evidence timed (Timed), in ms; phases that did not happen are left out."""
    raw = evidence.get("timings_ms")
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(phase): float(ms) for phase, ms in raw.items() if isinstance(ms, (int, float)) and not isinstance(ms, bool)
    }


@dataclass(frozen=True)
class ServedCertificate:
    """The leaf a host was served at one address, from a ServedChain result."""

    host: str
    address: str  # address:port, [v6]:port
    sni: str
    sha256: str
    not_after: str


def served_certificate(result: Mapping[str, Any]) -> ServedCertificate | None:
    """The served leaf a result (a report_dict result) describes, or None when it is not a ServedChain
    result or its evidence lacks the declared fields (a report written by something else)."""
    if result.get("check") not in SERVED_CHAIN_CHECKS or not result.get("host"):
        return None
    ev = result.get("evidence")
    cert = ev.get("certificate") if isinstance(ev, Mapping) else None
    if not isinstance(ev, Mapping) or not isinstance(cert, Mapping) or not cert.get("sha256"):
        return None
    address, port = str(ev.get("address") or ""), ev.get("port")
    if not address or not isinstance(port, int):
        return None
    where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return ServedCertificate(
        host=str(result["host"]),
        address=where,
        sni=str(ev.get("sni") or result["host"]),
        sha256=str(cert["sha256"]),
        not_after=str(cert.get("not_after") or ""),
    )
