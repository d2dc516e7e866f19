"""HTTP/2, WebSocket and gRPC through the network layer, against real local servers (trustme TLS)."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import trustme
from grpc_health.v1 import health_pb2

from ingresscheck.net import HEALTH_CHECK, Net, Outcome, grpc_status
from ingresscheck.profile import Profile, Thresholds

from .protocol_servers import grpc_health_server, h2_server, websocket_server
from .servers import http_server


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("proto") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _tls(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def _net(ca_file: str) -> Net:
    return Net(Profile(ca_bundle=ca_file, thresholds=Thresholds(timeout=2.0)))


def _who(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"content-type": "text/plain"}, f"h2 {headers.get(':authority')} {headers.get(':path')}".encode()


def test_fetch_speaks_h2_when_alpn_selects_it_and_names_the_protocol(ca: trustme.CA, ca_file: str) -> None:
    # Given a TLS server selecting h2 through ALPN
    with h2_server(_who, _tls(ca, "a.test")) as port:
        # When we fetch a URL there
        attempt = _run(_net(ca_file).fetch("GET", f"https://a.test:{port}/x?y=1", "127.0.0.1"))
    # Then the request went over h2, ALPN says so, and the answer is the server's
    assert attempt.ok, attempt.reason
    assert attempt.tls is not None and attempt.tls.alpn == "h2" and attempt.tls.verified
    assert attempt.response is not None and attempt.response.protocol == "h2"
    assert attempt.response.body == f"h2 a.test:{port} /x?y=1".encode()
    assert attempt.evidence()["tls"]["alpn"] == "h2"


def test_fetch_falls_back_to_http1_when_alpn_selects_it(ca: trustme.CA, ca_file: str) -> None:
    # Given a TLS server that selects only http/1.1
    with h2_server(_who, _tls(ca, "a.test"), alpn=("http/1.1",)) as port:
        net = _net(ca_file)
        # When we offer both, and then h2 alone
        both = _run(net.fetch("GET", f"https://a.test:{port}/", "127.0.0.1"))
        only = _run(net.fetch("GET", f"https://a.test:{port}/", "127.0.0.1", alpn=("h2",)))
    # Then offering both gets HTTP/1.1, insisting on h2 is an http_error that names ALPN's choice
    assert both.ok and both.response is not None and both.response.protocol == "HTTP/1.1"
    assert both.response.body == f"h1 a.test:{port}".encode()
    assert both.tls is not None and both.tls.alpn == "http/1.1"
    assert only.outcome is Outcome.HTTP_ERROR and "did not select h2" in only.reason
    assert "no protocol was selected" in only.reason  # offered h2 alone, the server had nothing to pick


def test_fetch_sends_another_hosts_sni_when_asked(ca: trustme.CA, ca_file: str) -> None:
    # Given an h2 server whose certificate covers a.test only
    with h2_server(_who, _tls(ca, "a.test")) as port:
        # When a connection opened with a.test's SNI is asked for b.test (a coalescing client)
        attempt = _run(_net(ca_file).fetch("GET", f"https://b.test:{port}/", "127.0.0.1", sni="a.test"))
    # Then the handshake verified with a.test, and :authority was b.test
    assert attempt.ok and attempt.subject.sni == "a.test" and attempt.subject.host == "b.test"
    assert attempt.response is not None and attempt.response.body.startswith(b"h2 b.test")


def test_fetch_against_a_closed_port_is_refused_naming_the_address(ca_file: str) -> None:
    # Given nothing listening, when we fetch, then the attempt is refused and names the address
    with h2_server(_who) as port:
        pass
    attempt = _run(_net(ca_file).fetch("GET", f"https://a.test:{port}/", "127.0.0.1"))
    assert attempt.outcome is Outcome.REFUSED and f"127.0.0.1:{port}" in attempt.reason


def test_websocket_upgrade_gets_101_and_the_echo(ca: trustme.CA, ca_file: str) -> None:
    # Given a WebSocket echo server over TLS
    with websocket_server(_tls(ca, "ws.test")) as port:
        # When we upgrade and send a message
        attempt = _run(_net(ca_file).websocket(f"wss://ws.test:{port}/echo", "127.0.0.1", message="ping-7"))
    # Then the handshake is a 101 and the message came back
    assert attempt.ok, attempt.reason
    assert attempt.response is not None and attempt.response.status == 101
    assert attempt.messages == (b"ping-7",)
    assert attempt.tls is not None and attempt.tls.alpn in ("", "http/1.1")


def test_websocket_refused_upgrade_is_the_servers_status_and_no_echo(ca: trustme.CA, ca_file: str) -> None:
    # Given a server refusing upgrades with 403, and a plain HTTPS server that ignores them
    with websocket_server(_tls(ca, "ws.test"), refuse=True) as port:
        refused = _run(_net(ca_file).websocket(f"wss://ws.test:{port}/", "127.0.0.1", message="x"))
    plain = _tls(ca, "ws.test")
    hello = (200, {"Content-Type": "text/plain"}, b"hello")
    with http_server(lambda r: hello, tls=plain, keep_alive=True) as (_, port2):
        ignored = _run(_net(ca_file).websocket(f"wss://ws.test:{port2}/", "127.0.0.1", message="x"))
    # Then each attempt ran and says what came back instead of a 101
    assert refused.ok and refused.response is not None and refused.response.status == 403 and not refused.messages
    assert ignored.ok and ignored.response is not None and ignored.response.status == 200 and not ignored.messages


def test_grpc_health_check_over_h2c_reads_the_status_from_the_message_and_trailers(ca_file: str) -> None:
    # Given a grpcio server with the standard health service
    with grpc_health_server({"": "SERVING", "lab.Echo": "NOT_SERVING"}) as port:
        net = _net(ca_file)
        url = f"http://grpc.test:{port}"

        def check(service: str):  # type: ignore[no-untyped-def]
            request = health_pb2.HealthCheckRequest(service=service).SerializeToString()
            return _run(net.grpc(url, "127.0.0.1", HEALTH_CHECK, request))

        # When we ask for the server, a not-serving service and an unknown one
        whole, down, unknown = check(""), check("lab.Echo"), check("nope")
    # Then the statuses are the servicer's, and the unknown service is gRPC status 5 (NOT_FOUND)
    assert whole.ok and grpc_status(whole) == "0", whole.reason
    assert health_pb2.HealthCheckResponse.FromString(whole.messages[0]).status == 1
    assert health_pb2.HealthCheckResponse.FromString(down.messages[0]).status == 2
    assert unknown.ok and grpc_status(unknown) == "5"


def test_grpc_over_tls_negotiates_h2_and_verifies(ca: trustme.CA, ca_file: str, tmp_path: Path) -> None:
    # Given a grpcio server over TLS
    cert = ca.issue_cert("grpc.test")
    pem = (cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes())
    with grpc_health_server({"": "SERVING"}, tls=pem) as port:
        request = health_pb2.HealthCheckRequest(service="").SerializeToString()
        attempt = _run(_net(ca_file).grpc(f"https://grpc.test:{port}", "127.0.0.1", HEALTH_CHECK, request))
    # Then the call rode h2 over a verified TLS connection and the service is SERVING
    assert attempt.ok and grpc_status(attempt) == "0", attempt.reason
    assert attempt.tls is not None and attempt.tls.alpn == "h2" and attempt.tls.verified
    assert health_pb2.HealthCheckResponse.FromString(attempt.messages[0]).status == 1
