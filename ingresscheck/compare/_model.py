"""The data of a parity comparison, frozen and plain: requests, what each side answered, differences.

Side            how to reach one data plane (address, kube context, object kind)
Request         one entry of the request matrix (scheme, Host, raw target, credentials)
Observation     what one side answered to one request: a view over the network layer's Attempt
Difference      one way B differs from A for one request, with its severity (the results' Severity:
                BREAKING = critical, CHANGED = major, COSMETIC = minor), explanation and cause
HostParity      every request of one host on both sides
ParityReport    every host, the hosts on one side only, the annotation support table
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..hostname import match_one
from ..identity import identity
from ..net import Attempt, Outcome
from ..results import Severity

# One severity vocabulary: the results' Severity. A parity difference's class is its name in words.
BREAKING = Severity.CRITICAL  # a route that worked fails, auth opens, the https redirect is lost, another backend
CHANGED = Severity.MAJOR  # same status family, but Location or a header that matters differs
COSMETIC = Severity.MINOR  # nothing a client or user relies on
CLASSES = {BREAKING: "breaking", CHANGED: "changed", COSMETIC: "cosmetic"}
_RANK = {BREAKING: 0, CHANGED: 1, COSMETIC: 2}


def class_of(severity: Severity) -> str:
    return CLASSES.get(severity, "cosmetic")


def rank(severity: Severity) -> int:
    return _RANK.get(severity, 3)


@dataclass(frozen=True)
class Side:
    """One data plane: ``address`` to send to (None: each host's published address), where its objects live."""

    label: str  # "A" or "B"
    address: str | None = None
    context: str | None = None
    kind: str | None = None  # "Ingress", "HTTPRoute" or None for both
    http_port: int = 80
    https_port: int = 443
    implementation: str | None = None  # for the annotation support table; None: derived from the objects


@dataclass(frozen=True)
class Request:
    """One request of the matrix. ``target`` is sent as written (no normalisation).

    ``aspect`` names the migration aspect this request is about (``hsts``, ``body_limit``...; see
    ``_aspects``): its answers are compared by that aspect alone. ``kind`` "alpn" is a TLS handshake
    offering ``h2`` and ``http/1.1``, no request."""

    key: str  # stable id within a host, e.g. "path /v1/" or "auth right"
    category: str  # path, derived, case, normalisation, redirect, auth, tls, unknown-host, nginx, aspect
    scheme: str
    host: str
    target: str
    method: str = "GET"
    auth: tuple[str, str] | None = field(default=None, repr=False)  # never reported
    note: str = ""  # why this request is in the matrix
    headers: tuple[tuple[str, str], ...] = ()  # sent besides Host, User-Agent and Accept
    body_bytes: int = 0  # a body of that many bytes is sent (POST)
    aspect: str | None = None
    kind: str = "http"  # or "alpn", or "check" (a `run` check on both sides: ``_access``)

    def describe(self) -> str:
        # the matrix's wrong-credentials request carries credentials too: say which it sends
        cred = (" (with wrong credentials)" if self.key == "auth wrong" else " (with credentials)") if self.auth else ""
        if self.kind == "alpn":
            return f"TLS handshake {self.host} offering h2, http/1.1"
        if self.kind == "check":
            return f"check {self.aspect} of {self.host} ({self.key.removeprefix(f'check {self.aspect}').strip()})"
        extra = "".join(f" [{n}: {v}]" for n, v in self.headers)
        body = f" ({self.body_bytes} byte body)" if self.body_bytes else ""
        return f"{self.method} {self.scheme}://{self.host}{self.target}{cred}{extra}{body}"


@dataclass(frozen=True)
class TlsSeen:
    """The TLS facts of the connection that carried the answer, as the comparison reads them."""

    version: str
    fingerprint: str  # sha256 of the leaf, first 16 hex digits
    sans: tuple[str, ...]
    verified: bool
    verify_error: str = ""
    alpn: str = ""


def _sans(der: bytes) -> tuple[str, ...]:
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return ()
    return tuple(sorted(ext.value.get_values_for_type(x509.DNSName)))


@dataclass(frozen=True)
class Observation:
    """What one side answered to one request: a view over the network layer's ``Attempt``.

    ``status`` 0 means no HTTP answer (``outcome`` says why, ``error`` in words). The backend is who the
    answer says served it (the echo backends' identity) and the path it saw."""

    attempt: Attempt

    @property
    def outcome(self) -> Outcome:
        return self.attempt.outcome

    @property
    def status(self) -> int:
        return self.attempt.status or 0

    @property
    def error(self) -> str | None:
        return None if self.attempt.ok else (self.attempt.reason or self.attempt.outcome.value)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return self.attempt.response.headers if self.attempt.response is not None else ()

    def header(self, name: str) -> str | None:
        r = self.attempt.response
        return r.header(name) if r is not None and name in r else None

    @property
    def family(self) -> int:
        return self.status // 100

    @property
    def ms(self) -> float:
        return round(self.attempt.timings.get("total", sum(self.attempt.timings.values())), 1)

    @property
    def body_sha(self) -> str:
        r = self.attempt.response
        return hashlib.sha256(r.body).hexdigest()[:12] if r is not None else ""

    @cached_property
    def backend(self) -> tuple[str, str] | None:
        """(namespace/service, path the backend saw) when the answer says who served it (``identity``)."""
        found = identity(self.attempt.response)
        if found is None or not found.service:
            return None
        return (found.name, found.path or "")

    @cached_property
    def _echoed(self) -> dict[str, str] | None:
        from ..probes.identity_headers import echoed_headers

        return echoed_headers(self.attempt.response)

    def seen_header(self, name: str) -> str | None:
        """A request header as the backend received it, when it echoes them; None: not received or not shown."""
        return (self._echoed or {}).get(name.lower())

    @property
    def echoes_headers(self) -> bool:
        return self._echoed is not None

    @cached_property
    def tls(self) -> TlsSeen | None:
        t = self.attempt.tls
        if t is None:
            return None
        leaf = t.chain[0] if t.chain else b""
        sans = _sans(leaf) if leaf else ()
        # verified as a client verifies: a trusted chain AND a name covering the host (RFC 6125)
        host = self.attempt.subject.sni or self.attempt.subject.host or ""
        named = any(match_one(host, n) for n in sans)
        error = t.verify_reason if not t.verified else "" if named else f"no subjectAltName covers {host}"
        return TlsSeen(
            version=t.version,
            fingerprint=hashlib.sha256(leaf).hexdigest()[:16] if leaf else "",
            sans=sans,
            verified=t.verified and named,
            verify_error=error,
            alpn=t.alpn,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "ms": self.ms}
        if self.error:
            out["error"] = self.error
            out["outcome"] = self.outcome.value
        for name in ("location", "www-authenticate", "strict-transport-security", "content-type"):
            value = self.header(name)
            if value is not None:
                out[name] = value
        if self.backend:
            out["backend"], out["backend_path"] = self.backend
        if self.tls:
            out["tls"] = {
                "version": self.tls.version,
                "fingerprint": self.tls.fingerprint,
                "sans": list(self.tls.sans),
                "verified": self.tls.verified,
                **({"alpn": self.tls.alpn} if self.tls.alpn else {}),
            }
            if self.tls.verify_error:
                out["tls"]["verify_error"] = self.tls.verify_error
        return out

    def short(self) -> str:
        if self.error:
            return f"error: {self.error}"
        text = str(self.status)
        location = self.header("location")
        if location:
            text += f" → {location}"
        if self.backend:
            text += f" [{self.backend[0]}{' ' + self.backend[1] if self.backend[1] else ''}]"
        return text


@dataclass(frozen=True)
class Difference:
    severity: Severity  # BREAKING, CHANGED or COSMETIC (the results' CRITICAL, MAJOR, MINOR)
    request: Request
    aspect: str  # status, location, backend, header:<name>, tls:<field>, error, or a migration aspect (hsts...)
    a: str
    b: str
    explanation: str
    cause: str = ""  # why B differs, where it can be established (see ``_cause``)
    expected: str = ""  # the reason of the --expect entry that covers it ("" when none does)

    @property
    def klass(self) -> str:
        return class_of(self.severity)

    def as_dict(self) -> dict[str, Any]:
        return {
            "class": self.klass,
            "severity": self.severity.value,
            **({"cause": self.cause} if self.cause else {}),
            **({"expected": self.expected} if self.expected else {}),
            "request": self.request.describe(),
            "key": self.request.key,
            "category": self.request.category,
            "aspect": self.aspect,
            "a": self.a,
            "b": self.b,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Exchange:
    request: Request
    a: Observation
    b: Observation
    differences: tuple[Difference, ...]


@dataclass(frozen=True)
class SupportRow:
    """One annotation of one object on side A, and what side B's implementation does with it."""

    object: str  # namespace/name
    host: str
    annotation: str
    value: str
    support: str  # "same", "ignored", "different", "extension" (expressible only with an implementation policy)
    note: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class HostParity:
    host: str
    a_object: str  # Kind namespace/name
    b_object: str
    exchanges: tuple[Exchange, ...]
    checks: tuple[Any, ...] = ()  # the access checks on both sides (``_access.CheckParity``)

    @property
    def all_differences(self) -> list[Difference]:
        """Every difference, expected ones included, worst first."""
        diffs = [d for e in self.exchanges for d in e.differences] + [d for c in self.checks for d in c.differences]
        return sorted(diffs, key=lambda d: rank(d.severity))

    @property
    def differences(self) -> list[Difference]:
        """The differences no --expect entry covers, worst first: these count."""
        return [d for d in self.all_differences if not d.expected]

    @property
    def expected(self) -> list[Difference]:
        return [d for d in self.all_differences if d.expected]

    @property
    def worst(self) -> Severity | None:
        diffs = self.differences
        return diffs[0].severity if diffs else None


@dataclass(frozen=True)
class ParityReport:
    a: Side
    b: Side
    a_implementation: str
    b_implementation: str
    hosts: tuple[HostParity, ...]
    only_a: tuple[str, ...]  # hosts served on A only (would disappear after the switch)
    only_b: tuple[str, ...]
    support: tuple[SupportRow, ...]
    started: str
    seconds: float
    stale: tuple[Any, ...] = ()  # --expect entries that matched no difference (``_expect.Expectation``)

    def count(self, severity: Severity) -> int:
        """Differences of that severity; a host served on A only is one breaking difference (it stops being
        served after the switch), so the terminal line, the JSON summary, the HTML and the exit code agree."""
        found = sum(1 for h in self.hosts for d in h.differences if d.severity is severity)
        return found + (len(self.only_a) if severity is BREAKING else 0)

    @property
    def breaking(self) -> bool:
        return self.count(BREAKING) > 0

    def ordered_hosts(self) -> list[HostParity]:
        """Hosts with breaking differences first, then changed, then the rest, by name within each."""
        return sorted(self.hosts, key=lambda h: (rank(h.worst) if h.worst else 3, h.host))
