"""Every result's identity (check, host, subject) is the same in two runs of the same cluster state: diff,
JUnit history and Prometheus series match verdicts on it (issue 26). Random probe names go to evidence."""

from __future__ import annotations

import json
import ssl
from dataclasses import replace
from http.server import BaseHTTPRequestHandler

import pytest
import trustme

from ingresscheck.probes import CheckSpec, Probe, ProbeContext, Severity, Step
from ingresscheck.profile import Profile
from ingresscheck.results import NONCE, Report, Status, nonce, without_nonces

from .helpers import ingress, one, run_probes
from .servers import dns_server, http_server

HOST = "api.example.test"


def _echo(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    if not (req.path == "/v1" or req.path.startswith("/v1/")):
        return 404, {}, b"404 page not found\n"
    body = json.dumps({"service": "web", "namespace": "demo", "pod": "web-0", "path": req.path})
    return 200, {"Content-Type": "application/json"}, body.encode()


def _identities(report: Report) -> set[tuple[str, str | None, str | None]]:
    return {(r.check, r.host, r.subject) for r in report.results}


def test_two_runs_of_the_same_hosts_give_the_same_identities_and_the_nonces_sit_in_evidence() -> None:
    """Given one host served over TLS, when dns, tls and routing run twice, then both runs report the same set
    of (check, host, subject), no subject carries a random string, and path_type's random path is evidence."""
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "*.example.test").configure_cert(tls)
    with (
        http_server(_echo, tls=tls) as (ip, port),
        dns_server({}, wildcard={"example.test": ip}) as dns,
        ca.cert_pem.tempfile() as bundle,
    ):
        profile = Profile(dns_servers=(dns,), load_balancers=(ip,), https_port=port, ca_bundle=bundle)
        profile = replace(profile, thresholds=replace(profile.thresholds, timeout=2.0))
        runs = [
            run_probes(["dns", "tls", "routing"], profile, [ingress("api", HOST, path="/v1", service="web")])
            for _ in range(2)
        ]
    first, second = (_identities(r) for r in runs)
    assert first == second
    assert len(first) == len(runs[0].results)  # and each identity names one verdict
    assert not [s for _, _, s in first if s and NONCE.search(s)]
    paths = [r for r in runs[0].results if r.check == "routing.path_type"]
    assert {r.subject for r in paths} == {f"/v1/<nonce> via {ip}:{port}", f"/v1<nonce> via {ip}:{port}"}
    for r in paths:
        assert NONCE.fullmatch(r.evidence["nonce"]) and r.evidence["nonce"] in r.evidence["path"]
        assert r.evidence["path"] in r.message  # the reader still sees the path that was sent


class _Careless(Probe):
    name = "careless"
    checks = (CheckSpec("careless.thing", Step.INGRESS, Severity.MINOR, "a probe putting a nonce in a subject", "-"),)

    async def run(self, ctx: ProbeContext) -> None:
        ctx.passed("careless.thing", "seen", subject=f"/x/{nonce('')}")


def test_a_subject_carrying_a_nonce_is_a_defect_of_the_probe_not_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a probe whose subject carries a per-run random string, then its result is the probe's defect (error),
    so such a probe cannot be written without a test noticing."""
    from ingresscheck import probes

    monkeypatch.setattr(probes, "_builtin", lambda: (_Careless,))
    r = one(run_probes(["careless"], Profile(), [ingress("a", HOST)]), "careless.thing")
    assert r.status is Status.ERROR and "per-run random string" in r.message


def test_nonces_are_recognised_in_every_form_a_probe_uses() -> None:
    """Given the three forms (path element, DNS label, query), then each is recognised and masked."""
    for sep in ("", "-", "="):
        token = nonce(sep)
        assert NONCE.fullmatch(token)
        assert without_nonces(f"GET /v1/{token} answered 404") == "GET /v1/‹nonce› answered 404"
    assert not NONCE.search("ingresscheck-wildcard.example.test")  # the wildcard's stable request host
