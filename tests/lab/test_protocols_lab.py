"""Protocols on the real chain: HTTP/2 through ALPN, 421 for misdirected requests, what a client without SNI
gets. Pass cases on the healthy lab; each fail case breaks the lab for real and restores it (issue 23)."""

from __future__ import annotations

from ingresscheck.results import Status
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

from .changes import check, lb_faults, results

LB_HOSTS = {"api.example.test", "wordpress.example.test", "www.example.test"}  # TLS terminated by HAProxy


def test_healthy_lab_passes_alpn_h2_and_421_and_reports_no_fail_or_error(lab: Lab) -> None:
    # Given the healthy lab, when the protocol probes run
    rep = check(lab, ["dns", "tls", "sni", "http"])
    # Then nothing fails or errors, and every address offers h2 and serves h2 like HTTP/1.1
    bad = [(r.check, r.host, r.message) for r in rep.results if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    assert {r.status for r in results(rep, "http.alpn")} == {Status.PASS}
    assert {r.status for r in results(rep, "http.h2")} == {Status.PASS}
    # the LB answers 421 for a host its wildcard does not cover; Traefik's own hosts say it does not support it
    misdirected = {r.host: r for r in results(rep, "tls.misdirected", kind="Ingress")}  # Envoy's routes: their own
    assert {h for h, r in misdirected.items() if r.status is Status.PASS} == LB_HOSTS
    shop = misdirected["shop.apps.test"]
    assert shop.status is Status.SKIP and "not supported by this implementation" in shop.message
    assert results(rep, "tls.no_sni", "shop.apps.test", "Ingress")[0].status is Status.PASS


def test_http2_disabled_at_the_lb_fails_http_alpn_and_skips_http_h2(lab: Lab) -> None:
    # Given HAProxy's wildcard frontend without `alpn h2,http/1.1`
    with lb_faults(lab, LbFaults(http2_disabled=True)):
        rep = check(lab, ["dns", "tls", "http"])
    # Then the hosts it terminates fail http.alpn (the lab's profile expects h2); Traefik's still pass
    failed = {r.host for r in results(rep, "http.alpn") if r.status is Status.FAIL}
    assert failed == LB_HOSTS
    api = results(rep, "http.alpn", "api.example.test")[0]
    assert "does not offer HTTP/2" in api.message and api.subject == "127.0.0.10:443"
    assert results(rep, "http.h2", "api.example.test")[0].status is Status.SKIP
    assert results(rep, "http.alpn", "shop.apps.test")[0].status is Status.PASS


def test_lb_serving_hosts_its_certificate_does_not_cover_fails_tls_misdirected(lab: Lab) -> None:
    # Given HAProxy without its 421 rule (coalescing allowed)
    with lb_faults(lab, LbFaults(coalescing=True)):
        rep = check(lab, ["dns", "tls", "sni"])
    # Then a connection opened for api.example.test and asked for another certificate's host is a fail
    r = results(rep, "tls.misdirected", "api.example.test")[0]
    assert r.status is Status.FAIL and "instead of 421" in r.message
    assert r.evidence["connection_sni"] == "api.example.test" and r.evidence["asked_host"] != "api.example.test"
