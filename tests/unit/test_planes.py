"""Where each target is checked (issue 17, case 4): the addresses its own Ingress or Gateway publishes, and
what DNS says when it points at another data plane. Objects as a controller leaves them; DNS from a real
UDP server."""

from __future__ import annotations

from typing import Any

from ingresscheck.discovery import Inventory
from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import by_check, ingress, run_probes
from .servers import dns_server

TRAEFIK, ENVOY = "127.0.0.10", "127.0.0.30"
Obj = dict[str, Any]


def _ok(kind: str) -> Obj:
    return {"type": kind, "status": "True", "reason": kind}


def _objects(route_host: str = "api.example.test") -> dict[str, list[Obj]]:
    """Ingress demo/api on ingress-nginx's class (status: TRAEFIK) and its twin HTTPRoute demo/parity-eg-api
    on Gateway eg/parity (status: ENVOY)."""
    api = ingress("api", "api.example.test", status_ip=TRAEFIK, service="api")
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "parity", "namespace": "eg"},
        "spec": {
            "gatewayClassName": "eg",
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": 80,
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }
            ],
        },
        "status": {
            "addresses": [{"type": "IPAddress", "value": ENVOY}],
            "conditions": [_ok("Accepted"), _ok("Programmed")],
            "listeners": [{"name": "http", "attachedRoutes": 1, "conditions": [_ok("Accepted"), _ok("Programmed")]}],
        },
    }
    parent = {"name": "parity", "namespace": "eg", "sectionName": "http"}
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "parity-eg-api", "namespace": "demo"},
        "spec": {
            "parentRefs": [parent],
            "hostnames": [route_host],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [{"name": "api", "port": 80}],
                }
            ],
        },
        "status": {
            "parents": [
                {
                    "parentRef": parent,
                    "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
                    "conditions": [_ok("Accepted"), _ok("ResolvedRefs")],
                }
            ]
        },
    }
    classes = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    ]
    gclass = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "eg"},
        "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
        "status": {"conditions": [_ok("Accepted")]},
    }
    return {
        "ingresses": [api],
        "ingress_classes": classes,
        "gateways": [gateway],
        "gateway_classes": [gclass],
        "http_routes": [route],
    }


def _inventory(**objs: list[Obj]) -> Inventory:
    return Inventory(context="unit", server="local", **objs)


def _target(inv: Inventory, kind: str) -> Any:
    return next(t for t in inv.targets if t.kind == kind)


def test_a_route_whose_host_resolves_to_another_data_plane_is_checked_at_its_own_gateway_only() -> None:
    """Given an HTTPRoute on Gateway eg/parity (ENVOY) whose host resolves to the Ingress controller's TRAEFIK,
    then its chain goes to ENVOY and TRAEFIK is named as another data plane's, serving the host with the Ingress."""
    inv = _inventory(**_objects())
    route = _target(inv, "HTTPRoute")
    where = inv.planes.where(route, [TRAEFIK], "DNS", pinned=False, family=None)
    assert where.addresses == (ENVOY,)
    assert [(e.address, e.planes, e.serving) for e in where.elsewhere] == [
        (TRAEFIK, ("controller k8s.io/ingress-nginx",), ("Ingress demo/api",))
    ]
    assert "published by Gateway eg/parity" in where.source


def test_the_ingress_at_its_own_address_and_a_pinned_address_are_unchanged() -> None:
    """Given the Ingress whose DNS is its own status address, then it is checked there only; given --resolve,
    then only the pinned address, whatever the route's Gateway publishes."""
    inv = _inventory(**_objects())
    assert inv.planes.where(_target(inv, "Ingress"), [TRAEFIK], "DNS", pinned=False, family=None).addresses == (
        TRAEFIK,
    )
    route = _target(inv, "HTTPRoute")
    assert inv.planes.where(route, [TRAEFIK], "override", pinned=True, family=None).addresses == (TRAEFIK,)


def test_an_address_no_data_plane_publishes_is_checked_beside_the_own_one() -> None:
    """Given DNS pointing at an address nobody publishes (a stale record), then both that address (what
    clients get) and the Gateway's own are checked, each its own subject."""
    inv = _inventory(**_objects())
    where = inv.planes.where(_target(inv, "HTTPRoute"), ["127.0.0.99"], "DNS", pinned=False, family=None)
    assert where.addresses == ("127.0.0.99", ENVOY) and where.elsewhere == ()


def test_dns_lb_address_names_whose_address_dns_points_to() -> None:
    """Given the route's host resolving to TRAEFIK, then dns.lb_address names the controller and the Ingress
    serving it there (a pass when TRAEFIK is the profile's load balancer, else a warning), and passes for the
    Ingress; for a host only the route claims, it fails: clients reach a data plane that does not serve it."""
    objs = _objects()
    with dns_server({"api.example.test": [TRAEFIK]}) as server:
        report = run_probes(["dns"], Profile(dns_servers=(server,), load_balancers=(TRAEFIK,)), **objs)
        unlisted = run_probes(["dns"], Profile(dns_servers=(server,)), **objs)
    lb = {r.kind: r for r in by_check(report, "dns.lb_address", "api.example.test")}
    assert lb["Ingress"].status is Status.PASS
    listed = lb["HTTPRoute"]  # the profile's load balancer: where the host is meant to be, said whose it is
    assert listed.status is Status.PASS and listed.subject == TRAEFIK
    assert "the address of controller k8s.io/ingress-nginx (serving this host with Ingress demo/api)" in listed.message
    assert f"checked at {ENVOY}" in listed.message
    warn = {r.kind: r for r in by_check(unlisted, "dns.lb_address", "api.example.test")}["HTTPRoute"]
    assert warn.status is Status.WARN and "clients reach another data plane" in warn.message
    objs = _objects("new.example.test")
    with dns_server({"api.example.test": [TRAEFIK], "new.example.test": [TRAEFIK]}) as server:
        report = run_probes(["dns"], Profile(dns_servers=(server,), load_balancers=(TRAEFIK,)), **objs)
    [fail] = by_check(report, "dns.lb_address", "new.example.test")
    assert fail.status is Status.FAIL and "where nothing claims this host" in fail.message
    assert f"point the record at {ENVOY}" in fail.message
