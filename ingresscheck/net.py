"""Network primitives for probes: DNS through the profile's resolvers, and HTTP requests sent to a
chosen address with the right Host and SNI, timed per phase (connect, tls, request, transfer).

Requests to one load-balancer address are bounded by a semaphore per address, so a run never
floods one LB however many hosts it checks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
import httpx

from .profile import Profile


@dataclass(frozen=True)
class Answer:
    """A DNS lookup's outcome: rcode name ("NOERROR", "NXDOMAIN", ...) and addresses (v4 then v6)."""

    name: str
    rcode: str
    addresses: tuple[str, ...]
    server: str
    ms: float
    error: str | None = None

    @property
    def ipv4(self) -> tuple[str, ...]:
        return tuple(a for a in self.addresses if ipaddress.ip_address(a).version == 4)


@dataclass
class Exchange:
    """One HTTP request and what came back, summarised for evidence (bounded body)."""

    method: str
    url: str  # the URL as the client meant it (https://host/path), not the address dialed
    address: str
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    truncated: bool
    timings: dict[str, float] = field(default_factory=dict)
    tls: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "request": {"method": self.method, "url": self.url, "address": self.address},
            "response": {"status": self.status, "reason": self.reason, "headers": self.headers,
                         "body_bytes": len(self.body), "body_truncated": self.truncated,
                         "body_head": self.body[:300].decode(errors="replace")},
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }


