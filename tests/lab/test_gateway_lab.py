"""Gateway API on the lab: a healthy run passes for routes, and every Gateway API check's fail case is made by
changing the lab for real (each test puts it back). Routes live in demo and gw-team: discovery is cluster-wide."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ingresscheck import runner
from ingresscheck.discovery.kube import discover
from ingresscheck.kube import connect
from ingresscheck.probes.canary import CanaryProbe
from ingresscheck.probes.dns import DnsProbe
from ingresscheck.probes.gateway import GatewayProbe
from ingresscheck.probes.httproute import HttpRouteProbe
from ingresscheck.probes.redirect import RedirectProbe
from ingresscheck.probes.tls import TlsProbe
from ingresscheck.profile import load
from ingresscheck.results import Report, Result, Status
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab

from . import changes

Obj = dict[str, Any]
PROBES = {p.name: p for p in (DnsProbe, RedirectProbe, TlsProbe, GatewayProbe, HttpRouteProbe, CanaryProbe)}
GW_CHECKS = ("gateway", "httproute", "canary")


def check(lab: Lab, probes: list[str]) -> Report:
    profile = load(lab.layout.profile)
    inventory = discover(connect(lab.layout.kubeconfig, "lab"))
    return runner.run(runner.plan(PROBES, probes, None), profile, inventory, runner.RunOptions())


def results(rep: Report, check_id: str, name: str | None = None, status: Status | None = None) -> list[Result]:
    return [
        r
        for r in rep.results
        if r.check == check_id and (name is None or r.name == name) and (status is None or r.status is status)
    ]


def converge(fn: Callable[[], Report], until: Callable[[Report], bool], timeout: float = 30.0) -> Report:
    """Traefik applies and writes Gateway statuses asynchronously: a longer bound than for Ingresses."""
    return changes.converge(fn, until, timeout=timeout)


def healthy(rep: Report) -> bool:
    return not [r for r in rep.results if r.probe in GW_CHECKS and r.status in (Status.FAIL, Status.ERROR)]


def _wait_healthy(lab: Lab) -> None:
    converge(lambda: check(lab, ["dns", "gateway", "httproute"]), healthy)


def temporary(lab: Lab, *objs: Obj) -> contextlib.AbstractContextManager[None]:
    return changes.temporary(lab, *objs, restored=_wait_healthy)


@contextmanager
def removed(lab: Lab, obj: Obj) -> Iterator[None]:
    res = lab.writer()
    original = res.get(obj)
    assert original is not None
    res.delete(obj)
    try:
        yield
    finally:
        back = {k: v for k, v in original.items() if k != "status"}
        back["metadata"] = {
            k: v for k, v in original["metadata"].items() if k in ("name", "namespace", "labels", "annotations")
        }
        res.create(back)
        _wait_healthy(lab)


def replaced(lab: Lab, new: Obj) -> contextlib.AbstractContextManager[None]:
    return changes.replaced(lab, new, restored=_wait_healthy)


def _slice(service: str, ips: list[str]) -> Obj:
    pods = [objects.Pod(service, f"{service}-x{i}", "demo", ip) for i, ip in enumerate(ips)]
    return objects.service_with_pods(service, "demo", pods, 8080)[1]


def _route(name: str, hostnames: list[str], service: str = "shop") -> Obj:
    return objects.http_route(name, "demo", hostnames, [objects.rule(backends=[objects.backend(service)])])


# --- healthy -----------------------------------------------------------------------------------------
def test_a_healthy_lab_passes_every_gateway_check_and_the_chain_for_routes(lab: Lab) -> None:
    rep = check(lab, ["dns", "redirect", "tls", "gateway", "httproute", "canary"])
    routes = [r for r in rep.results if r.kind == "HTTPRoute" or r.probe in GW_CHECKS]
    bad = [f"{r.check} {r.name} {r.subject}: {r.message}" for r in routes if r.status in (Status.FAIL, Status.ERROR)]
    assert bad == []
    for spec in GatewayProbe.checks + HttpRouteProbe.checks + CanaryProbe.checks:
        assert results(rep, spec.id, status=Status.PASS), f"{spec.id} never passed"
    hosts = {r.host for r in rep.results if r.kind == "HTTPRoute" and r.host}
    assert {"app.gw.test", "canary.gw.test", "team.gw.test"} <= hosts
    redirect = [r for r in results(rep, "redirect.https", "app") if r.status is Status.PASS]
    assert redirect and redirect[0].evidence["response"]["status"] == 301  # the route's RequestRedirect filter
    assert all(r.ingress is None for r in rep.results if r.kind == "HTTPRoute")


# --- fail cases ----------------------------------------------------------------------------------------
def test_a_route_for_another_domain_attaches_nowhere_and_is_not_accepted(lab: Lab) -> None:
    with temporary(lab, _route("nowhere", ["nowhere.other.test"])):
        rep = converge(
            lambda: check(lab, ["gateway"]),
            lambda rep: bool(results(rep, "gateway.route_accepted", "nowhere", Status.FAIL)),
        )
    attached = results(rep, "gateway.route_attached", "nowhere")
    assert attached[0].status is Status.FAIL and "intersect no listener hostname" in attached[0].message
    accepted = results(rep, "gateway.route_accepted", "nowhere")[0]
    assert accepted.status is Status.FAIL and "Accepted=False" in accepted.message


def test_a_missing_reference_grant_fails_the_grant_and_resolved_refs(lab: Lab) -> None:
    grant = {"kind": "ReferenceGrant", "metadata": {"name": "team-routes-to-shop", "namespace": "demo"}}
    with removed(lab, grant):
        rep = converge(
            lambda: check(lab, ["gateway"]),
            lambda rep: bool(results(rep, "gateway.route_resolved_refs", "team", Status.FAIL)),
        )
    assert results(rep, "gateway.reference_grant", "team")[0].status is Status.FAIL
    refs = results(rep, "gateway.route_resolved_refs", "team")[0]
    assert refs.status is Status.FAIL and "RefNotPermitted" in refs.message


def test_a_gateway_of_an_unknown_class_has_no_status_and_no_address(lab: Lab) -> None:
    gw = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "orphan", "namespace": "demo", "labels": {objects.LAB_LABEL: "true"}},
        "spec": {"gatewayClassName": "nobody", "listeners": [{"name": "http", "protocol": "HTTP", "port": 30080}]},
    }
    with temporary(lab, gw):
        rep = check(lab, ["gateway"])
    for check_id in ("gateway.class_accepted", "gateway.programmed", "gateway.address", "gateway.listener"):
        got = results(rep, check_id, "orphan")
        assert got and got[0].status is Status.FAIL, check_id


def test_a_listener_on_a_port_traefik_does_not_serve_is_not_programmed(lab: Lab) -> None:
    gw = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "odd-port", "namespace": "demo", "labels": {objects.LAB_LABEL: "true"}},
        "spec": {
            "gatewayClassName": objects.GATEWAY_CLASS,
            "listeners": [{"name": "http", "protocol": "HTTP", "port": 31999, "hostname": "*.odd.test"}],
        },
    }
    with temporary(lab, gw):
        rep = converge(
            lambda: check(lab, ["gateway"]), lambda rep: bool(results(rep, "gateway.listener", "odd-port", Status.FAIL))
        )
    listener = results(rep, "gateway.listener", "odd-port")[0]
    assert listener.status is Status.FAIL and listener.subject == "Gateway demo/odd-port listener http"


def test_a_hostname_deeper_than_the_certificate_wildcard_fails_the_certificate(lab: Lab) -> None:
    with temporary(lab, _route("deep", ["a.deep.gw.test"])):
        rep = converge(
            lambda: check(lab, ["gateway"]), lambda rep: bool(results(rep, "gateway.certificate", status=Status.FAIL))
        )
    failed = results(rep, "gateway.certificate", status=Status.FAIL)
    assert "a.deep.gw.test (HTTPRoute demo/deep)" in failed[0].message
    assert results(rep, "gateway.route_attached", "deep")[0].status is Status.PASS  # the listener accepts it


def test_no_endpoints_fail_backend_endpoints_and_the_header_matched_rule(lab: Lab) -> None:
    """Given api-docs without endpoints, then the static check says so and X-Docs-Version: v2 no longer reaches it."""
    with replaced(lab, {**_slice("api-docs", []), "endpoints": []}):
        rep = converge(
            lambda: check(lab, ["dns", "gateway", "httproute"]),
            lambda rep: bool(results(rep, "httproute.header_match", "app", Status.FAIL)),
        )
    assert [r.subject for r in results(rep, "gateway.backend_endpoints", "app", Status.FAIL)] == [
        "Service demo/api-docs port 80"
    ]
    header = results(rep, "httproute.header_match", "app")[0]
    assert header.status is Status.FAIL and "with the headers" in header.message


def test_a_catch_all_route_takes_unknown_hostnames(lab: Lab) -> None:
    catch_all = objects.http_route("catch-all", "demo", [], [objects.rule(backends=[objects.backend("shop")])])
    del catch_all["spec"]["hostnames"]
    with temporary(lab, catch_all):
        rep = converge(
            lambda: check(lab, ["dns", "httproute"]),
            lambda rep: bool(results(rep, "httproute.unknown_host", status=Status.FAIL)),
        )
    failed = results(rep, "httproute.unknown_host", "app")[0]
    assert failed.status is Status.FAIL and "demo/shop" in failed.message


def test_a_canary_whose_endpoints_are_the_stable_pod_breaks_the_split(lab: Lab) -> None:
    """Given web-canary's slice pointing at the web-stable pod, then every answer is web-stable: not 90/10."""
    with replaced(lab, _slice("web-canary", ["127.0.0.16"])):
        rep = converge(
            lambda: check(lab, ["dns", "canary"]),
            lambda rep: bool(results(rep, "canary.weights", "canary", Status.FAIL)),
        )
    failed = results(rep, "canary.weights", "canary")[0]
    assert failed.status is Status.FAIL and "demo/web-canary 0/" in failed.message
    assert failed.evidence["counts"] == {"demo/web-stable": failed.evidence["requests"]}


@pytest.mark.parametrize("host", ["app.gw.test", "team.gw.test"])
def test_lab_sync_writes_a_dns_record_per_route_hostname(lab: Lab, host: str) -> None:
    assert f"{lab.layout.vip} {host}" in (lab.layout.conf / "apps.hosts").read_text().splitlines()
