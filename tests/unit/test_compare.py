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
from ingresscheck.compare._model import Observation
from ingresscheck.discovery.model import PathRule, Target
from ingresscheck.profile import Credential, Profile

from .servers import http_server

HOST = "api.example.test"
AUTH_HOST = "wp.example.test"
PASSWORD = "s3cret-pw"
REALM = 'Basic realm="WordPress"'


@dataclass
class Plane:
    """How a fake data plane behaves; each field is one thing a migration can change."""

    routes: dict[str, str] = field(default_factory=lambda: {"/v1": "api", "/docs": "docs"})
    protect: str | None = AUTH_HOST  # the host behind basic auth
    realm: str = REALM
    redirect_code: int = 302  # plain http -> https
    redirect_https: bool = True
    case_insensitive: bool = False
    slash_redirect: bool = False  # /docs/ -> 301 /docs

    def answer(self, req: BaseHTTPRequestHandler, tls: bool) -> tuple[int, dict[str, str], bytes]:
        host = (req.headers.get("Host") or "").split(":")[0]
        path = req.path.split("?")[0]
        if not tls:
            if not self.redirect_https:
                return self._route(host, path, req)
            return self.redirect_code, {"Location": f"https://{host}{req.path}"}, b""
        return self._route(host, path, req)

    def _route(self, host: str, path: str, req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if host not in (HOST, AUTH_HOST):
            return 404, {"Content-Type": "text/plain"}, b"404 page not found"
        if host == self.protect:
            expected = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
            if req.headers.get("Authorization") != expected:
                return 401, {"WWW-Authenticate": self.realm, "Content-Type": "text/plain"}, b"401"
        if host == AUTH_HOST:
            body = json.dumps({"service": "wordpress", "namespace": "demo", "path": path}).encode()
            return 200, {"Content-Type": "application/json", "X-Echo-Service": "wordpress"}, body
        if self.slash_redirect and path == "/docs/":
            return 301, {"Location": "/docs"}, b""
        for prefix, service in self.routes.items():
            p = path.lower() if self.case_insensitive else path
            if p == prefix or p.startswith(prefix.rstrip("/") + "/"):
                body = json.dumps({"service": service, "namespace": "demo", "path": path}).encode()
                return 200, {"Content-Type": "application/json", "X-Echo-Service": service}, body
        return 404, {"Content-Type": "text/plain"}, b"404 page not found"


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
def serve(plane: Plane, ca: trustme.CA, address: str, names: tuple[str, ...] = (HOST, AUTH_HOST)) -> Iterator[Running]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
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


def _compare(ca_file: Path, a: Running, b: Running, tmp_path: Path, *, b_kind: str = "Ingress") -> ParityReport:
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
        )
    )


def _diffs(report: ParityReport, severity: Severity | None = None) -> list[tuple[str, str, str, str]]:
    return [
        (h.host, d.request.key, d.aspect, d.severity.value)
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
    breaking = _diffs(report, Severity.BREAKING)
    assert (AUTH_HOST, "auth none", "status", "breaking") in breaking
    assert (AUTH_HOST, "auth wrong", "status", "breaking") in breaking
    assert report.breaking


def test_redirect_code_changed_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(redirect_code=301), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "plain http", "status", "changed") in _diffs(report)
    assert _diffs(report, Severity.BREAKING) == []
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
    assert diff.severity is Severity.BREAKING and (diff.a, diff.b) == ("200", "404")
    assert "case-insensitively" in diff.explanation


def test_trailing_slash_redirect_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(slash_redirect=True), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    assert (HOST, "derived /docs/", "status", "changed") in _diffs(report)
    assert _diffs(report, Severity.BREAKING) == []


def test_realm_difference_is_changed(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(realm='Basic realm="other"'), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    kinds = {(k, aspect, sev) for host, k, aspect, sev in _diffs(report) if host == AUTH_HOST}
    assert ("auth none", "header:www-authenticate", "changed") in kinds
    assert _diffs(report, Severity.BREAKING) == []


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
    assert errors and all((s is Severity.BREAKING) == (a // 100 in (2, 3) or a == 401) for a, s in errors)
    assert {s for _, s in errors} == {Severity.BREAKING, Severity.CHANGED}
    paths = write_reports(report, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "parity.json").read_text())
    assert data["summary"]["verdict"] == "breaking" and data["hosts"][0]["worst"] == "breaking"
    assert PASSWORD not in "".join(p.read_text() for p in paths)  # credentials never in a report
    assert "<failure" in (tmp_path / "out" / "parity.xml").read_text()


def test_classify_keeps_cosmetic_apart() -> None:
    req = Request("path /", "path", "https", HOST, "/")
    a = Observation(404, (("content-type", "text/plain"),), body_sha="1")
    b = Observation(404, (), body_sha="2")
    assert [d.severity for d in classify(req, a, b)] == [Severity.COSMETIC]
    same_target = classify(
        req,
        Observation(302, (("location", "https://API.example.test/"),)),
        Observation(302, (("location", "https://api.example.test/"),)),
    )
    assert [(d.aspect, d.severity) for d in same_target] == [("location", Severity.COSMETIC)]


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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--a", "127.0.0.10", "--b", "127.0.0.10"], "both sides are the same"),
        (["compare", "--a", "not-an-ip", "--b", "127.0.0.30"], "expected an IP address"),
        (["compare", "--a", "127.0.0.10", "--b", "127.0.0.30", "--format", "pdf"], "unknown format pdf"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(argv: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "ingresscheck", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_httproute_targets_take_the_gateway_address_and_skip_redirect_rules() -> None:
    from ingresscheck.compare import httproute_targets

    gateway = {
        "metadata": {"namespace": "eg", "name": "parity"},
        "spec": {},
        "status": {"addresses": [{"type": "IPAddress", "value": "127.0.0.30"}]},
    }
    route = {
        "metadata": {"namespace": "demo", "name": "api"},
        "spec": {
            "parentRefs": [{"name": "parity", "namespace": "eg"}],
            "hostnames": ["api.example.test", "*.example.test"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                    "backendRefs": [{"name": "api", "port": 80}],
                },
                {
                    "matches": [{"path": {"type": "Exact", "value": "/old"}}],
                    "filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}],
                },
            ],
        },
    }
    [t] = httproute_targets([route], [gateway])
    assert (t.host, t.kind, t.status_addresses) == ("api.example.test", "HTTPRoute", ("127.0.0.30",))
    assert [(p.path, p.path_type, p.service) for p in t.paths] == [("/v1", "Prefix", "api")]


def test_hosts_on_a_only_count_as_breaking_everywhere(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    import io

    from ingresscheck.cli.compare import exit_code, print_summary

    # Given identical planes, and one more host that only A serves
    with serve(Plane(), ca, "127.0.0.1") as a, serve(Plane(), ca, "127.0.0.1") as b:
        report = _compare(ca_file, a, b, tmp_path)
    report = replace(report, only_a=("gone.example.test",))
    # When the summary is rendered in every form
    out = io.StringIO()
    print_summary(report, [], out)
    paths = write_reports(report, tmp_path / "out")
    data = json.loads((tmp_path / "out" / "parity.json").read_text())
    html = (tmp_path / "out" / "parity.html").read_text()
    # Then the terminal line, the JSON summary, the HTML card and the exit code all say 1 breaking
    assert "1 breaking" in out.getvalue().splitlines()[0]
    assert data["summary"]["breaking"] == 1 and data["summary"]["verdict"] == "breaking"
    assert "<b>1</b>breaking" in html
    assert exit_code(report) == 1 and len(paths) == 3
