"""ingresscheck compare on the lab: the demo on Traefik behind HAProxy (A, 127.0.0.10) against the same
hosts as HTTPRoutes on Envoy Gateway (B, 127.0.0.30).

Given both data planes serve the demo, the comparison shows no breaking difference; then, one change at a
time on B (auth removed, another redirect code, another backend, a path's case, a trailing-slash
redirect), each difference is found and classified, and B is restored before the next test.
"""

from __future__ import annotations

import copy
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ingresscheck.compare import BREAKING, CHANGED, ParityReport, Side, compare
from ingresscheck.profile import load
from ingresscheck.results import Severity
from ingresscheck_lab import envoy_gateway as eg
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.objects import DEMO_NS

DEMO_HOSTS = {"api.example.test", "wordpress.example.test", "shop.apps.test", "www.example.test"}


def _compare(lab: Lab) -> ParityReport:
    profile = load(lab.layout.profile)
    return compare(
        Side("A", "127.0.0.10", kind="Ingress"),
        Side("B", eg.VIP, kind="HTTPRoute"),
        profile,
        kubeconfig=str(lab.layout.kubeconfig),
        namespace=DEMO_NS,
    )


def _diffs(report: ParityReport, host: str) -> list[tuple[str, str, Severity]]:
    h = next(h for h in report.hosts if h.host == host)
    return [(d.request.key, d.aspect, d.severity) for d in h.differences]


def _await(lab: Lab, scheme: str, host: str, path: str, check: Callable[[httpx.Response], bool]) -> None:
    """Envoy Gateway pushes xDS within ~100 ms; wait until B shows the change (bounded)."""
    ctx = ssl.create_default_context(cafile=str(lab.layout.pki / "ingress-ca.crt"))
    deadline = time.monotonic() + 20
    with httpx.Client(verify=ctx, timeout=2) as http:
        while True:
            r = http.get(f"{scheme}://{eg.VIP}{path}", headers={"Host": host}, extensions={"sni_hostname": host})
            if check(r):
                return
            assert time.monotonic() < deadline, f"B did not change: {scheme}://{host}{path} -> {r.status_code}"
            time.sleep(0.05)


def _route(lab: Lab, name: str) -> dict:
    res = lab.writer()
    obj = res.get({"kind": "HTTPRoute", "metadata": {"namespace": DEMO_NS, "name": eg.ROUTE_PREFIX + name}})
    assert obj is not None
    return obj


def _original(name: str) -> dict:
    return next(copy.deepcopy(r) for r in eg.demo_routes() if r["metadata"]["name"] == eg.ROUTE_PREFIX + name)


def test_demo_on_both_planes_has_no_breaking_difference(envoy: Lab, tmp_path: Path) -> None:
    report = _compare(envoy)
    assert {h.host for h in report.hosts if "parity-unknown" not in h.host} == DEMO_HOSTS
    assert not DEMO_HOSTS & set(report.only_a)
    breaking = [
        (h.host, d.request.describe(), d.aspect, d.a, d.b)
        for h in report.hosts
        for d in h.differences
        if d.severity is BREAKING
    ]
    assert breaking == []
    # the annotation table names what Envoy Gateway does differently with the WordPress Ingress
    assert {(s.object, s.annotation) for s in report.support} >= {("demo/wordpress", "auth-realm")}


