"""routing probe against a real local HTTPS server standing in for the ingress controller."""

from __future__ import annotations

import json
import ssl
import time
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


def _run(handler, tls_context: ssl.SSLContext, *, timeout: float = 2.0, **inv):  # type: ignore[no-untyped-def]
    """The host api.example.test with rule /v1 -> Service web, served by ``handler`` over TLS."""
    with http_server(handler, tls=tls_context) as (ip, port), dns_server({}, wildcard={"example.test": ip}) as dns:
        profile = Profile(dns_servers=(dns,), load_balancers=(ip,), https_port=port)
        profile = replace(profile, thresholds=replace(profile.thresholds, timeout=timeout, max_body_bytes=65536))
        return run_probes(["dns", "routing"], profile, [ingress("api", HOST, path="/v1", service="web")], **inv)


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


def test_the_named_backend_answering_passes(tls_context: ssl.SSLContext) -> None:
    """Given the echo of Service web, then routing.backend passes and element-wise Prefix holds."""
    report = _run(_echo("web"), tls_context)
    backend = one(report, "routing.backend")
    assert backend.status is Status.PASS and backend.message.endswith("/v1 is served by demo/web (pod web-0)")
    assert one(report, "routing.unknown_host").status is Status.PASS
    assert {r.status for r in report.results if r.check == "routing.path_type"} == {Status.PASS}


def test_another_backend_answering_fails_with_both_names(tls_context: ssl.SSLContext) -> None:
    r = one(_run(_echo("other"), tls_context), "routing.backend")
    assert r.status is Status.FAIL and "should be served by demo/web but demo/other (pod other-0) answered" in r.message


def test_5xx_names_the_service_and_its_ready_endpoints(tls_context: ssl.SSLContext) -> None:
    """Given a 503 and a Service with no ready endpoints, then the message says so."""
    def unavailable(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 503, {}, b"no available server\n"

    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"},
           "spec": {"ports": [{"name": "http", "port": 80}]}}
    r = one(_run(unavailable, tls_context, services=[svc]), "routing.backend")
    assert r.status is Status.FAIL
    assert r.message.endswith("503 Service Unavailable: Service demo/web has 0 ready endpoints")


def test_a_backend_that_never_answers_is_an_error_within_the_timeout(tls_context: ssl.SSLContext) -> None:
    """Given a server that stalls, then the check could not decide (error), bounded by the timeout."""
    def stall(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        time.sleep(3)
        return 200, {}, b""

    started = time.monotonic()
    report = _run(stall, tls_context, timeout=0.5)
    assert time.monotonic() - started < 10
    r = one(report, "routing.unknown_host")
    assert r.status is Status.ERROR and "ReadTimeout" in r.message


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
    assert r.evidence["response"]["body_bytes"] == 65536
    assert r.status is Status.PASS and "does not say who it is" in r.message


@pytest.mark.parametrize("path, expected", [
    ("/v1", "api"), ("/v1/x", "api"), ("/v1x", None), ("/healthz", "health"), ("/healthz/x", None),
    ("/docs/a/b", "docs"), ("/", None),
])
def test_expected_rule_follows_the_ingress_api(path: str, expected: str | None) -> None:
    rules = [("demo", PathRule("/v1", "Prefix", "api", 80)), ("demo", PathRule("/healthz", "Exact", "health", 80)),
             ("demo", PathRule("/docs/", "Prefix", "docs", 80))]
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
