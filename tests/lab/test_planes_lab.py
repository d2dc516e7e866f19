"""Each target checked at its own address (issue 17, case 4), on the lab with both data planes: Traefik behind
the LB (127.0.0.10) and Envoy Gateway (127.0.0.30), whose HTTPRoutes demo/parity-eg-* are the demo's Ingresses
as routes on Gateway eg/parity. DNS sends their hosts to 127.0.0.10 (the migration has not switched DNS yet):
the routes must be judged on what Envoy serves, not on what Traefik serves."""

from __future__ import annotations

import copy
from typing import Any

from ingresscheck.probes import registry
from ingresscheck.results import Report, Result, Status
from ingresscheck_lab import envoy_gateway as eg
from ingresscheck_lab.lab import Lab

from .changes import check, converge, replaced, results

HOST = "api.example.test"
ROUTE = eg.ROUTE_PREFIX + "api"
TRAEFIK = "127.0.0.10"
EVERY = [p for p in registry() if p != "reload"]  # reload changes the cluster; test_reload_lab has it
CHAIN = ["dns", "tls", "routing", "httproute", "ownership"]


def _of(report: Report, check_id: str, name: str) -> list[Result]:
    return [r for r in results(report, check_id, HOST) if r.name == name]


def _route(lab: Lab) -> dict[str, Any]:
    found = lab.writer().get({"kind": "HTTPRoute", "metadata": {"namespace": "demo", "name": ROUTE}})
    assert found is not None, "the parity routes are missing"
    return {k: v for k, v in found.items() if k != "status"}


def _v1_to(route: dict[str, Any], service: str) -> dict[str, Any]:
    new = copy.deepcopy(route)
    for rule in new["spec"]["rules"]:
        if any((m.get("path") or {}).get("value") == "/v1" for m in rule.get("matches") or []):
            rule["backendRefs"] = [{"name": service, "port": 80}]
    return new


def _v1(report: Report, name: str) -> list[Result]:
    return [r for r in _of(report, "routing.backend", name) if (r.subject or "").startswith("/v1 ")]


def test_with_both_data_planes_the_healthy_lab_has_no_fail_and_routes_are_checked_at_their_gateway(
    envoy: Lab,
) -> None:
    """Given both data planes, then no check fails or errs; the route's chain goes to 127.0.0.30 only, and
    dns.lb_address says DNS's 127.0.0.10 is the Ingress controller's, serving the host with Ingress demo/api."""
    rep = converge(
        lambda: check(envoy, EVERY, namespace=None),
        lambda rep: (
            bool(_of(rep, "routing.backend", ROUTE))
            and not [r for r in rep.results if r.status in (Status.FAIL, Status.ERROR)]
        ),
        timeout=30,
    )
    bad = [(r.check, r.host, r.subject, r.message) for r in rep.results if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    backend = _of(rep, "routing.backend", ROUTE)
    assert backend and all(f"via {eg.VIP}:443" in (r.subject or "") for r in backend), [r.subject for r in backend]
    assert {r.status for r in backend} == {Status.PASS}
    ingress = _of(rep, "routing.backend", "api")
    assert ingress and all(f"via {TRAEFIK}:443" in (r.subject or "") for r in ingress)
    [lb] = _of(rep, "dns.lb_address", ROUTE)
    assert lb.status is Status.PASS and lb.subject == TRAEFIK
    assert "controller k8s.io/ingress-nginx" in lb.message and "Ingress demo/api" in lb.message
    assert f"checked at {eg.VIP}" in lb.message
    # Envoy resets the handshake for a name no listener of eg/parity covers: no site, no backend (not a 404)
    unknown = [r for r in results(rep, "routing.unknown_host", "shop.apps.test") if r.name == eg.ROUTE_PREFIX + "shop"]
    assert unknown and all(r.status is Status.PASS and "refused at the TLS handshake" in r.message for r in unknown)


def test_a_route_envoy_serves_correctly_passes_although_traefik_serves_the_host_otherwise(envoy: Lab) -> None:
    """Given parity-eg-api's /v1 moved to Service api-docs (Envoy serves it so; Traefik still serves the Ingress's
    api), then routing.backend passes the route at 127.0.0.30 naming api-docs, and the Ingress at 127.0.0.10."""
    with replaced(envoy, _v1_to(_route(envoy), "api-docs")):
        rep = converge(
            lambda: check(envoy, CHAIN, namespace=None),
            lambda rep: any("api-docs" in r.message for r in _v1(rep, ROUTE)),
            timeout=30,
        )
    route, ingress = _v1(rep, ROUTE), _v1(rep, "api")
    assert route and {r.status for r in route} == {Status.PASS}, [r.message for r in route]
    assert all(f"via {eg.VIP}:443" in (r.subject or "") and "api-docs" in r.message for r in route)
    assert ingress and {r.status for r in ingress} == {Status.PASS}
    assert all(f"via {TRAEFIK}:443" in (r.subject or "") for r in ingress)
    assert not [r for r in rep.results if r.name == ROUTE and r.status in (Status.FAIL, Status.ERROR)]


def test_a_broken_envoy_route_fails_naming_the_envoy_address(envoy: Lab) -> None:
    """Given parity-eg-api's /v1 sent to a Service that does not exist (Envoy answers 500; Traefik, which DNS
    points at, still serves /v1), then routing.backend fails the route naming 127.0.0.30, and the Ingress passes."""
    with replaced(envoy, _v1_to(_route(envoy), "ingresscheck-missing")):
        rep = converge(
            lambda: check(envoy, CHAIN, namespace=None),
            lambda rep: any(r.status is Status.FAIL for r in _v1(rep, ROUTE)),
            timeout=30,
        )
    route = _v1(rep, ROUTE)
    assert route and {r.status for r in route} == {Status.FAIL}, [r.message for r in route]
    assert all(f"via {eg.VIP}:443" in (r.subject or "") for r in route)
    ingress = _v1(rep, "api")
    assert ingress and {r.status for r in ingress} == {Status.PASS}
