"""Every form the networking.k8s.io/v1 Ingress API accepts is checked as the API means it, or skipped with
its reason; none gives an error or an ingresscheck defect.

Field by field of the Ingress reference (IngressSpec, IngressRule, HTTPIngressPath, IngressBackend,
IngressTLS): host forms (exact, wildcard, IDN in punycode), path types (Exact, Prefix,
ImplementationSpecific with and without a path), backends (Service by port number or name, resource),
rules without host or without http, a default backend only, TLS blocks with hosts, without hosts and
without secretName, the legacy class annotation. A small controller stands in for the data plane: it
matches Host and path by the API's rules (its own code, not the probe's) and answers as an echo pod.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import trustme

from ingresscheck.discovery import SecretInfo
from ingresscheck.profile import Profile
from ingresscheck.results import Report, Status

from .helpers import run_probes
from .servers import dns_server, http_server

PROBES = ["dns", "redirect", "tls", "routing", "auth", "auth_config", "static"]


def _matches(path_type: str, rule_path: str, path: str) -> bool:
    """The Ingress API's matching: Exact is equality; Prefix matches whole path elements."""
    if path_type == "Exact":
        return path == rule_path
    prefix = rule_path.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def _controller(ingress: dict[str, Any]):  # type: ignore[no-untyped-def]
    def host_matches(rule_host: str, host: str) -> bool:
        if rule_host.startswith("*."):
            return host.endswith(rule_host[1:]) and host.count(".") == rule_host.count(".")
        return host == rule_host

    def handler(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        host = req.headers["Host"].split(":")[0]
        path = req.path.split("?")[0]
        for rule in ingress["spec"].get("rules") or []:
            if not host_matches(rule.get("host", host), host):
                continue
            best = None
            for p in (rule.get("http") or {}).get("paths") or []:
                if p.get("path") is None or _matches(p["pathType"], p["path"], path):
                    if best is None or len(p.get("path") or "") > len(best.get("path") or ""):
                        best = p
            if best is not None and "service" in best["backend"]:
                svc = best["backend"]["service"]["name"]
                body = json.dumps({"service": svc, "namespace": "demo", "pod": f"{svc}-0"}).encode()
                return 200, {"Content-Type": "application/json"}, body
        return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"

    return handler


def _redirector(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    host = req.headers["Host"].split(":")[0]
    return 302, {"Location": f"https://{host}:{_redirector.https_port}{req.path}"}, b""  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("*.example.test", "example.test", "xn--bcher-kva.example.test").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("forms") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _backend(name: str = "web", port: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"service": {"name": name, "port": port or {"number": 80}}}


def _ingress(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "form", "namespace": "demo", "annotations": annotations or {}},
        "spec": spec,
    }


def _rule(host: str | None, *paths: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"http": {"paths": list(paths)}} if paths else {}
    if host is not None:
        rule["host"] = host
    return rule


def _path(path: str | None, path_type: str, backend: dict[str, Any] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"pathType": path_type, "backend": backend or _backend()}
    if path is not None:
        p["path"] = path
    return p


H = "shop.example.test"
FORMS: dict[str, dict[str, Any]] = {
    "exact host, Prefix, port number": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule(H, _path("/v1", "Prefix"))]}
    ),
    "port by name": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule(H, _path("/", "Prefix", _backend("web", {"name": "http"})))]}
    ),
    "Exact path": _ingress({"ingressClassName": "nginx", "rules": [_rule(H, _path("/healthz", "Exact"))]}),
    "ImplementationSpecific with a path": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule(H, _path("/app", "ImplementationSpecific"))]}
    ),
    "ImplementationSpecific without a path": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule(H, _path(None, "ImplementationSpecific"))]}
    ),
    "Prefix with a trailing slash": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule(H, _path("/docs/", "Prefix"))]}
    ),
    "regex path (use-regex)": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule(H, _path("/api/v[0-9]+", "ImplementationSpecific"))]},
        {"nginx.ingress.kubernetes.io/use-regex": "true"},
    ),
    "resource backend": _ingress(
        {
            "ingressClassName": "nginx",
            "rules": [
                _rule(
                    H,
                    _path(
                        "/static",
                        "Prefix",
                        {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "assets"}},
                    ),
                )
            ],
        }
    ),
    "default backend only": _ingress({"ingressClassName": "nginx", "defaultBackend": _backend()}),
    "rule without host": _ingress({"ingressClassName": "nginx", "rules": [_rule(None, _path("/", "Prefix"))]}),
    "host without http": _ingress({"ingressClassName": "nginx", "rules": [_rule(H)], "defaultBackend": _backend()}),
    "wildcard host": _ingress({"ingressClassName": "nginx", "rules": [_rule("*.example.test", _path("/", "Prefix"))]}),
    "IDN host in punycode": _ingress(
        {"ingressClassName": "nginx", "rules": [_rule("xn--bcher-kva.example.test", _path("/", "Prefix"))]}
    ),
    "tls block with hosts": _ingress(
        {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [H], "secretName": "web-tls"}],
            "rules": [_rule(H, _path("/", "Prefix"))],
        }
    ),
    "tls block without hosts": _ingress(
        {"ingressClassName": "nginx", "tls": [{"secretName": "web-tls"}], "rules": [_rule(H, _path("/", "Prefix"))]}
    ),
    "tls block without secretName": _ingress(
        {"ingressClassName": "nginx", "tls": [{"hosts": [H]}], "rules": [_rule(H, _path("/", "Prefix"))]}
    ),
    "legacy class annotation": _ingress(
        {"rules": [_rule(H, _path("/", "Prefix"))]}, {"kubernetes.io/ingress.class": "nginx"}
    ),
    "two rules, one host": _ingress(
        {
            "ingressClassName": "nginx",
            "rules": [_rule(H, _path("/a", "Prefix")), _rule(H, _path("/b", "Exact", _backend("api")))],
        }
    ),
}


