"""A stub resolver for the run: every query of the run shares one UDP socket per name server.

dnspython builds and parses the messages; this module only owns the transport. dnspython's own async
resolver opens a socket (an asyncio endpoint) per query, and a 1,000-host run asks 2,000 questions: the
endpoint set-up cost more CPU than the answers (1.6 s of an 11 s run, py-spy). Here queries are
multiplexed by message ID over one connected socket per server, each answer is checked against its
question (``Message.is_response``), and a truncated answer is asked again over TCP.

Semantics follow a stub resolver (and dnspython's ``Resolver.resolve``, used before): names are absolute
(no search list), CNAME chains in the answer are followed, NXDOMAIN from any server is final, a server
answering SERVFAIL, REFUSED or garbage makes the next one be asked, and an unanswered query is sent again
(to the next server) until the lifetime runs out.
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

# how long one try waits before the question is sent again (to the next server, if any)
RETRY_AFTER = 1.0
# questions in flight per server: a burst beyond what a resolver queues is dropped and costs a retry
# (dnsmasq forwards at most 150 at once by default)
IN_FLIGHT = 64


@dataclass(frozen=True)
class DnsReply:
    """What the servers said about one (name, type): ``rcode`` is "NOERROR", "NXDOMAIN", "SERVFAIL"... or
    "TIMEOUT"/"ERROR" when nobody answered usefully; ``reason`` says why, naming the servers."""

    rcode: str
    addresses: tuple[str, ...] = ()
    reason: str = ""


class _Endpoint(asyncio.DatagramProtocol):
    """One connected UDP socket to one server; answers are matched to their questions by ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.slots = asyncio.Semaphore(IN_FLIGHT)
        self.pending: dict[int, tuple[dns.message.Message, asyncio.Future[dns.message.Message | OSError]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's UDPTransport is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 2:
            return
        entry = self.pending.get(int.from_bytes(data[:2], "big"))
        if entry is None:
            return  # late or stray: its question was given up on
        query, future = entry
        try:
            reply = dns.message.from_wire(data, ignore_trailing=True, one_rr_per_rrset=False)
        except dns.exception.DNSException:
            return  # garbage under a pending ID: keep waiting for the real answer
        if query.is_response(reply) and not future.done():
            future.set_result(reply)

    def error_received(self, exc: Exception) -> None:
        # an ICMP error (port unreachable...) for the connected server: every question waiting on it fails
        for _, future in self.pending.values():
            if not future.done() and isinstance(exc, OSError):
                future.set_result(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.error_received(exc if isinstance(exc, OSError) else ConnectionResetError("socket closed"))


class StubResolver:
    """Ask ``servers`` ((address, port) pairs, in order) for A/AAAA records within ``lifetime`` seconds."""

    def __init__(self, servers: list[tuple[str, int]], lifetime: float) -> None:
        self.servers = servers
        self.lifetime = lifetime
        self._endpoints: dict[tuple[str, int], _Endpoint] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None  # made on the running loop (see _endpoint)

    async def _endpoint(self, server: tuple[str, int]) -> _Endpoint:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: sockets of an old one are useless there
            self.close()
            self._loop, self._opening = loop, asyncio.Lock()
        endpoint = self._endpoints.get(server)
        if endpoint is not None and endpoint.transport is not None and not endpoint.transport.is_closing():
            return endpoint
        assert self._opening is not None
        async with self._opening:
            endpoint = self._endpoints.get(server)
            if endpoint is None or endpoint.transport is None or endpoint.transport.is_closing():
                _, endpoint = await loop.create_datagram_endpoint(_Endpoint, remote_addr=server)
                self._endpoints[server] = endpoint
        return endpoint

    def close(self) -> None:
        for endpoint in self._endpoints.values():
            if endpoint.transport is not None:
                endpoint.transport.close()
        self._endpoints.clear()

    async def resolve(self, qname: str, rdtype: str) -> DnsReply:
        deadline = time.monotonic() + self.lifetime
        name = dns.name.from_text(qname)
        kind = dns.rdatatype.from_text(rdtype)
        problems: list[str] = []
        silent: dict[str, None] = {}  # servers that let a try go unanswered (ordered, once each)
        refused: set[tuple[str, int]] = set()
        turn = 0
        while (left := deadline - time.monotonic()) > 0:
            server = self.servers[turn % len(self.servers)]
            turn += 1
            where = f"{server[0]}:{server[1]}"
            query = dns.message.make_query(name, kind)
            reply = await self._ask(server, query, min(left, RETRY_AFTER))
            if reply is None:
                silent[where] = None
                continue  # unanswered: ask again (the next server, if any)
            if isinstance(reply, OSError):  # the kernel's ICMP answer for the server's address or port
                problems.append(
                    f"{where} refused the query (ICMP port unreachable: nothing listens there)"
                    if isinstance(reply, ConnectionRefusedError)
                    else f"resolver {where} is unreachable ({reply.strerror}: no route to it from this machine)"
                    if reply.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
                    else f"{where}: {reply.strerror or type(reply).__name__}"
                )
                refused.add(server)
                if len(refused) == len(set(self.servers)):
                    break  # every server refused: waiting would not help
                continue
            if reply.flags & dns.flags.TC:
                try:
                    reply = await dns.asyncquery.tcp(
                        query, server[0], timeout=max(0.05, deadline - time.monotonic()), port=server[1]
                    )
                except (OSError, dns.exception.DNSException) as exc:
                    problems.append(f"{where} over TCP (the UDP answer was truncated): {type(exc).__name__} {exc}")
                    continue
            rcode = reply.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                return DnsReply("NXDOMAIN", reason=f"NXDOMAIN from {where}")
            if rcode != dns.rcode.NOERROR:
                problems.append(f"{where} answered {dns.rcode.to_text(rcode)}")
                if len(problems) >= len(self.servers):
                    return DnsReply(dns.rcode.to_text(rcode), reason="; ".join(problems))
                continue
            try:
                answer = reply.resolve_chaining().answer  # type: ignore[attr-defined]  # follows the CNAMEs in the answer
            except dns.exception.DNSException as exc:
                problems.append(f"{where}: {exc}")
                continue
            addresses = tuple(r.to_text() for r in answer) if answer is not None else ()
            return DnsReply("NOERROR", addresses)
        if problems:
            unanswered = [f"{w}: no answer within {self.lifetime:g} s" for w in silent]
            return DnsReply("ERROR", reason="; ".join(dict.fromkeys(problems + unanswered)))
        return DnsReply("TIMEOUT", reason=f"no answer within {self.lifetime:g} s")

    async def _ask(
        self, server: tuple[str, int], query: dns.message.Message, wait: float
    ) -> dns.message.Message | OSError | None:
        try:
            endpoint = await self._endpoint(server)
        except OSError as exc:  # the kernel has no route to the server (ENETUNREACH): no socket can be opened
            return exc
        async with endpoint.slots:
            while query.id in endpoint.pending:
                query.id = random.getrandbits(16)
            future: asyncio.Future[dns.message.Message | OSError] = asyncio.get_running_loop().create_future()
            endpoint.pending[query.id] = (query, future)
            try:
                assert endpoint.transport is not None
                endpoint.transport.sendto(query.to_wire())
                async with asyncio.timeout(wait):  # a scope, not wait_for: no waiter and callbacks per query
                    return await future
            except TimeoutError:
                return None
            except OSError as exc:
                return exc
            finally:
                endpoint.pending.pop(query.id, None)
