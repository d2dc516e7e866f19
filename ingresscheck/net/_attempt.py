"""Attempts: what one network call did, as frozen data. Probes judge attempts; they never see sockets.

An attempt names its subject (address, port, SNI, Host, URL), a typed outcome, the phase it ended
in, per-phase timings (ms) and, when it got that far, the DNS answer, the TLS facts of the
connection that carried it and the HTTP response. "Could not run" (refused, timeout, tls_error...)
is an outcome, never an exception, so a probe reports it against the right subject.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Outcome(str, Enum):
    OK = "ok"
    REFUSED = "refused"  # TCP RST on connect: nothing listens
    RESET = "reset"  # the peer closed or reset an established connection before answering
    TIMEOUT = "timeout"  # no progress within the deadline; ``phase`` says which (connect, tls, wait...)
    UNREACHABLE = "unreachable"  # no route, host down, address not usable
    NXDOMAIN = "nxdomain"
    DNS_ERROR = "dns_error"  # SERVFAIL, REFUSED, no server answered...
    TLS_ERROR = "tls_error"  # the handshake failed; ``reason`` is OpenSSL's
    HTTP_ERROR = "http_error"  # bytes came back that are not an HTTP/1.x response
    TOO_LARGE = "too_large"  # status line and headers beyond the limit
    PROTOCOL_ERROR = "protocol_error"  # a framed protocol (Kafka) got bytes that are not its frames


def classify(exc: BaseException) -> Outcome:
    """The outcome a failed exchange of another HTTP stack (the load prober's lean transport, httpx)
    stands for, so every part of ingresscheck counts failures in the same words."""
    import ssl

    import httpx

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(e).lower() for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return Outcome.REFUSED
    if (
        any(isinstance(e, (ssl.SSLError, ssl.CertificateError)) for e in chain)
        or "certificate" in text
        or "ssl" in text
        or "tls" in text
    ):
        return Outcome.TLS_ERROR
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return Outcome.TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        return Outcome.UNREACHABLE
    if (
        isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, ConnectionError))
        or "closed" in text
        or "reset" in text
        or "disconnected" in text
    ):
        return Outcome.RESET
    return Outcome.HTTP_ERROR


def where(address: str | None, port: int | None) -> str:
    if address is None:
        return "?"
    shown = f"[{address}]" if _is_v6(address) else address
    return shown if port is None else f"{shown}:{port}"


def family_of(address: str | None) -> int | None:
    """4 or 6 for an IP literal, None for anything else."""
    try:
        return ipaddress.ip_address(address or "").version
    except ValueError:
        return None


def _is_v6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


@dataclass(frozen=True)
class Subject:
    """What an attempt was about. ``host`` is the Host header (or DNS name), ``sni`` what TLS sent."""

    address: str | None = None
    port: int | None = None
    sni: str | None = None
    host: str | None = None
    url: str | None = None
    source: str | None = None  # the local address the connection was opened from, when chosen
    client_cert: str | None = None  # the name of the client certificate offered, if any

    @property
    def where(self) -> str:
        return where(self.address, self.port)

    def as_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("address", self.address),
                ("port", self.port),
                ("sni", self.sni),
                ("host", self.host),
                ("url", self.url),
                ("source", self.source),
                ("client_cert", self.client_cert),
            )
            if v is not None
        }


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate and its key (PEM), offered when a server asks. ``name`` says in evidence which
    one it was; the key never appears in any output (not in repr either)."""

    name: str
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)


@dataclass(frozen=True)
class DnsAnswer:
    name: str
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, TIMEOUT, ERROR
    addresses: tuple[str, ...]
    server: str