def _cluster() -> dict[str, Any]:
    def svc(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "demo"},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            },
            {
                "metadata": {"name": f"{name}-x", "namespace": "demo", "labels": {"kubernetes.io/service-name": name}},
                "ports": [{"name": "http", "port": 8080}],
                "endpoints": [{"addresses": ["10.0.0.1"], "targetRef": {"kind": "Pod", "name": f"{name}-0"}}],
            },
        )

    web, api = svc("web"), svc("api")
    return {
        "services": [web[0], api[0]],
        "endpoint_slices": [web[1], api[1]],
        "ingress_classes": [{"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}],
    }


@pytest.fixture(scope="module")
def reports(server_tls: ssl.SSLContext, ca_file: str) -> Iterator[dict[str, Report]]:
    out: dict[str, Report] = {}
    for form, ing in FORMS.items():
        with (
            http_server(_controller(ing), tls=server_tls, keep_alive=True) as (ip, https_port),
            http_server(_redirector) as (_, http_port),
            dns_server({}, wildcard={"example.test": ip}) as dns,
        ):
            _redirector.https_port = https_port  # type: ignore[attr-defined]
            profile = Profile(
                dns_servers=(dns,), load_balancers=(ip,), http_port=http_port, https_port=https_port, ca_bundle=ca_file
            )
            profile = replace(profile, thresholds=replace(profile.thresholds, timeout=1.0))
            secrets = {("demo", "web-tls"): SecretInfo("demo", "web-tls", "kubernetes.io/tls", ("tls.crt", "tls.key"))}
            out[form] = run_probes(PROBES, profile, [ing], secrets=secrets, **_cluster())
    yield out


@pytest.mark.parametrize("form", list(FORMS))
def test_no_accepted_form_errors(reports: dict[str, Report], form: str) -> None:
    errors = [(r.check, r.subject, r.message) for r in reports[form].results if r.status is Status.ERROR]
    assert not errors, errors
    assert not any("defect" in r.message for r in reports[form].results)


def _statuses(report: Report, check: str) -> set[Status]:
    return {r.status for r in report.results if r.check == check}


@pytest.mark.parametrize(
    "form",
    [
        "exact host, Prefix, port number",
        "port by name",
        "Exact path",
        "ImplementationSpecific with a path",
        "ImplementationSpecific without a path",
        "Prefix with a trailing slash",
        "wildcard host",
        "IDN host in punycode",
        "tls block with hosts",
        "legacy class annotation",
        "two rules, one host",
    ],
)
def test_served_forms_reach_their_backend(reports: dict[str, Report], form: str) -> None:
    report = reports[form]
    assert _statuses(report, "routing.backend") == {Status.PASS}, [
        (r.subject, r.message) for r in report.results if r.check == "routing.backend"
    ]
    assert _statuses(report, "tls.handshake") == {Status.PASS}
    assert Status.FAIL not in _statuses(report, "routing.path_type")


def test_regex_paths_are_skipped_with_their_reason(reports: dict[str, Report]) -> None:
    r = next(r for r in reports["regex path (use-regex)"].results if r.check == "routing.backend")
    assert r.status is Status.SKIP and "regular expression" in r.message


def test_resource_backends_are_skipped_with_their_reason(reports: dict[str, Report]) -> None:
    r = next(r for r in reports["resource backend"].results if r.check == "routing.backend")
    assert r.status is Status.SKIP and "resource backend" in r.message


@pytest.mark.parametrize("form", ["default backend only", "rule without host"])
def test_forms_without_a_host_are_no_target_but_are_named(reports: dict[str, Report], form: str) -> None:
    report = reports[form]
    assert not any(r.check.startswith(("tls.", "routing.", "redirect.")) for r in report.results)
    assert any(r.check == "static.no_host" and r.status in (Status.WARN, Status.FAIL) for r in report.results)


def test_a_wildcard_host_is_checked_on_a_name_it_covers(reports: dict[str, Report]) -> None:
    report = reports["wildcard host"]
    r = next(r for r in report.results if r.check == "tls.hostname")
    assert r.status is Status.PASS and "ingresscheck-wildcard.example.test" in r.message
    assert _statuses(report, "routing.unknown_host") == {Status.SKIP}
    assert _statuses(report, "dns.wildcard") == {Status.SKIP}


def test_a_tls_block_without_hosts_covers_every_host(reports: dict[str, Report]) -> None:
    r = next(r for r in reports["tls block without hosts"].results if r.check == "tls.termination")
    assert r.status is not Status.SKIP and "web-tls" in r.message


def test_a_tls_block_without_secret_name_leaves_termination_unclaimed(reports: dict[str, Report]) -> None:
    r = next(r for r in reports["tls block without secretName"].results if r.check == "tls.termination")
    assert r.status is Status.SKIP
