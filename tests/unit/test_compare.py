"""ingresscheck compare against two small real data planes (HTTP + TLS servers on loopback).

Given two data planes that serve the same hosts, one of them changed in one way, when the comparison
runs, then the difference is found and classified as a migration would feel it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.compare import (
    BREAKING,
    CHANGED,
    COSMETIC,
    Observation,
    ParityReport,
    Request,
    Severity,
    Side,
    SideHosts,
    classify,
    requests_for,
    support_table,
    to_dict,
    write_reports,
)
from ingresscheck.compare._engine import run
from ingresscheck.compare._expect import Expectation
from ingresscheck.discovery.model import PathRule, Target
from ingresscheck.net import Attempt, HttpResponse, Outcome, Subject
from ingresscheck.profile import Credential, Profile

from .servers import http_server

HOST = "api.example.test"
AUTH_HOST = "wp.example.test"
PASSWORD = "s3cret-pw"
REALM = 'Basic realm="WordPress"'


@dataclass
class Plane:
    """How a fake data plane behaves; each field is one thing a migration can change. The defaults are
    ingress-nginx's: HSTS, h2, a 1 MiB body limit, a generated X-Request-ID, ACME challenges over http."""

    routes: dict[str, str] = field(default_factory=lambda: {"/v1": "api", "/docs": "docs"})
    protect: str | None = AUTH_HOST  # the host behind basic auth
    realm: str = REALM
    redirect_code: int = 302  # plain http -> https
    redirect_https: bool = True
    case_insensitive: bool = False
    slash_redirect: bool = False  # /docs/ -> 301 /docs
    hsts: str | None = "max-age=15724800; includeSubDomains"
    body_limit: int | None = 1024 * 1024
    request_id: bool = True
    acme_over_http: bool = True
    trusts_forwarded_proto: bool = False
    strips_identity: bool = True

    def answer(self, req: BaseHTTPRequestHandler, tls: bool) -> tuple[int, dict[str, str], bytes]:
        host = (req.headers.get("Host") or "").split(":")[0]
        path = req.requestline.split()[1].split("?")[0]
        if not tls:
            acme = self.acme_over_http and path.startswith("/.well-known/acme-challenge/")
            forwarded = self.trusts_forwarded_proto and req.headers.get("X-Forwarded-Proto") == "https"
            if not self.redirect_https or acme or forwarded:
                return self._route(host, path, req)
            return self.redirect_code, {"Location": f"https://{host}{req.requestline.split()[1]}"}, b""
        status, headers, body = self._route(host, path, req)
        if self.hsts:
            headers["Strict-Transport-Security"] = self.hsts
        return status, headers, body

    def _route(self, host: str, path: str, req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if host not in (HOST, AUTH_HOST):
            return 404, {"Content-Type": "text/plain"}, b"404 page not found"
        size = int(req.headers.get("Content-Length") or 0)
        if self.body_limit is not None and size > self.body_limit:
            req.close_connection = True
            return 413, {"Content-Type": "text/plain", "Connection": "close"}, b"413"
        req.rfile.read(size)
        if host == self.protect:
            expected = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
            if req.headers.get("Authorization") != expected:
                return 401, {"WWW-Authenticate": self.realm, "Content-Type": "text/plain"}, b"401"
        seen = {k: v for k, v in req.headers.items() if not (self.strips_identity and k.lower() in _IDENTITY)}
        if self.request_id:
            seen["X-Request-ID"] = "0123456789abcdef"
        if host == AUTH_HOST:
            return 200, *_echo("wordpress", path, seen)
        if self.slash_redirect and path == "/docs/":
            return 301, {"Location": "/docs"}, b""
        for prefix, service in self.routes.items():
            p = path.lower() if self.case_insensitive else path
            if p == prefix or p.startswith(prefix.rstrip("/") + "/"):
                return 200, *_echo(service, path, seen)
        return 404, {"Content-Type": "text/plain"}, b"404 page not found"


_IDENTITY = {"x-auth-request-user", "x-forwarded-user", "x-remote-user"}


def _echo(service: str, path: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"service": service, "namespace": "demo", "path": path, "headers": headers}).encode()
    return {"Content-Type": "application/json", "X-Echo-Service": service}, body


