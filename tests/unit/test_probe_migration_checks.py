"""The run checks compare's migration aspects share their judges with: tls.hsts, redirect.forwarded_proto and
auth.identity_headers, against real local servers through the real runner."""

from __future__ import annotations

import json
import ssl
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import ingress, one, run_probes
from .servers import dns_server, http_server

HOST = "api.example.test"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST).configure_cert(ctx)
    return ctx


def _https_run(ca: trustme.CA, tmp_path: Path, handler, probes: list[str], annotations=None, **profile):  # type: ignore[no-untyped-def]
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with http_server(handler, tls=_tls(ca)) as (ip, port), dns_server({HOST: [ip]}) as dns:
        prof = Profile(dns_servers=(dns,), load_balancers=(ip,), https_port=port, ca_bundle=str(ca_file), **profile)
        return run_probes(["dns", "tls", *probes], prof, [ingress("api", HOST, annotations=annotations)])


@pytest.mark.parametrize(
    "header, required, status",
    [
        ("max-age=15724800; includeSubDomains", False, Status.PASS),
        ("max-age=60", False, Status.WARN),
        ("includeSubDomains", False, Status.FAIL),
        (None, False, Status.SKIP),
        (None, True, Status.FAIL),
    ],
)
def test_tls_hsts_judges_the_served_header(
    header: str | None, required: bool, status: Status, ca: trustme.CA, tmp_path: Path
) -> None:
    # Given an https server sending (or not) Strict-Transport-Security, when tls.hsts runs
    def answer(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, ({"Strict-Transport-Security": header} if header else {}), b"ok"

    r = one(_https_run(ca, tmp_path, answer, ["hsts"], hsts_required=required), "tls.hsts")
    # Then the verdict is the judge's, on the address it was seen at
    assert r.status is status, r.message
    assert r.subject and r.subject.startswith("127.0.0.1:") and r.evidence["hsts"]


def _plain_run(handler):  # type: ignore[no-untyped-def]
    with http_server(handler) as (ip, port), dns_server({HOST: [ip]}) as dns:
        profile = Profile(dns_servers=(dns,), load_balancers=(ip,), http_port=port)
        return run_probes(["dns", "redirect", "forwarded_proto"], profile, [ingress("api", HOST)])


def _redirect(trusting: bool):  # type: ignore[no-untyped-def]
    def answer(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if trusting and req.headers.get("X-Forwarded-Proto") == "https":
            return 200, {}, b"served over plain http"
        return 302, {"Location": f"https://{HOST}{req.path}"}, b""

    return answer


def test_forwarded_proto_passes_when_the_redirect_holds() -> None:
    r = one(_plain_run(_redirect(trusting=False)), "redirect.forwarded_proto")
    assert r.status is Status.PASS, r.message


def test_forwarded_proto_fails_when_the_clients_header_skips_the_redirect() -> None:
    r = one(_plain_run(_redirect(trusting=True)), "redirect.forwarded_proto")
    assert r.status is Status.FAIL and "skipped the redirect" in r.message


@pytest.mark.parametrize("strips, status", [(True, Status.PASS), (False, Status.FAIL)])
def test_identity_headers_behind_external_auth(strips: bool, status: Status, ca: trustme.CA, tmp_path: Path) -> None:
    # Given a backend behind auth-url that echoes what it received, with or without the proxy stripping identity
    def answer(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        seen = {k: v for k, v in req.headers.items() if not (strips and k.lower().startswith(("x-auth", "x-remote")))}
        if strips:
            seen.pop("X-Forwarded-User", None)
        body = json.dumps({"service": "api", "namespace": "demo", "headers": seen}).encode()
        return 200, {"Content-Type": "application/json"}, body

    annotations = {"nginx.ingress.kubernetes.io/auth-url": "https://auth.example.test/oauth2/auth"}
    r = one(_https_run(ca, tmp_path, answer, ["identity_headers"], annotations), "auth.identity_headers")
    assert r.status is status, r.message
    if status is Status.FAIL:
        assert "x-remote-user" in r.message.lower()