@dataclass(frozen=True)
class TlsFacts:
    """What one handshake established, read from the connection that carried the request."""

    version: str
    cipher: str
    chain: tuple[bytes, ...]  # DER as served, leaf first
    verified: bool  # the chain verifies against ``trust`` (dates left to the expiry check)
    verify_code: int  # OpenSSL's X509 verify code, 0 when verified
    verify_reason: str
    trust: str  # "system" or the CA bundle's path
    alpn: str = ""  # the protocol ALPN settled on ("h2", "http/1.1"); "" when none was offered or agreed
    client_cas: tuple[str, ...] = ()  # CAs the server named when it asked for a client certificate

    @property
    def client_cert_requested(self) -> bool:
        return bool(self.client_cas)

    def as_dict(self) -> dict[str, Any]:
        return {
            **({"client_certificate_requested_for": list(self.client_cas)} if self.client_cas else {}),
            "version": self.version,
            "cipher": self.cipher,
            **({"alpn": self.alpn} if self.alpn else {}),
            "verified": self.verified,
            "verify_code": self.verify_code,
            "verify_reason": self.verify_reason,
            "trust": self.trust,
            "chain_length": len(self.chain),
        }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # names lowercased, in order
    body: bytes  # the first ``max_body`` bytes
    body_bytes: int  # bytes received (may exceed len(body))
    truncated: bool  # the body was longer than kept; the connection was dropped
    protocol: str = "HTTP/1.1"  # or "h2"
    trailers: tuple[tuple[str, str], ...] = ()  # h2 trailers (gRPC's status travels there)

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        for n, v in self.headers:
            if n == name:
                return v
        return default

    def __contains__(self, name: str) -> bool:
        name = name.lower()
        return any(n == name for n, _ in self.headers)

    @property
    def header_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for n, v in self.headers:
            out[n] = f"{out[n]}, {v}" if n in out else v
        return out

    def trailer(self, name: str, default: str = "") -> str:
        name = name.lower()
        for n, v in self.trailers:
            if n == name:
                return v
        return default

    def summary(self, body_head: int = 300) -> dict[str, Any]:
        return {
            **({"protocol": self.protocol} if self.protocol != "HTTP/1.1" else {}),
            **({"trailers": dict(self.trailers)} if self.trailers else {}),
            "status": self.status,
            "reason": self.reason,
            "headers": self.header_map,
            "body_bytes": self.body_bytes,
            "body_truncated": self.truncated,
            "body_head": self.body[:body_head].decode(errors="replace"),
        }


@dataclass(frozen=True)
class Attempt:
    """One network call: DNS lookup, TCP connect, TLS handshake or HTTP exchange."""

    kind: str  # "dns", "tcp", "tls", "http", "websocket", "grpc", "framed" (Kafka's size-prefixed messages)
    subject: Subject
    outcome: Outcome
    reason: str = ""  # why it did not succeed, in words that name the subject
    phase: str | None = None  # where it ended when not ok: dns, connect, tls, request, wait, transfer
    timings: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    method: str | None = None
    dns: DnsAnswer | None = None
    tls: TlsFacts | None = None
    response: HttpResponse | None = None
    reused: bool = False  # the request went over a kept-alive connection (TLS facts are that connection's)
    # what came after the HTTP exchange on protocols that carry messages: a WebSocket's echoed frames,
    # a gRPC call's response messages (length-prefix removed)
    messages: tuple[bytes, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def status(self) -> int | None:
        return self.response.status if self.response is not None else None

    def describe(self) -> str:
        """One line for a message: what happened, naming the subject."""
        s = self.subject
        if self.ok:
            if self.response is not None:
                r = self.response
                return f"{s.url or s.host} via {s.where} answered {r.status} {r.reason}".rstrip()
            if self.kind == "dns" and self.dns is not None:
                return f"{s.host} resolves to {', '.join(self.dns.addresses) or 'no address'}"
            return f"{self.kind} to {s.where} ok"
        return self.reason or f"{self.outcome.value} at {s.where}"

    def evidence(self) -> dict[str, Any]:
        """What a person needs to believe a verdict made from this attempt."""
        ev: dict[str, Any] = {
            "attempt": {
                "kind": self.kind,
                "outcome": self.outcome.value,
                **({"phase": self.phase} if self.phase else {}),
                **({"reason": self.reason} if self.reason else {}),
                **({"reused_connection": True} if self.reused else {}),
            },
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }
        if self.kind in ("http", "websocket", "grpc"):
            ev["request"] = {
                "method": self.method,
                "url": self.subject.url,
                "address": self.subject.address,
                "port": self.subject.port,
                **({"sni": self.subject.sni} if self.subject.sni else {}),
                **({"source": self.subject.source} if self.subject.source else {}),
                **({"client_cert": self.subject.client_cert} if self.subject.client_cert else {}),
            }
        else:
            ev["dialed"] = self.subject.as_dict()
        if self.response is not None:
            ev["response"] = self.response.summary()
        if self.messages:
            ev["messages"] = [m[:200].decode(errors="replace") for m in self.messages[:5]]
        if self.tls is not None:
            ev["tls"] = self.tls.as_dict()
        if self.dns is not None:
            ev["dns"] = {
                "query": self.dns.name,
                "rcode": self.dns.rcode,
                "answers": list(self.dns.addresses),
                "resolver": self.dns.server,
            }
        return ev
