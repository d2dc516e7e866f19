"""The run's stub resolver against real UDP/TCP DNS servers: one socket for all questions, answers matched
to their questions, CNAME chains, truncation, and servers that fail or stay silent."""

from __future__ import annotations

import asyncio

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from ingresscheck.net import Attempt, Net, Outcome
from ingresscheck.profile import Profile, Thresholds

from .servers import DnsScript, scripted_dns


def _reply(query: dns.message.Message, *records: tuple[str, str, str]) -> dns.message.Message:
    """A NOERROR answer to ``query`` holding ``records`` ((name, type, data)...)."""
    resp = dns.message.make_response(query)
    for name, rdtype, data in records:
        resp.answer.append(dns.rrset.from_text(name, 30, "IN", rdtype, data))
    return resp


def _a_only(address: str):  # type: ignore[no-untyped-def]
    def answer(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        q = query.question[0]
        if q.rdtype == dns.rdatatype.A:
            return [_reply(query, (q.name.to_text(), "A", address))]
        return [_reply(query)]

    return answer


def _lookup(servers: list[DnsScript], *names: str, timeout: float = 2.0) -> list[Attempt]:
    profile = Profile(dns_servers=tuple((s.ip, s.port) for s in servers), thresholds=Thresholds(timeout=timeout))

    async def main() -> list[Attempt]:
        net = Net(profile)
        try:
            return list(await asyncio.gather(*(net.lookup(n) for n in names)))
        finally:
            await net.aclose()

    return asyncio.run(main())


def test_concurrent_questions_share_one_socket_and_each_gets_its_own_answer() -> None:
    def answer(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        q = query.question[0]
        n = int(q.name.labels[0].decode().removeprefix("h"))
        if q.rdtype == dns.rdatatype.A:
            return [_reply(query, (q.name.to_text(), "A", f"127.0.{n // 250}.{n % 250 + 1}"))]
        return [_reply(query)]

    with scripted_dns(answer) as server:
        attempts = _lookup([server], *(f"h{n}.example.test" for n in range(500)), timeout=10)
    assert [a.dns.addresses for a in attempts if a.dns] == [(f"127.0.{n // 250}.{n % 250 + 1}",) for n in range(500)]
    assert len(server.peers) == 1000 and len(set(server.peers)) == 1  # A and AAAA each, from one socket


def test_a_cname_chain_in_the_answer_is_followed() -> None:
    def answer(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        q = query.question[0]
        if q.rdtype != dns.rdatatype.A:
            return [_reply(query, (q.name.to_text(), "CNAME", "lb.example.test."))]
        return [_reply(query, (q.name.to_text(), "CNAME", "lb.example.test."), ("lb.example.test.", "A", "127.0.0.10"))]

    with scripted_dns(answer) as server:
        (attempt,) = _lookup([server], "shop.example.test")
    assert attempt.ok and attempt.dns is not None and attempt.dns.addresses == ("127.0.0.10",)


def test_an_answer_to_another_question_is_not_taken() -> None:
    """Given a reply with the query's ID but another name first, then the real one, then the real one counts."""

    def answer(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        forged = dns.message.make_query("evil.example.test", "A")
        forged.id = query.id
        forged_reply = _reply(forged, ("evil.example.test.", "A", "127.0.0.66"))
        return [forged_reply, b"\x00", _a_only("127.0.0.10")(query, transport)[0]]

    with scripted_dns(answer) as server:
        (attempt,) = _lookup([server], "shop.example.test")
    assert attempt.ok and attempt.dns is not None and attempt.dns.addresses == ("127.0.0.10",)


def test_a_truncated_answer_is_asked_again_over_tcp() -> None:
    def answer(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        if transport == "udp":
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.TC
            return [resp]
        return _a_only("127.0.0.10")(query, transport)

    with scripted_dns(answer) as server:
        (attempt,) = _lookup([server], "shop.example.test")
    assert attempt.ok and attempt.dns is not None and attempt.dns.addresses == ("127.0.0.10",)
    assert server.tcp_queries == 2


def test_servfail_from_one_server_asks_the_next_and_from_all_is_an_error_naming_them() -> None:
    def servfail(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        resp = dns.message.make_response(query)
        resp.set_rcode(dns.rcode.SERVFAIL)
        return [resp]

    with scripted_dns(servfail) as bad, scripted_dns(_a_only("127.0.0.10")) as good:
        (helped,) = _lookup([bad, good], "shop.example.test")
        (failed,) = _lookup([bad], "shop.example.test")
    assert helped.ok and helped.dns is not None and helped.dns.addresses == ("127.0.0.10",)
    assert failed.outcome is Outcome.DNS_ERROR and failed.dns is not None and failed.dns.rcode == "SERVFAIL"
    assert f"{bad.ip}:{bad.port} answered SERVFAIL" in failed.reason


def test_a_silent_server_is_passed_over_and_nxdomain_is_final() -> None:
    def nxdomain(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        resp = dns.message.make_response(query)
        resp.set_rcode(dns.rcode.NXDOMAIN)
        return [resp]

    with (
        scripted_dns(lambda q, t: []) as silent,
        scripted_dns(_a_only("127.0.0.10")) as good,
        scripted_dns(nxdomain) as nx,
    ):
        (late,) = _lookup([silent, good], "shop.example.test", timeout=3)
        (gone,) = _lookup([nx, good], "shop.example.test")
        (nothing,) = _lookup([silent], "shop.example.test", timeout=0.4)
    assert late.ok and late.dns is not None and late.dns.addresses == ("127.0.0.10",)
    assert gone.outcome is Outcome.NXDOMAIN and f"NXDOMAIN from {nx.ip}:{nx.port}" in gone.reason
    assert nothing.outcome is Outcome.TIMEOUT and f"{silent.ip}:{silent.port}" in nothing.reason


def test_a_refusing_port_is_an_error_at_once_not_a_timeout() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = DnsScript("127.0.0.1", port)  # nothing listens there: the kernel answers ICMP port unreachable
    (attempt,) = _lookup([closed], "shop.example.test", timeout=5)
    assert attempt.outcome is Outcome.DNS_ERROR and f"127.0.0.1:{port} refused the query" in attempt.reason
    assert attempt.timings["dns"] < 2000, "a refused socket must not wait for the lifetime"


def test_a_silent_server_next_to_a_refusing_one_is_named_too() -> None:
    """Given one server that never answers and one whose port is closed, then the error names both, each
    with what it did."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = DnsScript("127.0.0.1", port)
    with scripted_dns(lambda q, t: []) as silent:
        (attempt,) = _lookup([silent, closed], "shop.example.test", timeout=1.5)
    assert attempt.outcome is Outcome.DNS_ERROR
    assert f"127.0.0.1:{port} refused the query" in attempt.reason
    assert f"{silent.ip}:{silent.port}: no answer within 1.5 s" in attempt.reason
    assert attempt.reason.count("refused the query") == 1  # said once, however often it was asked
