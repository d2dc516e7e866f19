"""Protocols on the real chain: HTTP/2 through ALPN, 421 for misdirected requests, what a client without SNI
gets, WebSocket upgrades, gRPC health. Pass cases on the healthy lab; each fail case breaks the lab for real
and restores it (issue 23)."""

from __future__ import annotations

from ingresscheck.results import Status
from ingresscheck_lab import protocols
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.objects import Pod, service_with_pods
from ingresscheck_lab.render import LbFaults

from .changes import check, converge, lb_faults, replaced, results, status_of

LB_HOSTS = {"api.example.test", "wordpress.example.test", "www.example.test"}  # TLS terminated by HAProxy
NS = protocols.PROTOCOLS_NS


def test_healthy_lab_passes_alpn_h2_and_421_and_reports_no_fail_or_error(lab: Lab) -> None:
    # Given the healthy lab, when the protocol probes run on the demo and on the protocol backends' namespace
    rep = check(lab, ["dns", "tls", "sni", "http", "websocket", "routing"])
    grpc = check(lab, ["dns", "tls", "sni", "http", "grpc", "routing"], namespace=NS)
    # Then nothing fails or errors, and every address offers h2 and serves h2 like HTTP/1.1
    bad = [
        (r.check, r.host, r.message) for x in (rep, grpc) for r in x.results if r.status in (Status.FAIL, Status.ERROR)
    ]
    assert bad == []
    assert {r.status for r in results(rep, "http.alpn")} == {Status.PASS}
    assert {r.status for r in results(rep, "http.h2")} == {Status.PASS}
    # the LB answers 421 for a host its wildcard does not cover; Traefik's own hosts say it does not support it
    misdirected = {r.host: r for r in results(rep, "tls.misdirected", kind="Ingress")}  # Envoy's routes: their own
    assert {h for h, r in misdirected.items() if r.status is Status.PASS} == LB_HOSTS
    shop = misdirected["shop.apps.test"]
    assert shop.status is Status.SKIP and "not supported by this implementation" in shop.message
    assert results(rep, "tls.no_sni", "shop.apps.test", "Ingress")[0].status is Status.PASS
    # the profile's WebSocket hosts upgrade and echo, through the LB's termination and Traefik's passthrough
    upgraded = {r.host for r in results(rep, "websocket.upgrade", kind="Ingress") if r.status is Status.PASS}
    assert upgraded == {"api.example.test", "shop.apps.test"}
    # the gRPC pod answers SERVING for the profile's service, through the LB (h2c on) and Traefik (h2c to the pod)
    health = results(grpc, "grpc.health", protocols.GRPC_HOST)[0]
    assert health.status is Status.PASS and "SERVING" in health.message, health.message
    assert health.evidence["grpc_service"] == protocols.GRPC_SERVICE


def test_http2_disabled_at_the_lb_fails_http_alpn_and_skips_http_h2(lab: Lab) -> None:
    # Given HAProxy's wildcard frontend without `alpn h2,http/1.1`
    with lb_faults(lab, LbFaults(http2_disabled=True)):
        # HAProxy's graceful reload hands over to the new worker a moment after the signal: wait for it
        rep = converge(
            lambda: check(lab, ["dns", "tls", "http"]), status_of("http.alpn", Status.FAIL, "api.example.test")
        )
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
        rep = converge(
            lambda: check(lab, ["dns", "tls", "sni"]), status_of("tls.misdirected", Status.FAIL, "api.example.test")
        )
    # Then a connection opened for api.example.test and asked for another certificate's host is a fail
    r = results(rep, "tls.misdirected", "api.example.test")[0]
    assert r.status is Status.FAIL and "instead of 421" in r.message
    assert r.evidence["connection_sni"] == "api.example.test" and r.evidence["asked_host"] != "api.example.test"