@dataclass(frozen=True)
class Running:
    address: str
    http_port: int
    https_port: int


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


_CERTS: dict[tuple[str, ...], trustme.LeafCert] = {}


@contextmanager
def serve(
    plane: Plane, ca: trustme.CA, address: str, names: tuple[str, ...] = (HOST, AUTH_HOST), *, h2: bool = True
) -> Iterator[Running]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if h2:
        ctx.set_alpn_protocols(["h2", "http/1.1"])  # offered through ALPN; this server then speaks HTTP/1.1 only
    if names not in _CERTS:  # one certificate per set of names: both planes serve the same one
        _CERTS[names] = ca.issue_cert(*names)
    _CERTS[names].configure_cert(ctx)
    with ExitStack() as stack:
        _, http_port = stack.enter_context(http_server(lambda r: plane.answer(r, False), ip=address))
        _, https_port = stack.enter_context(http_server(lambda r: plane.answer(r, True), ip=address, tls=ctx))
        yield Running(address, http_port, https_port)


def _targets(auth: bool = True) -> dict[str, Target]:
    api = Target("demo", "api", HOST, (PathRule("/v1", "Prefix", "api", 80), PathRule("/docs", "Prefix", "docs", 80)))
    wp = Target(
        "demo",
        "wordpress",
        AUTH_HOST,
        (PathRule("/", "Prefix", "wordpress", 80),),
        annotations={
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": "wp-auth",
        }
        if auth
        else {},
    )
    return {HOST: api, AUTH_HOST: wp}


def _compare(
    ca_file: Path,
    a: Running,
    b: Running,
    tmp_path: Path,
    *,
    b_kind: str = "Ingress",
    expectations: tuple[Expectation, ...] = (),
) -> ParityReport:
    password = tmp_path / "pw"
    password.write_text(PASSWORD)
    profile = Profile(ca_bundle=str(ca_file), credentials={AUTH_HOST: Credential("admin", password_file=str(password))})
    sides = [
        Side(label, r.address, http_port=r.http_port, https_port=r.https_port) for label, r in (("A", a), ("B", b))
    ]
    targets_b = {h: replace(t, kind=b_kind) for h, t in _targets().items()}
    hosts = [
        SideHosts(_targets(), dict.fromkeys(_targets(), a.address), {}),
        SideHosts(targets_b, dict.fromkeys(targets_b, b.address), {}),
    ]
    return asyncio.run(
        run(
            sides[0],
            sides[1],
            hosts[0],
            hosts[1],
            profile,
            a_implementation="ingress-nginx",
            b_implementation="traefik",
            expectations=expectations,
        )
    )


def _diffs(report: ParityReport, severity: Severity | None = None) -> list[tuple[str, str, str, str]]:
    return [
        (h.host, d.request.key, d.aspect, d.klass)
        for h in report.hosts
        for d in h.differences
        if severity is None or d.severity is severity
    ]


