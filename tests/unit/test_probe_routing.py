"""routing probe against a real local HTTPS server standing in for the ingress controller."""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.request
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.discovery import PathRule
from ingresscheck.probes.routing import expected_rule
from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import ingress, one, run_probes
from .servers import dns_server, http_server

HOST = "api.example.test"


@pytest.fixture(scope="module")
def tls_context() -> ssl.SSLContext:
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "*.example.test").configure_cert(ctx)
    return ctx


def _run(handler, tls_context: ssl.SSLContext, *, timeout: float = 2.0, run=None, **inv):  # type: ignore[no-untyped-def]
    """The host api.example.test with rule /v1 -> Service web, served by ``handler`` over TLS."""
    return _run_with(["dns", "routing"], handler, tls_context, timeout=timeout, run=run, **inv)


def _run_with(probes, handler, tls_context: ssl.SSLContext, *, timeout: float = 2.0, run=None, **inv):  # type: ignore[no-untyped-def]
    with http_server(handler, tls=tls_context) as (ip, port), dns_server({}, wildcard={"example.test": ip}) as dns:
        profile = Profile(dns_servers=(dns,), load_balancers=(ip,), https_port=port)
        profile = replace(profile, thresholds=replace(profile.thresholds, timeout=timeout, max_body_bytes=65536))
        return run_probes(probes, profile, [ingress("api", HOST, path="/v1", service="web")], run=run, **inv)


