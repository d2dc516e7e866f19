"""Verdicts per subject: one host, three addresses, each failing its own way, and every check names each.

Given shop.example.test resolving to three addresses on the same ports:
- 127.0.0.31 refuses every connection (nothing listens),
- 127.0.0.32 accepts TCP and never says a word (no ClientHello answer, no HTTP response),
- 127.0.0.33 answers: plain HTTP with 200 (no redirect), HTTPS with a valid certificate and the backend,
then every check that covers addresses reports one result per address, naming it and its outcome;
nothing is lost, and no error lands on another check.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.profile import Profile
from ingresscheck.results import Report, Status

from .helpers import ingress, run_probes
from .servers import dns_server, http_server, silent_server

HOST = "shop.example.test"
REFUSING, SILENT, ANSWERING = "127.0.0.31", "127.0.0.32", "127.0.0.33"


def _backend(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    if req.headers["Host"].split(":")[0] != HOST:
        return 404, {"Content-Type": "text/plain"}, b"404 page not found\n"
    body = json.dumps({"service": "web", "namespace": "demo", "pod": "web-0"}).encode()
    return 200, {"Content-Type": "application/json"}, body


def _free_port(ip: str) -> int:
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "*.example.test").configure_cert(tls)
    ca_file = tmp_path_factory.mktemp("subjects") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    http_port, https_port = _free_port(ANSWERING), _free_port(ANSWERING)
    with (
        http_server(_backend, ANSWERING, port=http_port),
        http_server(_backend, ANSWERING, tls, port=https_port),
        silent_server(SILENT, http_port),
        silent_server(SILENT, https_port),
        dns_server({HOST: [REFUSING, SILENT, ANSWERING]}) as dns,
    ):
        profile = Profile(
            dns_servers=(dns,),
            load_balancers=(REFUSING, SILENT, ANSWERING),
            http_port=http_port,
            https_port=https_port,
            ca_bundle=str(Path(ca_file)),
        )
        profile = replace(profile, thresholds=replace(profile.thresholds, timeout=0.5))
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"ports": [{"name": "http", "port": 80}]},
        }
        eps = {
            "metadata": {"name": "web-x", "namespace": "demo", "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": ["10.0.0.1"], "targetRef": {"kind": "Pod", "name": "web-0"}}],
        }
        return run_probes(
            ["dns", "redirect", "tls", "routing"],
            profile,
            [ingress("shop", HOST, service="web")],
            services=[svc],
            endpoint_slices=[eps],
        )


def _by_address(report: Report, check: str) -> dict[str, list[Status]]:
    found: dict[str, list[Status]] = {}
    for r in report.results:
        if r.check != check:
            continue
        assert r.subject, f"{check} result without a subject: {r.message}"
        for ip in (REFUSING, SILENT, ANSWERING):
            if ip in r.subject:
                found.setdefault(ip, []).append(r.status)
    return found


@pytest.mark.parametrize(
    "check",
    [
        "redirect.https",
        "redirect.loop",
        "tls.handshake",
        "tls.chain",
        "tls.hostname",
        "tls.expiry",
        "tls.key_strength",
        "tls.protocols",
        "tls.default_certificate",
        "routing.backend",
        "routing.unknown_host",
        "dns.lb_address",
    ],
)
def test_every_check_names_each_address(report: Report, check: str) -> None:
    seen = _by_address(report, check)
    assert set(seen) == {REFUSING, SILENT, ANSWERING}, (check, seen)


def test_each_address_gets_its_own_outcome(report: Report) -> None:
    redirect = {r.subject: r for r in report.results if r.check == "redirect.https"}
    refused = next(r for s, r in redirect.items() if s and REFUSING in s)
    silent = next(r for s, r in redirect.items() if s and SILENT in s)
    answering = next(r for s, r in redirect.items() if s and ANSWERING in s)
    # a refusal is established (fail); silence is not (error: could not decide); a 200 is a missing redirect
    assert refused.status is Status.FAIL and "refused" in refused.message
    assert silent.status is Status.ERROR and "no response" in silent.message and SILENT in silent.message
    assert answering.status is Status.FAIL and "answered 200" in answering.message
    # the evidence names the dialed address for each, also when nothing answered
    assert refused.evidence["request"]["address"] == REFUSING and silent.evidence["request"]["address"] == SILENT

    shakes = {r.subject: r for r in report.results if r.check == "tls.handshake"}
    assert next(r for s, r in shakes.items() if s and REFUSING in s).status is Status.FAIL
    silent_tls = next(r for s, r in shakes.items() if s and SILENT in s)
    assert silent_tls.status is Status.ERROR and "ClientHello" in silent_tls.message
    assert next(r for s, r in shakes.items() if s and ANSWERING in s).status is Status.PASS

    backend = [r for r in report.results if r.check == "routing.backend" and r.subject and ANSWERING in r.subject]
    assert [r.status for r in backend] == [Status.PASS]


def test_no_error_moves_to_another_check(report: Report) -> None:
    """Errors are about timeouts at the silent address only, each on its own check."""
    for r in report.results:
        if r.status is Status.ERROR:
            assert r.subject and SILENT in r.subject, (r.check, r.subject, r.message)
            assert "defect" not in r.message