@pytest.fixture()
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_identical_planes_show_no_difference(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    # Given the same behaviour on two addresses
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    # Then every request matched and nothing differs
    assert _diffs(report) == []
    assert not report.breaking
    wp = next(h for h in report.hosts if h.host == AUTH_HOST)
    statuses = {e.request.key: e.a.status for e in wp.exchanges}
    assert statuses["auth none"] == 401 and statuses["auth wrong"] == 401 and statuses["auth right"] == 200


def test_auth_missing_on_b_is_breaking(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(protect=None), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    breaking = _diffs(report, BREAKING)
    assert (AUTH_HOST, "auth none", "status", "breaking") in breaking
    assert (AUTH_HOST, "auth wrong", "status", "breaking") in breaking
    assert report.breaking


def test_redirect_code_changed_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(redirect_code=301), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "plain http", "redirect_code", "changed") in _diffs(report)
    assert _diffs(report, BREAKING) == []
    diff = next(d for h in report.hosts for d in h.differences if d.request.key == "plain http")
    assert "permanent vs temporary" in diff.explanation


def test_lost_https_redirect_is_breaking(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(redirect_https=False), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "plain http", "status", "breaking") in _diffs(report)


def test_another_backend_is_breaking(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with (
        serve(Plane(), ca, "127.0.0.1") as a,
        serve(Plane(routes={"/v1": "api", "/docs": "api"}), ca, "127.0.0.1") as b,
    ):
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "path /docs", "backend", "breaking") in _diffs(report)
    assert (HOST, "path /v1", "backend", "breaking") not in _diffs(report)


def test_path_case_difference_is_found(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    # Given A matches /V1 case-insensitively (ingress-nginx regex) and B does not
    with serve(Plane(case_insensitive=True), ca, "127.0.0.1") as a, serve(Plane(), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    diff = next(d for h in report.hosts for d in h.differences if d.request.key == "case /V1")
    assert diff.severity is BREAKING and (diff.a, diff.b) == ("200", "404")
    assert "case-insensitively" in diff.explanation


def test_trailing_slash_redirect_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(slash_redirect=True), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "derived /docs/", "status", "changed") in _diffs(report)
    assert _diffs(report, BREAKING) == []


def test_realm_difference_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(realm='Basic realm="other"'), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    kinds = {(k, aspect, sev) for host, k, aspect, sev in _diffs(report) if host == AUTH_HOST}
    assert ("auth none", "header:www-authenticate", "changed") in kinds
    assert _diffs(report, BREAKING) == []


def test_certificate_for_other_names_is_breaking(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(), ca, "127.0.0.1", names=("other.test",)) as b:
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "path /v1", "tls:verified", "breaking") in _diffs(report)


def test_b_down_is_breaking_and_reports_are_written(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    # Given B listens nowhere (a port that was just closed)
    with serve(Plane(), ca, "127.0.0.1") as b_gone:
        pass
    with serve(Plane(), ca, "127.0.0.1") as a:
        report = _compare(ca_file, a, b_gone, tmp_path)
    # Then what worked on A is breaking; what failed on A anyway (a 404) is only changed
    errors = [
        (e.a.status, d.severity)
        for h in report.hosts
        for e in h.exchanges
        for d in e.differences
        if d.aspect == "error"
    ]
    assert errors and all((s is BREAKING) == (a // 100 in (2, 3) or a == 401) for a, s in errors)
    assert {s for _, s in errors} == {BREAKING, CHANGED}
    paths = write_reports(report, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "parity.json").read_text())
    assert data["summary"]["verdict"] == "breaking" and data["hosts"][0]["worst"] == "breaking"
    assert PASSWORD not in "".join(p.read_text() for p in paths)  # credentials never in a report
    assert "<failure" in (tmp_path / "out" / "parity.xml").read_text()


def _seen(status: int, headers: tuple[tuple[str, str], ...] = (), body: bytes = b"") -> Observation:
    response = HttpResponse(status, "", headers, body, len(body), False)
    return Observation(Attempt("http", Subject("127.0.0.1", 443, host=HOST), Outcome.OK, response=response))


def test_classify_keeps_cosmetic_apart() -> None:
    req = Request("path /", "path", "https", HOST, "/")
    a = _seen(404, (("content-type", "text/plain"),), b"1")
    b = _seen(404, (), b"2")
    assert [d.severity for d in classify(req, a, b)] == [COSMETIC]
    same_target = classify(
        req,
        _seen(302, (("location", "https://API.example.test/"),)),
        _seen(302, (("location", "https://api.example.test/"),)),
    )
    assert [(d.aspect, d.severity) for d in same_target] == [("location", COSMETIC)]


def test_failures_are_compared_by_outcome_not_by_wording() -> None:
    req = Request("path /", "path", "https", HOST, "/")
    reset = Observation(Attempt("http", Subject("127.0.0.1", 443), Outcome.RESET, "127.0.0.1:443 reset", "tls"))
    refused = Observation(
        Attempt("http", Subject("127.0.0.2", 443), Outcome.REFUSED, "refused by 127.0.0.2", "connect")
    )
    other_reset = Observation(Attempt("http", Subject("127.0.0.2", 443), Outcome.RESET, "127.0.0.2:443 reset", "tls"))
    assert [d.aspect for d in classify(req, reset, refused)] == ["error"]
    assert classify(req, reset, other_reset) == []  # the same outcome at another address is the same failure


def test_matrix_covers_nginx_behaviours() -> None:
    t = Target(
        "demo",
        "re",
        HOST,
        (PathRule("/v1", "Prefix", "api", 80), PathRule("/docs", "Prefix", "d", 80)),
        annotations={"nginx.ingress.kubernetes.io/rewrite-target": "/$1"},
    )
    keys = {r.key for r in requests_for(HOST, t, None, auth=None, https=True)}
    assert {
        "path /v1",
        "derived /v1/",
        "derived /v1ingresscheck",
        "case /V1",
        "normalisation //v1",
        "normalisation /./v1",
        "normalisation /v1%2Fingresscheck",
        "plain http",
        "unknown path",
        "nginx regex /DOCSx",
        "nginx rewrite /v1/ingresscheck/deep",
    } <= keys


def test_support_table_for_gateway_api_and_traefik() -> None:
    targets = list(_targets().values())
    eg = {(r.annotation, r.support) for r in support_table(targets, "envoy-gateway")}
    core = {(r.annotation, r.support) for r in support_table(targets, "gateway-api")}
    assert ("auth-type", "different") in eg and ("auth-type", "extension") in core
    assert support_table(targets, "ingress-nginx") == []
    typo = replace(targets[1], annotations={"nginx.ingress.kubernetes.io/auth-typ": "basic"})
    assert [(r.annotation, r.support) for r in support_table([typo], "traefik")] == [("auth-typ", "ignored")]


def test_report_json_has_no_credentials_field(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(protect=None), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    text = json.dumps(to_dict(report))
    assert PASSWORD not in text and "with credentials" in text


def test_compare_writes_reports_named_as_run_names_them(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    """Given --html/--junit PATH (run's vocabulary), then exactly those files are written at those paths."""
    from ingresscheck.cli.compare import _write_named

    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(protect=None), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    out = tmp_path / "out"
    paths = _write_named(report, {"html": out / "p.html", "junit": out / "deep" / "p.xml"})
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["p.html", "p.xml"] == sorted(x.name for x in paths)
    assert "<testsuite" in (out / "deep" / "p.xml").read_text() and "<html" in (out / "p.html").read_text().lower()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--a", "127.0.0.10", "--b", "127.0.0.10"], "both sides are the same"),
        (["compare", "--a", "not-an-ip", "--b", "127.0.0.30"], "expected an IP address"),
        (["compare", "--a", "127.0.0.10", "--b", "127.0.0.30", "--format", "pdf"], "unknown format pdf"),
        (["compare", "--a", "127.0.0.10", "--b", "127.0.0.30", "--format", "html", "--html", "x.html"], "either"),
        (["compare", "--a", "127.0.0.10", "--b", "127.0.0.30", "--expect", "/nonexistent.yaml"], "--expect"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(argv: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "ingresscheck", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_side_hosts_come_from_discovery_targets() -> None:
    from ingresscheck.compare import side_hosts
    from ingresscheck.discovery.inventory import Inventory

    # Given a Gateway with a listener hostname, a route with two hostnames (one outside it) and a RegularExpression
    gateway = {
        "metadata": {"namespace": "eg", "name": "parity"},
        "spec": {
            "gatewayClassName": "eg",
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": 443,
                    "hostname": "*.example.test",
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                },
            ],
        },
        "status": {"addresses": [{"type": "IPAddress", "value": "127.0.0.30"}]},
    }
    route = {
        "metadata": {"namespace": "demo", "name": "api"},
        "spec": {
            "parentRefs": [{"name": "parity", "namespace": "eg"}],
            "hostnames": ["api.example.test", "api.other.test"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                    "backendRefs": [{"name": "api", "port": 80}],
                },
                {
                    "matches": [{"path": {"type": "RegularExpression", "value": "/r/[0-9]+"}}],
                    "backendRefs": [{"name": "api", "port": 80}],
                },
            ],
        },
    }
    classes = [
        {"metadata": {"name": "eg"}, "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}}
    ]
    inv = Inventory("lab", "https://x", gateways=[gateway], http_routes=[route], gateway_classes=classes)
    # When side B is the Gateway's address
    hosts = side_hosts(inv, Side("B", "127.0.0.30", kind="HTTPRoute"))
    # Then the host is discovery's (the listener hostname intersected), with discovery's path types
    assert set(hosts.targets) == {"api.example.test"} == {t.host for t in inv.targets}
    assert [(p.path, p.path_type) for p in hosts.targets["api.example.test"].paths] == [
        ("/v1", "Prefix"),
        ("/r/[0-9]+", "RegularExpression"),
    ]
    assert hosts.controllers["api.example.test"].startswith("gateway.envoyproxy.io")
    assert side_hosts(inv, Side("B", "127.0.0.99", kind="HTTPRoute")).targets == {}


def test_compare_opens_no_socket_of_its_own() -> None:
    # Given the compare package's sources, then none of them dials: every request goes through net.Net
    package = Path(__file__).parents[2] / "ingresscheck" / "compare"
    offenders = [
        f"{path.name}: {word}"
        for path in package.rglob("*.py")
        for word in ("import ssl", "import socket", "from ssl", "from socket", "open_connection", "httptools")
        if word in path.read_text()
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "change, key, aspect, klass",
    [
        (Plane(hsts=None), "aspect hsts", "hsts", "breaking"),
        (Plane(hsts="max-age=300"), "aspect hsts", "hsts", "changed"),
        (Plane(body_limit=None), "aspect body_limit", "body_limit", "changed"),
        (Plane(request_id=False), "aspect request_id", "request_id", "changed"),
        (Plane(acme_over_http=False), "aspect acme_challenge", "acme_challenge", "changed"),
        (Plane(trusts_forwarded_proto=True), "aspect forwarded_proto", "forwarded_proto", "breaking"),
        (Plane(strips_identity=False), "aspect identity_headers", "identity_headers", "breaking"),
        (Plane(redirect_code=308), "plain http", "redirect_code", "changed"),
    ],
    ids=["hsts-lost", "hsts-shorter", "body-limit", "request-id", "acme", "forwarded-proto", "identity", "308"],
)
def test_each_migration_aspect_is_found_with_its_class(
    change: Plane, key: str, aspect: str, klass: str, ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    # Given A with ingress-nginx's defaults and B differing in one of them
    with serve(Plane(), ca, "127.0.0.1") as a, serve(change, ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    # Then that aspect's difference is found with its class, and it carries a cause
    found = [d for h in report.hosts for d in h.differences if (d.request.key, d.aspect) == (key, aspect)]
    assert found and {d.klass for d in found} == {klass}, _diffs(report)
    assert all(d.cause for d in found)
    assert aspect in {x["name"] for x in to_dict(report)["aspects"]}


def test_http2_lost_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(), ca, "127.0.0.1", h2=False) as b:
        report = _compare(ca_file, a, b, tmp_path)
    found = {(h.host, d.aspect, d.a, d.b, d.klass) for h in report.hosts for d in h.differences if d.aspect == "http2"}
    assert (HOST, "http2", "h2", "http/1.1 (no ALPN)", "changed") in found


def test_hsts_judge_is_the_run_checks() -> None:
    from ingresscheck.probes.hsts import judge_hsts
    from ingresscheck.results import Status

    lenient, strict = Profile(), Profile(hsts_required=True)
    assert judge_hsts("max-age=15724800; includeSubDomains", lenient).status is Status.PASS
    assert judge_hsts("max-age=60", lenient).status is Status.WARN
    assert judge_hsts("includeSubDomains", lenient).status is Status.FAIL  # no max-age: browsers ignore it
    assert judge_hsts(None, lenient).status is Status.SKIP and judge_hsts(None, strict).status is Status.FAIL


def test_an_expected_difference_is_listed_apart_and_not_counted(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    # Given B drops HSTS (breaking) and the team expects it, with a reason
    expect = (Expectation("*.example.test", "HSTS moves to the CDN", aspect="hsts", b="none"),)
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(hsts=None), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path, expectations=expect)
    # Then nothing is breaking, the difference is in the expected section of every format, and nothing is stale
    assert not report.breaking and report.stale == ()
    data = to_dict(report)
    assert data["summary"]["breaking"] == 0 and data["summary"]["expected"] == 2
    assert {(e["host"], e["aspect"], e["expected"]) for e in data["expected"]} == {
        (HOST, "hsts", "HSTS moves to the CDN"),
        (AUTH_HOST, "hsts", "HSTS moves to the CDN"),
    }
    write_reports(report, tmp_path / "out")
    assert "HSTS moves to the CDN" in (tmp_path / "out" / "parity.html").read_text()
    assert "[expected]" in (tmp_path / "out" / "parity.xml").read_text()


def test_a_stale_expectation_is_a_warning(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    import io

    from ingresscheck.cli.compare import exit_code, print_summary

    # Given an expectation no difference matches, on identical planes
    expect = (Expectation("api.example.test", "was fixed long ago", request="path /gone*"),)
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path, expectations=expect)
    out = io.StringIO()
    print_summary(report, [], out)
    # Then it is reported stale (a warning), in the terminal and the JSON, and the exit code stays 0
    assert report.stale == expect and exit_code(report) == 0
    assert "warning: stale expectation" in out.getvalue()
    assert to_dict(report)["stale_expectations"][0]["reason"] == "was fixed long ago"


def test_a_breaking_difference_no_expectation_covers_still_counts(
    ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    # Given B drops auth and HSTS, and only HSTS is expected
    expect = (Expectation("*", "HSTS moves to the CDN", aspect="hsts"),)
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(protect=None, hsts=None), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path, expectations=expect)
    # Then auth opening is still breaking, HSTS is not
    assert report.breaking
    assert (AUTH_HOST, "auth none", "status", "breaking") in _diffs(report)
    assert not [d for d in _diffs(report) if d[2] == "hsts"]


def test_expect_file_errors_are_one_line(tmp_path: Path) -> None:
    from ingresscheck.compare import load_expectations
    from ingresscheck.errors import UsageError

    bad = tmp_path / "expect.yaml"
    bad.write_text("- host: api.example.test\n  reason: no request or aspect\n")
    with pytest.raises(UsageError, match="line 1: give a request or an aspect"):
        load_expectations(str(bad))
    bad.write_text("- host: a\n  aspect: hsts\n  reason: r\n  colour: red\n")
    with pytest.raises(UsageError, match="unknown field colour"):
        load_expectations(str(bad))
    good = tmp_path / "ok.yaml"
    good.write_text("- host: '*.example.test'\n  aspect: hsts\n  b: none\n  reason: CDN\n")
    assert load_expectations(str(good)) == (Expectation("*.example.test", "CDN", aspect="hsts", b="none", line=1),)
