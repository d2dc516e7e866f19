"""redirect probe against a real local HTTP server with scripted Location headers."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import ingress, one, run_probes
from .servers import dns_server, http_server


def _run(handler, host: str = "api.example.test", path: str = "/v1"):  # type: ignore[no-untyped-def]
    with http_server(handler, ip="127.0.0.1") as (ip, port), dns_server({host: [ip]}) as dns:
        profile = Profile(dns_servers=(dns,), load_balancers=(ip,), http_port=port)
        return run_probes(["dns", "redirect"], profile, [ingress("api", host, path=path)])


def _https_same(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    if req.headers["Host"].startswith("api.example.test"):
        return 302, {"Location": f"https://api.example.test{req.path}"}, b""
    return 404, {}, b""


def test_a_faithful_redirect_passes() -> None:
    """Given 302 to https with host, path and query kept, then redirect.https passes."""
    report = _run(_https_same)
    r = one(report, "redirect.https")
    assert r.status is Status.PASS, r.message
    assert r.evidence["location"].startswith("https://api.example.test/v1?ingresscheck=")
    assert "timings_ms" in r.evidence and "connect" in r.evidence["timings_ms"]


def test_dropping_the_query_names_expected_and_got() -> None:
    """Given a Location without the query, then the message shows expected and got URLs."""

    def drop(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": "https://api.example.test" + req.path.split("?")[0]}, b""

    r = one(_run(drop), "redirect.https")
    assert r.status is Status.FAIL
    assert r.message.startswith("Location drops the query string: expected https://api.example.test/v1?ingresscheck=")
    assert "got https://api.example.test/v1 (via 127.0.0.1:" in r.message and r.subject.startswith("127.0.0.1:")


def test_no_redirect_fails_with_the_status_seen() -> None:
    def ok(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Server": "backend"}, b"hello"

    r = one(_run(ok), "redirect.https")
    assert r.status is Status.FAIL and "answered 200 OK instead of redirecting" in r.message


def test_a_redirect_to_another_domain_fails() -> None:
    def away(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 301, {"Location": "https://login.elsewhere.test/"}, b""

    r = one(_run(away), "redirect.https")
    assert r.status is Status.FAIL and "redirects to another host" in r.message


def test_the_default_port_in_location_fails() -> None:
    def port(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 308, {"Location": f"https://api.example.test:443{req.path}"}, b""

    assert "default port :443" in one(_run(port), "redirect.https").message


def test_a_redirect_loop_is_found_and_explained() -> None:
    """Given two URLs redirecting to each other, then redirect.loop fails with the chain."""

    def loop(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        nxt = "/b" if req.path.startswith("/a") else "/a"
        return 302, {"Location": f"http://api.example.test:{req.server.server_address[1]}{nxt}"}, b""

    report = _run(loop, path="/a")
    r = one(report, "redirect.loop")
    assert r.status is Status.FAIL and r.message.startswith("redirect loop starting at 127.0.0.1:")
    assert "/a" in r.message and "/b" in r.message
    assert one(report, "redirect.https").status is Status.FAIL  # it does not go to https either


def test_server_header_tells_who_redirected() -> None:
    def nginx(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 308, {"Location": f"https://api.example.test{req.path}", "Via": "1.1 edge-lb"}, b""

    r = one(_run(nginx), "redirect.https")
    assert "via: 1.1 edge-lb" in r.message


def test_no_redirect_expected_when_neither_lb_nor_ingress_asks() -> None:
    """Given lb_redirects false and no ssl-redirect, then the checks skip; force-ssl-redirect makes it expected."""
    from ingresscheck.discovery import targets_of

    plain = targets_of([ingress("a", "a.test")])[0]
    force = {"nginx.ingress.kubernetes.io/force-ssl-redirect": "true"}
    forced = targets_of([ingress("b", "b.test", annotations=force)])[0]
    tls = targets_of([ingress("c", "c.test", tls_secret="c-tls")])[0]
    opted_out = targets_of(
        [ingress("d", "d.test", tls_secret="d-tls", annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "false"})]
    )[0]
    assert [t.redirect_expected(False) for t in (plain, forced, tls, opted_out)] == [False, True, True, False]
    assert all(t.redirect_expected(True) for t in (plain, forced, tls, opted_out))

    def ok(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, b"plain http site"

    with http_server(ok) as (ip, port), dns_server({"a.test": [ip]}) as dns:
        profile = Profile(dns_servers=(dns,), http_port=port, lb_redirects=False)
        report = run_probes(["dns", "redirect"], profile, [ingress("a", "a.test")])
    r = one(report, "redirect.https")
    assert r.status is Status.SKIP and "lb_redirects: false" in r.message
