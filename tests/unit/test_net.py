"""The network layer against real local servers: every outcome typed, every attempt naming its subject."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
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


async def _all(net: Net, *calls: Callable[[Net], Awaitable[Attempt]]) -> list[Attempt]:
    """Each call in turn on one Net, closed at the end."""
    try:
        return [await call(net) for call in calls]
    finally:
        await net.aclose()


def test_a_raw_target_reaches_the_wire_byte_for_byte() -> None:
    # Given a server that echoes the request line's target (http.server's own ``path`` merges a leading //)
    def line(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, f"{req.headers['Host']} {req.requestline.split()[1]}".encode()

    targets = ("//v1", "/./v1", "/v1%2Fx")
    with http_server(line) as (ip, port):
        # When targets that URL libraries rewrite are sent raw, on a port given apart from the URL
        got = _run(
            _all(
                Net(_profile()),
                *(lambda n, t=t: n.request("GET", "http://h.test/", ip, target=t, port=port) for t in targets),
            )
        )
    # Then the server saw each exactly as written, and Host stayed the URL's
    assert [a.response.body.decode() for a in got if a.response] == ["h.test //v1", "h.test /./v1", "h.test /v1%2Fx"]
    assert got[0].subject.url == "http://h.test//v1" and got[0].subject.port == port


def test_a_target_that_cannot_be_sent_is_an_attempt_not_an_exception() -> None:
    attempt = _run(_request(Net(_profile()), "http://h.test/", "127.0.0.1", target="/a b\r\nX: y"))
    assert attempt.outcome is Outcome.HTTP_ERROR and "cannot be sent" in attempt.reason


def test_a_body_is_sent_and_an_early_413_is_still_heard() -> None:
    # Given a server that reads small bodies and refuses large ones without reading them
    def limit(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        size = int(req.headers.get("Content-Length") or 0)
        if size > 1024:
            req.close_connection = True
            return 413, {"Connection": "close"}, b"too large"
        return 200, {}, f"got {len(req.rfile.read(size))}".encode()

    with http_server(limit, keep_alive=True, answer_before_continue=True) as (ip, port):
        url = f"http://h.test:{port}/"
        small, large = _run(
            _all(
                Net(_profile()),
                lambda n: n.request("POST", url, ip, body=b"x" * 100),
                lambda n: n.request("POST", url, ip, body=b"x" * (4 * 1024 * 1024)),
            )
        )
    # Then the small body arrived whole (after 100 Continue) and the large one got its 413, not a reset
    assert small.response is not None and small.response.body == b"got 100"
    assert large.ok and large.status == 413, large.reason


def test_alpn_offered_is_settled_and_carried_in_the_tls_facts(ca: trustme.CA, ca_file: str) -> None:
    # Given a TLS server that speaks h2 and http/1.1 through ALPN
    server = _server_context(ca, "h.test")
    server.set_alpn_protocols(["h2", "http/1.1"])
    with http_server(_echo, tls=server) as (ip, port):
        offered, plain = _run(
            _all(
                Net(_profile(ca_bundle=ca_file)),
                lambda n: n.handshake(ip, port, "h.test", context=n.context(alpn=("h2", "http/1.1"))),
                lambda n: n.handshake(ip, port, "h.test"),
            )
        )
    # Then the protocol agreed is in the facts of that handshake only
    assert offered.tls is not None and offered.tls.alpn == "h2" and offered.tls.verified
    assert plain.tls is not None and plain.tls.alpn == ""


def _peer(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    """Echo who connected: the client's address and, over TLS, its certificate's common name."""
    cert = req.connection.getpeercert() if isinstance(req.connection, ssl.SSLSocket) else None
    cn = dict(x[0] for x in cert["subject"]).get("commonName", "") if cert else ""
    return 200, {"Content-Type": "text/plain"}, f"{req.client_address[0]} {cn}".encode()


def test_a_source_address_is_sent_from_and_named_and_never_shares_a_connection() -> None:
    async def main() -> tuple[Attempt, Attempt, Attempt]:
        net = Net(_profile())
        try:
            one = await net.request("GET", f"http://a.example.test:{port}/", ip, source="127.0.0.5")
            other = await net.request("GET", f"http://a.example.test:{port}/", ip, source="127.0.0.6")
            again = await net.request("GET", f"http://a.example.test:{port}/", ip, source="127.0.0.5")
            return one, other, again
        finally:
            await net.aclose()

    # Given a server that echoes the client's address
    with http_server(_peer, keep_alive=True) as (ip, port):
        one, other, again = _run(main())
    # Then each request came from its own source, a kept-alive connection served only its own source
    assert one.response is not None and one.response.body.startswith(b"127.0.0.5 ")
    assert other.response is not None and other.response.body.startswith(b"127.0.0.6 ") and not other.reused
    assert again.reused and one.subject.source == "127.0.0.5"
    assert one.evidence()["request"]["source"] == "127.0.0.5"


def test_a_source_address_this_machine_lacks_is_unreachable_naming_it() -> None:
    # 192.0.2.1 (TEST-NET-1) is no local address: binding fails before anything is sent
    attempt = _run(_request(Net(_profile()), "http://a.example.test:9/", "127.0.0.1", source="192.0.2.1"))
    assert attempt.outcome is Outcome.UNREACHABLE
    assert attempt.reason == "cannot send from 192.0.2.1: not an address of this machine"


def test_a_client_certificate_is_offered_when_the_server_requires_one(ca: trustme.CA, ca_file: str) -> None:
    from ingresscheck.net import ClientIdentity

    # Given a server that requires a client certificate from the client CA
    clients = trustme.CA()
    server = _server_context(ca, "mtls.example.test")
    server.verify_mode = ssl.CERT_REQUIRED
    clients.configure_trust(server)
    leaf = clients.issue_cert("lab-client@example.test", common_name="lab client")
    good = ClientIdentity("the lab client", leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())
    stranger_leaf = trustme.CA().issue_cert("x@example.test", common_name="stranger")
    stranger = ClientIdentity(
        "a stranger", stranger_leaf.cert_chain_pems[0].bytes(), stranger_leaf.private_key_pem.bytes()
    )

    async def main() -> list[Attempt]:
        net = Net(_profile(ca_bundle=ca_file))
        url = f"https://mtls.example.test:{port}/"
        try:
            return [
                await net.request("GET", url, ip, identity=None, keep_alive=False),
                await net.request("GET", url, ip, identity=stranger, keep_alive=False),
                await net.request("GET", url, ip, identity=good, keep_alive=False),
            ]
        finally:
            await net.aclose()

    with http_server(_peer, tls=server) as (ip, port):
        none, other, ok = _run(main())
    # Then without one, and with another CA's, the server refuses it in the handshake; with the good one it answers
    assert none.outcome in (Outcome.TLS_ERROR, Outcome.RESET) and other.outcome in (Outcome.TLS_ERROR, Outcome.RESET)
    assert ok.ok and ok.response is not None and ok.response.body.endswith(b" lab client")
    assert ok.subject.client_cert == "the lab client" and "BEGIN" not in repr(good)  # never the key, not in repr


def test_fetch_sends_from_the_source_and_offers_the_client_certificate(ca: trustme.CA, ca_file: str) -> None:
    from ingresscheck.net import ClientIdentity

    # Given a server that requires a client certificate and echoes the client's address and certificate
    clients = trustme.CA()
    server = _server_context(ca, "mtls.example.test")
    server.verify_mode = ssl.CERT_REQUIRED
    clients.configure_trust(server)
    leaf = clients.issue_cert("lab-client@example.test", common_name="lab client")
    good = ClientIdentity("the lab client", leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())

    async def main() -> tuple[Attempt, Attempt]:
        net = Net(_profile(ca_bundle=ca_file))
        url = f"https://mtls.example.test:{port}/"
        try:
            without = await net.fetch("GET", url, ip, alpn=("http/1.1",))
            return without, await net.fetch("GET", url, ip, alpn=("http/1.1",), source="127.0.0.7", identity=good)
        finally:
            await net.aclose()

    with http_server(_peer, tls=server) as (ip, port):
        without, fetched = _run(main())
    # When fetched without one it is refused; with one, from the chosen source, it is served and both are named
    assert not without.ok
    assert fetched.ok and fetched.response is not None and fetched.response.body == b"127.0.0.7 lab client"
    assert fetched.subject.source == "127.0.0.7" and fetched.subject.client_cert == "the lab client"
