"""The network layer against real local servers: every outcome typed, every attempt naming its subject."""

from __future__ import annotations

import asyncio
import socket
import ssl
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.net import Attempt, Net, Outcome
from ingresscheck.profile import Profile, Thresholds

from .servers import dns_server, http_server, silent_server


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def _profile(**kw: object) -> Profile:
    thresholds = Thresholds(timeout=float(kw.pop("timeout", 2.0)))  # type: ignore[arg-type]
    return Profile(thresholds=thresholds, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("net") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def _echo(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/plain"}, f"{req.headers['Host']} {req.path}".encode()


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_plain_http_attempt_names_its_subject_and_times_each_phase() -> None:
    # Given a plain HTTP server, when we send a request to its address for another Host
    with http_server(_echo) as (ip, port):
        attempt = _run(_request(Net(_profile()), f"http://shop.example.test:{port}/a?b=1", ip))
    # Then the attempt is ok, names address, port, Host and URL, and has the phases
    assert attempt.ok and attempt.status == 200
    s = attempt.subject
    assert s.address == ip and s.port == port and s.host == "shop.example.test"
    assert attempt.response is not None and attempt.response.body == f"shop.example.test:{port} /a?b=1".encode()
    assert {"connect", "request", "wait", "transfer", "total"} <= set(attempt.timings)
    assert attempt.evidence()["request"]["address"] == ip


async def _request(net: Net, url: str, address: str, **kw: object):  # type: ignore[no-untyped-def]
    try:
        return await net.request("GET", url, address, **kw)  # type: ignore[arg-type]
    finally:
        await net.aclose()


def test_refused_port_is_refused_not_timeout() -> None:
    attempt = _run(_request(Net(_profile()), f"http://x.test:{_free_port()}/", "127.0.0.1"))
    assert attempt.outcome is Outcome.REFUSED and attempt.phase == "connect"
    assert "127.0.0.1" in attempt.reason


def test_silent_tls_port_is_a_timeout_in_the_tls_phase() -> None:
    with silent_server() as port:
        attempt = _run(_request(Net(_profile(timeout=0.5)), f"https://x.test:{port}/", "127.0.0.1"))
    assert attempt.outcome is Outcome.TIMEOUT and attempt.phase == "tls"
    assert "ClientHello" in attempt.reason and f"127.0.0.1:{port}" in attempt.reason


def test_silent_http_port_is_a_timeout_waiting_for_the_response() -> None:
    with silent_server() as port:
        attempt = _run(_request(Net(_profile(timeout=0.5)), f"http://x.test:{port}/", "127.0.0.1"))
    assert attempt.outcome is Outcome.TIMEOUT and attempt.phase == "wait"


def test_https_carries_the_tls_facts_and_verifies_against_the_bundle(ca: trustme.CA, ca_file: str) -> None:
    with http_server(_echo, tls=_server_context(ca, "shop.example.test")) as (ip, port):
        attempt = _run(_request(Net(_profile(ca_bundle=ca_file)), f"https://shop.example.test:{port}/", ip))
    assert attempt.ok and attempt.tls is not None
    assert attempt.tls.verified and attempt.tls.version.startswith("TLSv1.")
    assert len(attempt.tls.chain) >= 1 and attempt.subject.sni == "shop.example.test"


def test_untrusted_chain_still_answers_and_says_why(ca: trustme.CA) -> None:
    # Given a server whose CA is not in the (system) trust store
    with http_server(_echo, tls=_server_context(ca, "shop.example.test")) as (ip, port):
        attempt = _run(_request(Net(_profile()), f"https://shop.example.test:{port}/", ip))
    # Then the request still went through (verdicts are the probe's) and the chain's verdict is recorded
    assert attempt.ok and attempt.tls is not None and not attempt.tls.verified
    assert attempt.tls.verify_code != 0 and attempt.tls.verify_reason


def test_keep_alive_reuses_one_tls_connection_per_address_and_sni(ca: trustme.CA, ca_file: str) -> None:
    async def main() -> tuple[list[bool], int]:
        net = Net(_profile(ca_bundle=ca_file))
        try:
            attempts = [await net.request("GET", f"https://shop.example.test:{port}/{i}", ip) for i in range(4)]
            other = await net.request("GET", f"https://api.example.test:{port}/", ip)
            assert other.ok and not other.reused  # another SNI never rides that connection
            return [a.reused for a in attempts], net.dials
        finally:
            await net.aclose()

    server = _server_context(ca, "shop.example.test", "api.example.test")
    with http_server(_echo, tls=server, keep_alive=True) as (ip, port):
        reused, dials = _run(main())
    assert reused == [False, True, True, True] and dials == 2


def test_a_huge_body_is_cut_and_bounded(ca: trustme.CA) -> None:
    big = b"x" * (20 * 1024 * 1024)
    with http_server(lambda req: (200, {}, big)) as (ip, port):
        attempt = _run(_request(Net(_profile()), f"http://x.test:{port}/", ip, max_body=1000))
    assert attempt.ok and attempt.response is not None
    assert len(attempt.response.body) == 1000 and attempt.response.truncated
    assert attempt.response.body_bytes < len(big)  # the rest was not read


def test_idn_and_uppercase_hosts_never_raise_encoding_errors() -> None:
    with http_server(_echo) as (ip, port):
        a = _run(_request(Net(_profile()), f"http://bücher.example.test:{port}/ä", ip))
        b = _run(_request(Net(_profile()), f"http://xn--bcher-kva.example.test:{port}/", ip))
    assert a.ok and b.ok
    assert a.response is not None and a.response.body.startswith(b"xn--bcher-kva.example.test")


def test_dns_outcomes(tmp_path: Path) -> None:
    with dns_server({"shop.example.test": ["127.0.0.10"]}) as (ip, port):
        profile = _profile(dns_servers=[(ip, port)])

        async def main():  # type: ignore[no-untyped-def]
            net = Net(profile)
            try:
                return await net.lookup("shop.example.test"), await net.lookup("nope.example.test")
            finally:
                await net.aclose()

        ok, nx = _run(main())
    assert ok.ok and ok.dns is not None and ok.dns.addresses == ("127.0.0.10",)
    assert nx.outcome is Outcome.NXDOMAIN and "NXDOMAIN" in nx.reason


def test_dns_server_down_is_a_timeout_naming_the_resolver() -> None:
    port = _free_port()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))  # bound, never answers

    async def main() -> Attempt:
        net = Net(_profile(dns_servers=[("127.0.0.1", port)], timeout=0.5))
        try:
            return await net.lookup("a.test")
        finally:
            await net.aclose()

    try:
        attempt = _run(main())
    finally:
        sock.close()
    assert attempt.outcome is Outcome.TIMEOUT and f"127.0.0.1:{port}" in attempt.reason


def test_tcp_connect_outcomes() -> None:
    async def main(port: int):  # type: ignore[no-untyped-def]
        return await Net(_profile()).connect("127.0.0.1", port)

    with http_server(_echo) as (_, port):
        assert _run(main(port)).ok
    assert _run(main(_free_port())).outcome is Outcome.REFUSED