def test_lb_refusing_websocket_upgrades_fails_websocket_upgrade_with_its_status(lab: Lab) -> None:
    # Given HAProxy answering WebSocket upgrades with 403 (a WAF rule)
    with lb_faults(lab, LbFaults(websocket_refused=True)):
        rep = converge(
            lambda: check(lab, ["dns", "tls", "websocket"]),
            status_of("websocket.upgrade", Status.FAIL, "api.example.test"),
        )
    # Then the host it terminates fails naming the status; the passthrough host still upgrades
    api = results(rep, "websocket.upgrade", "api.example.test")[0]
    assert api.status is Status.FAIL and "403" in api.message and "not 101" in api.message
    assert results(rep, "websocket.upgrade", "shop.apps.test")[0].status is Status.PASS


def _grpc_ingress(lab: Lab, annotations: dict[str, str]) -> dict:
    obj = next(o for o in protocols.protocol_objects(lab.layout) if o["kind"] == "Ingress")
    obj["metadata"]["annotations"] = annotations
    return obj


def test_grpc_backend_spoken_to_in_http1_fails_grpc_health(lab: Lab) -> None:
    # Given the gRPC Ingress without backend-protocol GRPC (still marked as a gRPC host): Traefik speaks
    # HTTP/1.1 to the h2c-only pod
    with replaced(lab, _grpc_ingress(lab, {"ingresscheck.io/grpc": "true"})):
        rep = converge(
            lambda: check(lab, ["dns", "tls", "grpc"], namespace=NS),
            status_of("grpc.health", Status.FAIL, protocols.GRPC_HOST),
        )
    # Then grpc.health fails: the chain no longer carries gRPC to the server
    r = results(rep, "grpc.health", protocols.GRPC_HOST)[0]
    assert r.status is Status.FAIL, r.message
    assert "SERVING" not in r.message


def test_grpc_backend_down_fails_grpc_health(lab: Lab) -> None:
    # Given the gRPC Service's endpoint moved to an address where nothing listens (the pod is down)
    pods = [Pod("grpc-health", "grpc-health-0", NS, "127.0.0.48")]
    down = service_with_pods("grpc-health", NS, pods, protocols.GRPC_PORT)[1]
    with replaced(lab, down):
        rep = converge(
            lambda: check(lab, ["dns", "tls", "grpc"], namespace=NS),
            status_of("grpc.health", Status.FAIL, protocols.GRPC_HOST),
        )
    # Then grpc.health fails naming what came back instead of SERVING
    r = results(rep, "grpc.health", protocols.GRPC_HOST)[0]
    assert r.status is Status.FAIL and ("UNAVAILABLE" in r.message or "HTTP 5" in r.message), r.message


def test_lb_without_hsts_fails_tls_hsts_where_the_profile_requires_it(lab: Lab) -> None:
    # Given the LB no longer sending Strict-Transport-Security, and a profile that requires HSTS
    with lb_faults(lab, LbFaults(hsts_removed=True)):
        rep = converge(
            lambda: check(lab, ["dns", "tls", "hsts"], hsts_required=True),
            status_of("tls.hsts", Status.FAIL, "api.example.test"),
        )
    # Then every host the LB terminates fails tls.hsts saying no header came, at the LB's address
    failed = {r.host for r in results(rep, "tls.hsts", kind="Ingress") if r.status is Status.FAIL}
    assert LB_HOSTS <= failed
    api = results(rep, "tls.hsts", "api.example.test", "Ingress")[0]
    assert "no Strict-Transport-Security header" in api.message and api.evidence["hsts"] == "none"
    # and with the LB healthy again the same profile passes it (max-age 15724800; includeSubDomains)
    # (HAProxy's reload hands over a moment after the signal: wait for it)
    healthy = converge(
        lambda: check(lab, ["dns", "tls", "hsts"], hsts_required=True),
        status_of("tls.hsts", Status.PASS, "api.example.test"),
    )
    assert results(healthy, "tls.hsts", "api.example.test", "Ingress")[0].status is Status.PASS