def test_cli_writes_the_parity_reports(envoy: Lab, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "compare",
            "--a",
            "127.0.0.10",
            "--a-kind",
            "Ingress",
            "--b",
            eg.VIP,
            "--b-kind",
            "HTTPRoute",
            "-n",
            DEMO_NS,
            "--kubeconfig",
            str(envoy.layout.kubeconfig),
            "--profile",
            str(envoy.layout.profile),
            "--reports-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "parity.json").read_text())
    assert data["b"]["implementation"] == "envoy-gateway" and data["summary"]["breaking"] == 0
    assert (tmp_path / "parity.html").exists() and (tmp_path / "parity.xml").exists()
    password = (envoy.layout.secrets / "wordpress.password").read_text()
    assert password not in (tmp_path / "parity.json").read_text() + proc.stdout


def test_auth_missing_on_b_is_breaking(envoy: Lab) -> None:
    res = envoy.writer()
    policy = next(o for o in eg.objects(envoy.layout, "x") if o["kind"] == "SecurityPolicy")
    res.delete(policy)
    try:
        _await(envoy, "https", "wordpress.example.test", "/", lambda r: r.status_code == 200)
        report = _compare(envoy)
        diffs = _diffs(report, "wordpress.example.test")
        assert ("auth none", "status", BREAKING) in diffs
        assert ("auth wrong", "status", BREAKING) in diffs
        assert report.breaking
    finally:
        password = (envoy.layout.secrets / "wordpress.password").read_text()
        eg.apply(res, next(o for o in eg.objects(envoy.layout, password) if o["kind"] == "SecurityPolicy"))
        _await(envoy, "https", "wordpress.example.test", "/", lambda r: r.status_code == 401)


def test_redirect_code_changed_is_changed(envoy: Lab) -> None:
    res = envoy.writer()
    redirect = next(o for o in eg.objects(envoy.layout, "x") if o["metadata"]["name"] == "https-redirect")
    changed = copy.deepcopy(redirect)
    changed["spec"]["rules"][0]["filters"][0]["requestRedirect"]["statusCode"] = 301
    eg.apply(res, changed)
    try:
        _await(envoy, "http", "api.example.test", "/v1", lambda r: r.status_code == 301)
        diffs = _diffs(_compare(envoy), "api.example.test")
        assert ("plain http", "redirect_code", CHANGED) in diffs
        assert not [d for d in diffs if d[2] is BREAKING]
    finally:
        eg.apply(res, redirect)
        _await(envoy, "http", "api.example.test", "/v1", lambda r: r.status_code == 302)


@contextmanager
def _patched(
    envoy: Lab,
    name: str,
    change: Callable[[dict], None],
    host: str,
    path: str,
    ready: Callable[[httpx.Response], bool],
    restored: Callable[[httpx.Response], bool],
) -> Iterator[ParityReport]:
    res = envoy.writer()
    route = _original(name)
    changed = copy.deepcopy(route)
    change(changed)
    eg.apply(res, changed)
    try:
        _await(envoy, "https", host, path, ready)
        yield _compare(envoy)
    finally:
        eg.apply(res, route)
        _await(envoy, "https", host, path, restored)


def test_another_backend_is_breaking(envoy: Lab) -> None:
    def to_api(route: dict) -> None:
        route["spec"]["rules"][2]["backendRefs"][0]["name"] = "api"  # /docs -> api instead of api-docs

    with _patched(
        envoy,
        "api",
        to_api,
        "api.example.test",
        "/docs",
        lambda r: r.headers.get("x-echo-service") == "api",
        lambda r: r.headers.get("x-echo-service") == "api-docs",
    ) as report:
        assert ("path /docs", "backend", BREAKING) in _diffs(report, "api.example.test")


def test_path_case_difference_is_breaking(envoy: Lab) -> None:
    def upper(route: dict) -> None:
        route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/V1"

    with _patched(
        envoy, "api", upper, "api.example.test", "/v1", lambda r: r.status_code == 404, lambda r: r.status_code == 200
    ) as report:
        diffs = _diffs(report, "api.example.test")
        assert ("path /v1", "status", BREAKING) in diffs
        assert ("case /V1", "status", CHANGED) in diffs  # B now serves what A refuses


def test_trailing_slash_redirect_is_changed(envoy: Lab) -> None:
    def slash_redirect(route: dict) -> None:
        route["spec"]["rules"].insert(
            0,
            {
                "matches": [{"path": {"type": "Exact", "value": "/docs/"}}],
                "filters": [
                    {
                        "type": "RequestRedirect",
                        "requestRedirect": {
                            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/docs"},
                            "statusCode": 301,
                        },
                    }
                ],
            },
        )

    with _patched(
        envoy,
        "api",
        slash_redirect,
        "api.example.test",
        "/docs/",
        lambda r: r.status_code == 301,
        lambda r: r.status_code == 200,
    ) as report:
        diffs = _diffs(report, "api.example.test")
        assert ("derived /docs/", "status", CHANGED) in diffs
        assert not [d for d in diffs if d[2] is BREAKING]