def _echo(service: str):  # type: ignore[no-untyped-def]
    def handler(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.headers["Host"].split(":")[0] != HOST:
            return 404, {}, b"404 page not found\n"
        path = req.path
        if not (path == "/v1" or path.startswith("/v1/")):
            return 404, {}, b"404 page not found\n"
        body = json.dumps({"service": service, "namespace": "demo", "pod": f"{service}-0", "path": path})
        return 200, {"Content-Type": "application/json"}, body.encode()

    return handler


def _service(name: str, pods: dict[str, str], port: int = 8080) -> list[dict[str, object]]:
    """A Service and its EndpointSlice: pod name -> address, like discovery reads them."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-x", "namespace": "demo", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": pod, "namespace": "demo"},
            }
            for pod, ip in pods.items()
        ],
    }
    return [svc, eps]


def _cluster(*services: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    return {"services": [s[0] for s in services], "endpoint_slices": [s[1] for s in services]}


def test_the_named_backend_answering_passes(tls_context: ssl.SSLContext) -> None:
    """Given the echo of pod web-0, an endpoint of Service web, then routing.backend passes by membership."""
    report = _run(_echo("web"), tls_context, **_cluster(_service("web", {"web-0": "10.0.0.1"})))
    backend = one(report, "routing.backend")
    assert backend.status is Status.PASS
    assert "/v1 is served by pod web-0, a ready endpoint of demo/web" in backend.message
    assert backend.subject is not None and backend.subject.startswith("/v1 (Prefix) via 127.0.0.1:")
    assert one(report, "routing.unknown_host").status is Status.PASS
    assert {r.status for r in report.results if r.check == "routing.path_type"} == {Status.PASS}


def test_a_pod_shared_by_two_services_passes_for_both(tls_context: ssl.SSLContext) -> None:
    """Given pod web-0 (which says it serves web) also behind Service web, the rule's Service: pass, not a false
    'another backend answered' because the pod names another Service."""
    report = _run(
        _echo("web-v2"),
        tls_context,
        **_cluster(_service("web", {"web-v2-0": "10.0.0.1"}), _service("web-v2", {"web-v2-0": "10.0.0.1"})),
    )
    backend = one(report, "routing.backend")
    assert backend.status is Status.PASS and "it says it serves web-v2" in backend.message


def test_another_backend_answering_fails_with_both_names(tls_context: ssl.SSLContext) -> None:
    r = one(_run(_echo("other"), tls_context, **_cluster(_service("web", {"web-0": "10.0.0.1"}))), "routing.backend")
    assert r.status is Status.FAIL
    assert "should be served by demo/web (pods web-0) but pod other-0 of other answered" in r.message


def _selectorless(name: str, ip: str, port: int) -> list[dict[str, object]]:
    """A Service without selector and a hand-made slice naming no pod (an external backend, a migration)."""
    svc, eps = _service(name, {"unused": ip}, port)
    for ep in eps["endpoints"]:  # type: ignore[attr-defined]
        del ep["targetRef"]
    return [svc, eps]


def test_a_selectorless_service_passes_by_address_and_agrees_with_static(tls_context: ssl.SSLContext) -> None:
    """Given Service web whose slice names no pod, at an address where pod web-0 answers, when web-0 answers
    through the ingress, then routing.backend and routing.path_type pass by address, and static.endpoints
    counts the same ready endpoint (no 'has no ready endpoint')."""

    def backend(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, json.dumps({"service": "web", "pod": "web-0"}).encode()

    with http_server(backend) as (ip, port):
        report = _run_with(
            ["dns", "routing", "static"], _echo("web"), tls_context, **_cluster(_selectorless("web", ip, port))
        )
    r = one(report, "routing.backend")
    assert r.status is Status.PASS and r.evidence["identified_by"] == "endpoint address", r.message
    assert f"web-0 answers at ready address {ip}:{port}" in r.message
    assert {x.status for x in report.results if x.check == "routing.path_type"} == {Status.PASS}
    static = one(report, "static.endpoints")
    assert static.status is Status.PASS and "has 1 ready endpoint" in static.message


def test_a_selectorless_service_with_another_pod_at_its_address_fails(tls_context: ssl.SSLContext) -> None:
    """Given Service web's only (unnamed) address answering as pod legacy-0, when web-0 answers through the
    ingress, then routing.backend fails: another backend answers."""

    def backend(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, json.dumps({"service": "web", "pod": "legacy-0"}).encode()

    with http_server(backend) as (ip, port):
        r = one(_run(_echo("web"), tls_context, **_cluster(_selectorless("web", ip, port))), "routing.backend")
    assert r.status is Status.FAIL and f"addresses {ip}" in r.message and "pod web-0 of web answered" in r.message


def _anonymous(body: bytes, content_type: str = "text/html"):  # type: ignore[no-untyped-def]
    def handler(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.headers["Host"].split(":")[0] != HOST:
            return 404, {}, b"404 page not found\n"
        return 200, {"Content-Type": content_type}, body

    return handler


def test_a_silent_backend_is_compared_with_its_services_own_endpoint(tls_context: ssl.SSLContext) -> None:
    """Given a static site that says nothing about itself, and the Service's endpoint answering the same, then
    routing.backend passes by comparison; another site behind the Service's name fails."""
    site = b"<html><h1>docs</h1><p>generated 2026-11-30 12:00:01</p></html>"
    with http_server(_anonymous(site.replace(b"12:00:01", b"12:00:02"))) as (ip, port):
        same = one(
            _run(_anonymous(site), tls_context, **_cluster(_service("web", {"web-0": ip}, port))), "routing.backend"
        )
    with http_server(_anonymous(b'{"other": true}', "application/json")) as (ip, port):
        other = one(
            _run(_anonymous(site), tls_context, **_cluster(_service("web", {"web-0": ip}, port))), "routing.backend"
        )
    assert same.status is Status.PASS and "answers like demo/web's endpoint web-0" in same.message
    assert same.evidence["identified_by"] == "comparison"
    assert other.status is Status.FAIL and "another backend answers" in other.message


def test_a_silent_backend_that_cannot_be_compared_is_never_a_plain_pass(tls_context: ssl.SSLContext) -> None:
    r = one(_run(_anonymous(b"<html>hi</html>"), tls_context), "routing.backend")
    assert r.status is Status.WARN and "does not say who it is" in r.message and "not confirmed" in r.message


def test_the_api_servers_service_proxy_stands_in_for_unreachable_endpoints(tls_context: ssl.SSLContext) -> None:
    """Given a silent backend whose endpoint cannot be reached from here, when the run may use the API server's
    service proxy, then its answer is the comparison (pass when alike); when the proxy gives no answer, the
    warning names both reasons and is never a pass."""
    site = b"<html><h1>docs</h1></html>"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # the endpoint: nothing listens there
    cluster = _cluster(_service("web", {"web-0": "127.0.0.1"}, closed))
    asked: list[tuple[str, str, object, str]] = []
    with http_server(_anonymous(site)) as (ip, port):  # the Service, as the API server reaches it

        def proxy(
            namespace: str,
            service: str,
            service_port: object,
            path: str,  # type: ignore[no-untyped-def]
            timeout: float,
        ):
            asked.append((namespace, service, service_port, path))
            request = urllib.request.Request(f"http://{ip}:{port}{path}", headers={"Host": HOST})
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, dict(answer.headers.items()), answer.read()

        alike = one(_run(_anonymous(site), tls_context, run={"service_proxy": proxy}, **cluster), "routing.backend")
    forbidden = "the credentials may not get services/proxy in namespace demo (HTTP 403: forbidden)"
    refused = one(
        _run(_anonymous(site), tls_context, run={"service_proxy": lambda *a: forbidden}, **cluster), "routing.backend"
    )

    assert alike.status is Status.PASS
    assert "answers like demo/web's answer through the API server's service proxy" in alike.message
    # the rule's own path, then routing.path_type's derived paths: each compared the same way
    assert asked[0] == ("demo", "web", "http", "/v1") and {a[:3] for a in asked} == {("demo", "web", "http")}
    assert refused.status is Status.WARN and "not confirmed" in refused.message
    assert "refused" in refused.message and forbidden in refused.message  # the direct try, then the proxy


def test_an_auth_wall_is_not_a_backend(tls_context: ssl.SSLContext) -> None:
    """Given a 401 for the host (wrong or no credentials), then routing.backend could not decide: not a pass."""

    def wall(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 401, {"WWW-Authenticate": 'Basic realm="x"'}, b"401"

    r = one(_run(wall, tls_context), "routing.backend")
    assert r.status is Status.ERROR and "did not reach a backend" in r.message


def test_5xx_names_the_service_and_its_ready_endpoints(tls_context: ssl.SSLContext) -> None:
    """Given a 503 and a Service with no ready endpoints, then the message says so."""

    def unavailable(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 503, {}, b"no available server\n"

    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }
    r = one(_run(unavailable, tls_context, services=[svc]), "routing.backend")
    assert r.status is Status.FAIL
    assert r.message.endswith("503 Service Unavailable: Service demo/web has 0 ready endpoints")


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_502_names_the_refusing_endpoint_port_in_routing_backend_and_path_type_defers_to_it(
    tls_context: ssl.SSLContext,
) -> None:
    """Given a 502 and a Service whose only endpoint's port refuses, then routing.backend names the refused
    address and pod (not "1 ready endpoint"), and routing.path_type does not blame the pathType (issue 26)."""
    port = _closed_port()

    def bad_gateway(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 502, {}, b"Bad Gateway"

    report = _run(bad_gateway, tls_context, **_cluster(_service("web", {"web-0": "127.0.0.1"}, port=port)))
    r = one(report, "routing.backend")
    assert r.status is Status.FAIL
    assert f"connection to 127.0.0.1:{port} (web-0, an endpoint of demo/web) refused" in r.message
    assert r.evidence["cause"]["tried"][0]["outcome"] == "refused"
    paths = {p.subject.split(" via ")[0]: p for p in report.results if p.check == "routing.path_type" and p.subject}
    deeper = paths["/v1/<nonce>"]  # the rule's own path, one element deeper: the failing backend's
    assert deeper.status is Status.SKIP and "routing.backend names the cause" in deeper.message
    assert paths["/v1<nonce>"].status is Status.WARN  # a partial element must get 404: this one was routed


def test_a_503_for_a_service_port_that_does_not_exist_names_the_port(tls_context: ssl.SSLContext) -> None:
    """Given a 503 and a Service that has no port 80 (the rule's), then routing.backend names the missing port
    and the ports the Service has."""

    def unavailable(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 503, {}, b"no available server\n"

    svc, eps = _service("web", {"web-0": "127.0.0.1"})
    svc["spec"] = {"ports": [{"name": "http", "port": 8080}]}
    r = one(_run(unavailable, tls_context, **_cluster([svc, eps])), "routing.backend")
    assert r.status is Status.FAIL
    assert r.message.endswith("503 Service Unavailable: Service demo/web has no port 80 (its ports: 8080/http)")


def test_a_backend_that_never_answers_is_an_error_within_the_timeout(tls_context: ssl.SSLContext) -> None:
    """Given a server that stalls, then the check could not decide (error), bounded by the timeout."""

    def stall(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(3)
        return 200, {}, b""

    started = time.monotonic()
    report = _run(stall, tls_context, timeout=0.5)
    assert time.monotonic() - started < 10
    r = one(report, "routing.unknown_host")
    assert r.status is Status.ERROR and "no response from 127.0.0.1:" in r.message and "within 0.5 s" in r.message


def test_a_backend_answering_like_an_unknown_host_fell_through(tls_context: ssl.SSLContext) -> None:
    """Given the same anonymous answer for the host and an unknown host, then the default backend served it."""

    def same(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, b"default backend\n"

    r = one(_run(same, tls_context), "routing.backend")
    assert r.status is Status.FAIL and "fell through to the default backend" in r.message


def test_a_huge_response_is_read_only_up_to_the_bound(tls_context: ssl.SSLContext) -> None:
    """Given an 8 MB response, then the probe reads a bounded amount and still decides."""

    def huge(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.headers["Host"].split(":")[0] != HOST:
            return 404, {}, b"404 page not found\n"
        return 200, {}, b"x" * (8 << 20)

    r = one(_run(huge, tls_context), "routing.backend")
    assert r.evidence["response"]["body_truncated"] is True
    assert 65536 <= r.evidence["response"]["body_bytes"] < (1 << 20)  # stopped reading soon after the bound
    assert r.status is Status.WARN and "does not say who it is" in r.message


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/v1", "api"),
        ("/v1/x", "api"),
        ("/v1x", None),
        ("/healthz", "health"),
        ("/healthz/x", None),
        ("/docs/a/b", "docs"),
        ("/", None),
    ],
)
def test_expected_rule_follows_the_ingress_api(path: str, expected: str | None) -> None:
    rules = [
        ("demo", PathRule("/v1", "Prefix", "api", 80)),
        ("demo", PathRule("/healthz", "Exact", "health", 80)),
        ("demo", PathRule("/docs/", "Prefix", "docs", 80)),
    ]
    found = expected_rule(rules, path)
    assert (found[1].service if found else None) == expected


def test_longest_prefix_wins() -> None:
    rules = [("demo", PathRule("/", "Prefix", "root", 80)), ("demo", PathRule("/api", "Prefix", "api", 80))]
    assert expected_rule(rules, "/api/x")[1].service == "api"  # type: ignore[index]
    assert expected_rule(rules, "/apix")[1].service == "root"  # type: ignore[index]


def test_a_host_with_basic_auth_and_no_credentials_skips(tls_context: ssl.SSLContext, tmp_path: Path) -> None:
    with http_server(_echo("web"), tls=tls_context) as (ip, port), dns_server({HOST: [ip]}) as dns:
        profile = Profile(dns_servers=(dns,), https_port=port)
        ing = ingress("api", HOST, path="/v1", annotations={"nginx.ingress.kubernetes.io/auth-type": "basic"})
        report = run_probes(["dns", "routing"], profile, [ing])
    r = one(report, "routing.backend")
    assert r.status is Status.SKIP and "asks for basic auth" in r.message


def test_header_matches_decide_between_rules_of_the_same_path() -> None:
    """Given two HTTPRoute rules on /docs, one requiring a header: a request without it gets the other rule."""
    rules = [
        ("demo", PathRule("/docs", "Prefix", "api-docs", 80, headers=(("X-Docs-Version", "v2"),))),
        ("demo", PathRule("/docs", "Prefix", "shop", 80)),
    ]
    assert expected_rule(rules, "/docs/a")[1].service == "shop"  # type: ignore[index]
    assert expected_rule(rules, "/docs/a", (("x-docs-version", "v2"),))[1].service == "api-docs"  # type: ignore[index]