class Net:
    """Shared per run: resolver, connection limits per address, TLS contexts."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.timeout = profile.thresholds.timeout
        self._per_address: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(profile.thresholds.concurrency_per_lb))
        self._resolver = dns.asyncresolver.Resolver(configure=not profile.dns_servers)
        if profile.dns_servers:
            self._resolver.nameservers = [h for h, _ in profile.dns_servers]
            self._resolver.port = profile.dns_servers[0][1]
        self._resolver.lifetime = self.timeout
        self._dns_cache: dict[tuple[str, str], Answer] = {}
        self.memo: dict[Any, Any] = {}  # per-run memo for probes (e.g. one wildcard lookup per domain)
        self.memo_locks: dict[Any, asyncio.Lock] = defaultdict(asyncio.Lock)
        # SSL contexts are built once: loading a CA store per request costs milliseconds each.
        self._unverified = ssl.create_default_context()
        self._unverified.check_hostname = False
        self._unverified.verify_mode = ssl.CERT_NONE
        self._verified = self._make_verify_context()
        self._plain = httpx.AsyncClient(verify=False, timeout=self.timeout, follow_redirects=False,
                                        limits=httpx.Limits(max_connections=None, max_keepalive_connections=200))

    @property
    def resolver_name(self) -> str:
        if self.profile.dns_servers:
            return ", ".join(f"{h}:{p}" for h, p in self.profile.dns_servers)
        return "system resolver"

    def verify_context(self) -> ssl.SSLContext:
        return self._verified

    def _make_verify_context(self) -> ssl.SSLContext:
        if self.profile.ca_bundle:
            return ssl.create_default_context(cafile=self.profile.ca_bundle)
        return ssl.create_default_context()

    async def aclose(self) -> None:
        await self._plain.aclose()

    # --- DNS --------------------------------------------------------------------------
    async def lookup(self, name: str, *, cached: bool = True) -> Answer:
        key = (name.lower(), "A+AAAA")
        if cached and key in self._dns_cache:
            return self._dns_cache[key]
        started = time.perf_counter()
        addresses: list[str] = []
        rcode, error = "NOERROR", None
        outcomes = await asyncio.gather(
            *(self._resolver.resolve(name, rdtype, raise_on_no_answer=False) for rdtype in ("A", "AAAA")),
            return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, dns.resolver.NXDOMAIN):
                rcode = "NXDOMAIN"
            elif isinstance(outcome, dns.resolver.NoNameservers):
                rcode, error = "SERVFAIL", str(outcome)
            elif isinstance(outcome, dns.exception.Timeout):
                rcode, error = "TIMEOUT", f"no answer from {self.resolver_name} within {self.timeout:g} s"
            elif isinstance(outcome, BaseException):
                rcode, error = "ERROR", f"{type(outcome).__name__}: {outcome}"
            else:
                addresses += [r.to_text() for r in outcome]
        if rcode != "NOERROR":
            addresses = []
        answer = Answer(name, rcode, tuple(addresses), self.resolver_name,
                        (time.perf_counter() - started) * 1000, error)
        self._dns_cache[key] = answer
        return answer

    async def addresses_for(self, host: str, port: int) -> tuple[list[str], str]:
        """Where a client would connect for host:port: a --resolve override, else DNS."""
        override = self.profile.resolve_override(host, port)
        if override:
            return [override], "resolve override"
        answer = await self.lookup(host)
        return list(answer.addresses), f"DNS ({answer.server})"

    # --- HTTP -------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        address: str,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        verify: bool | ssl.SSLContext = False,
        max_body: int | None = None,
    ) -> Exchange:
        """Send ``method url`` to ``address`` (same port), with Host and SNI from the URL."""
        target = httpx.URL(url)
        host = target.host
        port = target.port or (443 if target.scheme == "https" else 80)
        ip = ipaddress.ip_address(address)
        dial = f"[{address}]" if ip.version == 6 else address
        dial_url = target.copy_with(host=dial.strip("[]"), port=port)
        hdrs = {"Host": host if target.port in (None, 80, 443) else f"{host}:{target.port}",
                "User-Agent": "ingresscheck", **(headers or {})}
        limit = max_body if max_body is not None else self.profile.thresholds.max_body_bytes
        timings: dict[str, float] = {}
        marks: dict[str, float] = {}

        async def trace(event: str, info: dict[str, Any]) -> None:
            now = time.perf_counter()
            if event.endswith(".started"):
                marks[event[:-8]] = now
            elif event.endswith(".complete") and event[:-9] in marks:
                name = event[:-9].split(".")[-1]
                phase = {"connect_tcp": "connect", "start_tls": "tls", "send_request_headers": "request",
                         "send_request_body": "request", "receive_response_headers": "wait",
                         "receive_response_body": "transfer"}.get(name)
                if phase:
                    timings[phase] = timings.get(phase, 0.0) + (now - marks[event[:-9]]) * 1000
            if event == "connection.start_tls.complete" and info.get("return_value") is not None:
                stream = info["return_value"]
                ssl_obj = stream.get_extra_info("ssl_object")
                if ssl_obj is not None:
                    tls_info["version"] = ssl_obj.version()
                    tls_info["cipher"] = (ssl_obj.cipher() or ("",))[0]

        tls_info: dict[str, Any] = {}
        extensions: dict[str, Any] = {"trace": trace, "sni_hostname": host}
        request_auth = httpx.BasicAuth(*auth) if auth else None
        async with self._per_address[address]:
            if target.scheme == "https":
                # A fresh client per TLS request: pooled connections are keyed by address, and one made
                # with another host's SNI must never carry this host's request.
                context = verify if isinstance(verify, ssl.SSLContext) else (
                    self._verified if verify else self._unverified)
                client: httpx.AsyncClient | None = httpx.AsyncClient(
                    verify=context, timeout=self.timeout, follow_redirects=False)
            else:
                client = None
            c = client or self._plain
            try:
                req = c.build_request(method, dial_url, headers=hdrs, extensions=extensions)
                if request_auth:
                    req = next(request_auth.auth_flow(req))
                started = time.perf_counter()
                resp = await c.send(req, stream=True)
                try:
                    body = b""
                    truncated = False
                    async for chunk in resp.aiter_raw():
                        body += chunk
                        if len(body) > limit:
                            body, truncated = body[:limit], True
                            break
                finally:
                    await resp.aclose()
                timings["total"] = (time.perf_counter() - started) * 1000
            finally:
                if client is not None:
                    await client.aclose()
        return Exchange(method, str(target), address, resp.status_code, resp.reason_phrase,
                        dict(resp.headers), body, truncated, timings, tls_info)
