"""``Net``: one per run, the owner of every dial. DNS through the profile's resolvers, TCP connects,
TLS handshakes and HTTP exchanges sent to a chosen address with the right Host and SNI; each call
returns a frozen ``Attempt``. Every call to one address holds that address's slot (the profile's
``concurrency_per_lb``) and is bounded by the profile's timeout per phase.

HTTPS connections are kept alive per (address, port, SNI): a host's routing and auth requests ride
the connection its TLS check opened, and the TLS facts of that connection travel with every attempt
it carries. A connection is never shared between SNIs. Idle connections are bounded in number and
closed when their host's checks are done (``release``).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import time
import urllib.request
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import dns.resolver
from OpenSSL import SSL

from .. import hostname as hostnames
from ..profile import Profile
from ._attempt import Attempt, ClientIdentity, DnsAnswer, Outcome, Subject, family_of
from ._dns import StubResolver
from ._http import encode_request, exchange, with_headers
from ._wire import Channel, Proxy, WireError, client_context, open_tcp, open_tunnel, start_tls

T = TypeVar("T")

# a kept-alive connection carries only requests of the same address, port, SNI, source and client certificate
PoolKey = tuple[str, int, str | None, str | None, str | None]
MAX_IDLE = 256  # kept-alive connections across the run; the oldest goes first


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class Net:
    """Shared per run: resolver, per-address limits, TLS contexts, the keep-alive pool."""

    def __init__(self, profile: Profile, *, timeout: float | None = None) -> None:
        self.profile = profile
        self.timeout = timeout if timeout is not None else profile.thresholds.timeout
        self.max_body = profile.thresholds.max_body_bytes
        limit = max(1, profile.thresholds.concurrency_per_lb)
        self._slots: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(limit))
        # the profile's name servers, else the system's (resolv.conf, read by dnspython)
        servers = list(profile.dns_servers) or [(str(h), 53) for h in dns.resolver.Resolver().nameservers]
        self._resolver = StubResolver(servers, self.timeout)
        self._dns_cache: dict[str, Attempt] = {}
        self._idle: OrderedDict[int, tuple[PoolKey, Channel]] = OrderedDict()
        self._contexts: dict[Any, SSL.Context] = {}
        self.memo: dict[Any, Any] = {}  # per-run memo for probes (one wildcard lookup per domain...)
        self.memo_locks: dict[Any, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.dials = 0  # connections opened, for benchmarks and tests of reuse
        self.headers = dict(profile.headers)  # -H: sent with every request, after the defaults
        # the vantage point's proxy, as curl reads it: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case)
        self._proxies = urllib.request.getproxies_environment()
        self._proxy = {
            scheme: proxy_from_url(self._proxies[scheme]) for scheme in ("https", "http") if self._proxies.get(scheme)
        }

    def proxy_for(self, scheme: str, host: str | None, address: str) -> Proxy | None:
        """The proxy a connection to ``address`` for ``host`` goes through; None: direct (none set, or
        NO_PROXY names the host or the address)."""
        proxy = self._proxy.get(scheme)
        if proxy is None:
            return None
        for name in (host, address):
            if name and urllib.request.proxy_bypass_environment(name, self._proxies):  # type: ignore[attr-defined]
                return None
        return proxy

    async def once(self, key: Any, make: Callable[[], Awaitable[T]]) -> T:
        """``make()``'s result, made once per run for ``key``: what is the same for every host behind one
        address (its default certificate, the unknown host's answer...); concurrent callers wait for it."""
        async with self.memo_locks[key]:
            if key not in self.memo:
                self.memo[key] = await make()
        value: T = self.memo[key]
        return value

    @property
    def resolver_name(self) -> str:
        if self.profile.dns_servers:
            return ", ".join(f"{h}:{p}" for h, p in self.profile.dns_servers)
        return "system resolver"

    @property
    def trust(self) -> str:
        return self.profile.ca_bundle or "system"

    def context(
        self,
        *,
        verify: bool = True,
        version: int | None = None,
        seclevel0: bool = False,
        alpn: tuple[str, ...] = (),
        identity: ClientIdentity | None = None,
    ) -> SSL.Context:
        key = (verify, version, seclevel0, alpn, identity)
        if key not in self._contexts:
            self._contexts[key] = client_context(
                ca_bundle=self.profile.ca_bundle,
                verify=verify,
                version=version,
                seclevel0=seclevel0,
                alpn=alpn,
                identity=identity,
            )
        return self._contexts[key]

    async def aclose(self) -> None:
        for _, channel in self._idle.values():
            channel.close()
        self._idle.clear()
        self._resolver.close()

    def release(self, sni: str | None) -> None:
        """Close the idle connections made for ``sni``: its host's checks are done."""
        for key in [k for k, (pool_key, _) in self._idle.items() if pool_key[2] == sni]:
            self._idle.pop(key)[1].close()

    # --- DNS --------------------------------------------------------------------------
    async def lookup(self, name: str, *, cached: bool = True) -> Attempt:
        """A and AAAA for ``name`` (in parallel). NOERROR without records is ok with no addresses."""
        key = name.lower()
        if cached and key in self._dns_cache:
            return self._dns_cache[key]
        subject = Subject(host=name)
        started = time.perf_counter()
        qname = hostnames.to_alabels(name)
        if qname is None:
            return Attempt("dns", subject, Outcome.DNS_ERROR, f"{name!r} is not a valid DNS name", "dns")
        replies = await asyncio.gather(*(self._resolver.resolve(qname, rdtype) for rdtype in ("A", "AAAA")))
        outcome, rcode, reason = Outcome.OK, "NOERROR", ""
        for reply in replies:  # the worse of the two answers decides: NXDOMAIN, then an error, then a timeout
            if reply.rcode == "NXDOMAIN":
                outcome, rcode, reason = Outcome.NXDOMAIN, "NXDOMAIN", f"{name} does not exist ({reply.reason})"
            elif reply.rcode == "TIMEOUT" and outcome is Outcome.OK:
                outcome, rcode = Outcome.TIMEOUT, "TIMEOUT"
                reason = f"no answer for {name} from {self.resolver_name} within {self.timeout:g} s"
            elif reply.rcode not in ("NOERROR", "TIMEOUT") and outcome is not Outcome.NXDOMAIN:
                outcome, rcode = Outcome.DNS_ERROR, reply.rcode
                reason = f"no server of {self.resolver_name} answered {name} usefully: {reply.reason}"
        addresses = [a for reply in replies for a in reply.addresses] if outcome is Outcome.OK else []
        ms = (time.perf_counter() - started) * 1000
        attempt = Attempt(
            "dns",
            subject,
            outcome,
            reason,
            None if outcome is Outcome.OK else "dns",
            {"dns": ms},
            dns=DnsAnswer(name, rcode, tuple(addresses), self.resolver_name),
        )
        self._dns_cache[key] = attempt
        return attempt

    async def addresses_for(self, host: str, port: int) -> tuple[list[str], str]:
        """Where a client would connect for host:port: a --resolve override (curl semantics), else DNS.
        With ``--family 4|6`` (profile ``protocols.family``), only that family's addresses."""
        override = self.profile.resolve_override(host, port)
        literal = host.removeprefix("[").removesuffix("]")
        if override:
            found, source = ([override] if isinstance(override, str) else list(override)), "resolve override"
        elif _is_ip(literal):  # a URL naming an address (an identity provider, an auth service): no DNS
            found, source = [literal], "address literal"
        else:
            attempt = await self.lookup(host)
            found, source = list(attempt.dns.addresses) if attempt.dns else [], f"DNS ({self.resolver_name})"
        family = self.profile.protocols.family
        if family is not None:
            found = [a for a in found if family_of(a) == family]
            source += f", IPv{family} only"
        return found, source

    # --- TCP --------------------------------------------------------------------------
    async def connect(self, address: str, port: int) -> Attempt:
        """A bare TCP connect (exposure checks): opened and closed again."""
        subject = Subject(address, port)
        async with self._slots[address]:
            try:
                channel, ms = await open_tcp(address, port, self.timeout)
            except WireError as exc:
                return Attempt("tcp", subject, exc.outcome, exc.reason, exc.phase)
            self.dials += 1
        channel.close()
        return Attempt("tcp", subject, Outcome.OK, timings={"connect": ms})

    # --- TLS --------------------------------------------------------------------------
    async def handshake(
        self, address: str, port: int, sni: str | None, *, context: SSL.Context | None = None, keep: bool = False
    ) -> Attempt:
        """Connect and complete a TLS handshake sending ``sni`` (None: no SNI). ``keep``: put the connection
        in the pool so the host's requests reuse it (their TLS facts are then this handshake's)."""
        subject = Subject(address, port, sni=sni, host=sni)
        timings: dict[str, float] = {}
        if keep and context is None:
            # a connection to this address with this SNI is already open (the redirect's https hop made it):
            # its handshake is the one the host's requests ride, so its facts are the ones to judge
            parked = self._peek(address, port, sni)
            if parked is not None and parked.tls is not None:
                return Attempt(
                    "tls", subject, Outcome.OK, timings=dict(parked.handshake_timings), tls=parked.tls, reused=True
                )
        async with self._slots[address]:
            try:
                channel = await self._dial(address, port, sni, context or self.context(), timings)
            except WireError as exc:
                return Attempt("tls", subject, exc.outcome, exc.reason, exc.phase, timings)
        if keep and context is None:
            self._park(channel)
        else:
            channel.close()
        return Attempt("tls", subject, Outcome.OK, timings=timings, tls=channel.tls)

    async def _dial(
        self,
        address: str,
        port: int,
        sni: str | None,
        context: SSL.Context | None,
        timings: dict[str, float],
        source: str | None = None,
        identity: ClientIdentity | None = None,
        host: str | None = None,
    ) -> Channel:
        proxy = self.proxy_for("https" if context is not None else "http", host or sni, address)
        if proxy is not None:
            if source is not None:  # the server would see the proxy's address, never this one
                raise WireError(
                    Outcome.UNREACHABLE,
                    "connect",
                    f"cannot send from {source} through proxy {proxy.where}: the server sees the proxy's address",
                )
            channel, timings["connect"] = await open_tunnel(proxy, address, port, self.timeout)
        else:
            channel, timings["connect"] = await open_tcp(address, port, self.timeout, source)
        channel.identity = identity.name if identity is not None else None
        self.dials += 1
        if context is not None:
            started = time.perf_counter()
            try:
                timings["tls"] = await start_tls(channel, context, sni, self.timeout, self.trust)
            except WireError:
                timings["tls"] = (time.perf_counter() - started) * 1000
                channel.close()
                raise
            channel.handshake_timings = {"connect": timings["connect"], "tls": timings["tls"]}
        return channel

    def _park(self, channel: Channel) -> None:
        channel.idle_since = time.monotonic()
        self._idle[id(channel)] = (
            (channel.address, channel.port, channel.sni, channel.source, channel.identity),
            channel,
        )
        while len(self._idle) > MAX_IDLE:
            _, (_, oldest) = self._idle.popitem(last=False)
            oldest.close()

    def _peek(self, address: str, port: int, sni: str | None) -> Channel | None:
        for pool_key, channel in self._idle.values():
            if pool_key == (address, port, sni, None, None) and channel.usable:
                return channel
        return None

    def _take(self, wanted: PoolKey) -> Channel | None:
        for key, (pool_key, channel) in list(self._idle.items()):
            if pool_key == wanted:
                del self._idle[key]
                if channel.usable:
                    return channel
                channel.close()
        return None

    # --- HTTP -------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        address: str,
        *,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        max_body: int | None = None,
        keep_alive: bool = True,
        target: str | None = None,
        port: int | None = None,
        body: bytes | None = None,
        source: str | None = None,
        identity: ClientIdentity | None = None,
    ) -> Attempt:
        """Send ``method url`` to ``address`` (the URL's port), with Host and SNI from the URL's host.

        ``target``: the request target to send instead of the URL's path and query, byte for byte (no
        quoting, no dot-segment or slash merging: ``//v1``, ``/./v1`` and ``%2F`` reach the wire as written).
        ``port``: dial this port; Host and the URL keep the URL's authority. ``body``: sent with its
        Content-Length after ``Expect: 100-continue`` (a server refusing it, e.g. 413, answers first).
        ``source``: the local address to send from (a vantage point inside or outside an allowlist);
        ``identity``: the client certificate to offer when the server asks for one.
        Never raises for network trouble: the attempt's outcome says what happened, naming the address.
        """
        parts = urlsplit(url)
        https = parts.scheme == "https"
        raw_host = parts.hostname or ""
        host = hostnames.to_alabels(raw_host) or raw_host
        default_port = 443 if https else 80
        authority = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
        port = port or parts.port or default_port
        sni = host if https else None
        offered = identity.name if identity is not None and https else None
        subject = Subject(
            address,
            port,
            sni=sni,
            host=host,
            url=url if target is None else f"{parts.scheme}://{authority}{target}",
            source=source,
            client_cert=offered,
        )
        if target is None:
            target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~") + (
                f"?{quote(parts.query, safe='=&%:@!$()*+,;/?-._~')}" if parts.query else ""
            )
        elif not target or any(c in target for c in " \r\n"):
            return Attempt("http", subject, Outcome.HTTP_ERROR, f"request target {target!r} cannot be sent", "request")
        hdrs = with_headers({"User-Agent": "ingresscheck", "Accept": "*/*"}, self.headers, headers or {})
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
            hdrs["Expect"] = "100-continue"
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            hdrs["Authorization"] = f"Basic {token}"
        if not keep_alive:
            hdrs["Connection"] = "close"
        payload = encode_request(method, target, authority, hdrs)
        limit = max_body if max_body is not None else self.max_body
        timings: dict[str, float] = {}
        started = time.perf_counter()
        async with self._slots[address]:
            for fresh in (False, True):
                wanted = (address, port, sni, source, offered)
                channel = None if fresh or not keep_alive else self._take(wanted)
                reused = channel is not None
                try:
                    if channel is None:
                        context = self.context(identity=identity) if https else None
                        channel = await self._dial(address, port, sni, context, timings, source, identity, host=host)
                    response, keep = await exchange(
                        channel,
                        payload,
                        head_only=method == "HEAD",
                        max_body=limit,
                        timeout=self.timeout,
                        timings=timings,
                        body=body,
                    )
                except WireError as exc:
                    if channel is not None:
                        channel.close()
                    if reused and exc.outcome is Outcome.RESET and exc.phase in ("request", "wait"):
                        continue  # the server had closed the idle connection: one fresh try, as clients do
                    timings["total"] = (time.perf_counter() - started) * 1000
                    return Attempt(
                        "http",
                        subject,
                        exc.outcome,
                        exc.reason,
                        exc.phase,
                        timings,
                        method=method,
                        tls=channel.tls if channel is not None else None,
                        reused=reused,
                    )
                break
        assert channel is not None  # the loop either returned an attempt or has an open channel
        timings["total"] = (time.perf_counter() - started) * 1000
        if keep and keep_alive:
            self._park(channel)
        else:
            channel.close()
        return Attempt(
            "http",
            subject,
            Outcome.OK,
            timings=timings,
            method=method,
            tls=channel.tls,
            response=response,
            reused=reused,
        )

    # --- other protocols (their exchanges live in _h2, _ws, _grpc) ----------------------
    async def fetch(
        self,
        method: str,
        url: str,
        address: str,
        *,
        alpn: tuple[str, ...] = ("h2", "http/1.1"),
        sni: str | None = None,
        headers: dict[str, str] | None = None,
        source: str | None = None,
        identity: ClientIdentity | None = None,
    ) -> Attempt:
        """One request on a new connection over the protocol ALPN selects (``_h2.fetch``): h2 or HTTP/1.1;
        ``sni`` another host's SNI for that connection; ``alpn=("h2",)`` insists on h2 (h2c for http);
        ``source`` and ``identity`` as for ``request``."""
        from ._h2 import fetch

        return await fetch(
            self, method, url, address, alpn=alpn, sni=sni, headers=headers, source=source, identity=identity
        )

    async def framed(
        self, address: str, port: int, payloads: list[bytes], *, tls: bool, sni: str | None = None
    ) -> Attempt:
        """Size-prefixed messages (Kafka's framing) over one new connection, TLS with ``sni`` when ``tls``:
        every payload sent, one answer read per payload into ``messages`` (``_framed``)."""
        from ._framed import exchange

        return await exchange(self, address, port, payloads, tls=tls, sni=sni)

    async def websocket(self, url: str, address: str, *, message: str) -> Attempt:
        """A WebSocket upgrade at ``address``, one message sent and the first one read back (``_ws``)."""
        from ._ws import websocket

        return await websocket(self, url, address, message=message)

    async def grpc(self, url: str, address: str, method: str, message: bytes) -> Attempt:
        """A unary gRPC call over h2 (``_grpc``); the status is ``net.grpc_status(attempt)``."""
        from ._grpc import call

        return await call(self, url, address, method, message)


def proxy_from_url(url: str) -> Proxy:
    """``http://[user:password@]host[:port]`` (a bare host:port too, as curl takes it) as a Proxy."""
    from ..known_secrets import register

    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"proxy {url!r}: expected http://HOST[:PORT] (an https:// proxy is not supported)")
    authorization = None
    if parts.username is not None:
        password = unquote(parts.password or "")
        register(password, unquote(parts.username))
        token = base64.b64encode(f"{unquote(parts.username)}:{password}".encode()).decode()
        authorization = f"Basic {token}"
    return Proxy(parts.hostname, parts.port or 80, authorization)
