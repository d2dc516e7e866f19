"""Who serves this host (issue 17), on the real lab: a host taken over from a second namespace, an Ingress
claimed by two classes, an HTTPRoute losing to an older one, a selector-less Service with hand-made slices.
Each fixture is made for the test and removed after it; every report is also checked for static and routing
contradicting each other about a Service's endpoints."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from ingresscheck.results import Report, Status
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab

from .changes import check, converge, results, temporary

PROBES = ["dns", "tls", "routing", "static", "ownership"]
COUNT = re.compile(r"Service (\S+/\S+) has (\d+) ready endpoints?")


def assert_static_and_routing_agree(report: Report) -> None:
    """One fact per Service: every result that counts a Service's ready endpoints gives the same count, and
    no routing result says 'no ready endpoint' of a Service static.endpoints passes."""
    __tracebackhide__ = True
    counts: dict[str, set[int]] = {}
    for r in report.results:
        for service, n in COUNT.findall(r.message):
            counts.setdefault(service, set()).add(int(n))
    assert {s: c for s, c in counts.items() if len(c) > 1} == {}, "two checks count one Service's endpoints apart"
    passing = {
        m.group(1)
        for r in results(report, "static.endpoints")
        if r.status is Status.PASS and (m := COUNT.search(r.message))
    }
    for r in report.results:
        if r.probe == "routing":
            for service in passing:
                assert f"{service} has no ready endpoint" not in r.message, r.message


def _lab_ingress(name: str, ns: str, host: str, paths: list[tuple[str, str, str]]) -> dict:
    return objects.ingress(name, ns, host, paths)


def _pods(service: str, ns: str, pods: list[tuple[str, str]]) -> list[dict]:
    return objects.service_with_pods(service, ns, [objects.Pod(service, n, ns, ip) for n, ip in pods], 8080)


@pytest.fixture
def healthy_report(lab: Lab) -> Iterator[Report]:
    yield check(lab, PROBES, namespace=None)


def test_the_healthy_lab_has_one_owner_per_host_and_static_agrees_with_routing(healthy_report: Report) -> None:
    """Given the healthy lab, then every ownership check passes or is skipped, and static and routing agree."""
    rep = healthy_report
    assert {r.status for r in rep.results if r.probe == "ownership"} <= {Status.PASS, Status.SKIP}
    assert {r.check for r in rep.results if r.status is Status.PASS} >= {"ownership.claims", "ownership.controller"}
    assert_static_and_routing_agree(rep)


def test_a_host_taken_over_from_a_second_namespace_is_a_critical_fail_naming_both(lab: Lab) -> None:
    """Given an Ingress in gw-team claiming api.example.test's /v1 (demo's, older) and adding /admin, then
    ownership.claims fails for both claimants naming both and the predicted winner; /admin is served by the
    intruder (the merge), and ownership.served says whether /v1 went to demo/api as ingress-nginx's rule says."""
    fixture = [
        *_pods("takeover", objects.TEAM_NS, [("web-stable-0", "127.0.0.16")]),
        _lab_ingress(
            "api-takeover",
            objects.TEAM_NS,
            "api.example.test",
            [("/v1", "Prefix", "takeover"), ("/admin", "Prefix", "takeover")],
        ),
    ]
    with temporary(lab, *fixture):
        rep = converge(
            lambda: check(lab, PROBES, namespace=None),
            lambda rep: any(
                r.status is Status.PASS and "/admin" in (r.subject or "")
                for r in results(rep, "routing.backend", "api.example.test")
            ),
            timeout=30,
        )
    # Ingresses only: the host's HTTPRoute twin on Envoy Gateway (when the second data plane runs) is another plane
    claims = [r for r in results(rep, "ownership.claims", "api.example.test") if r.kind == "Ingress"]
    assert {(r.name, r.status) for r in claims} == {("api", Status.FAIL), ("api-takeover", Status.FAIL)}
    for r in claims:
        assert r.severity.value == "critical"
        assert "Ingress demo/api" in r.message and "Ingress gw-team/api-takeover" in r.message
        assert "from 2 namespaces (demo, gw-team)" in r.message
        assert "/v1 (Prefix): Ingress demo/api wins over Ingress gw-team/api-takeover" in r.message
    served = {r.name: r for r in results(rep, "ownership.served", "api.example.test")}
    checked = served["api"].evidence["checked"]
    answered = {who for c in checked for who in c["answered"]}
    # Traefik's replicas may disagree on identical routers: the verdict must say what the wire did
    if answered == {"Ingress demo/api"}:
        assert served["api"].status is Status.PASS
    else:
        assert served["api"].status is Status.FAIL and "gw-team/api-takeover" in served["api"].message
    assert served["api-takeover"].status is served["api"].status
    admin = [r for r in results(rep, "routing.backend", "api.example.test") if "/admin" in (r.subject or "")]
    assert admin and all(r.status is Status.PASS and "web-stable-0" in r.message for r in admin)
    assert_static_and_routing_agree(rep)


def test_an_ingress_claimed_by_two_classes_fails_ownership_controller(lab: Lab) -> None:
    """Given Ingress demo/twoclass with spec class nginx, then annotated (an update the API allows) with the
    legacy class traefik-legacy of another controller, then ownership.controller fails naming both classes."""
    legacy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "traefik-legacy", "labels": {objects.LAB_LABEL: "true"}},
        "spec": {"controller": "traefik.io/ingress-controller"},
    }
    ing = _lab_ingress("twoclass", objects.DEMO_NS, "twoclass.example.test", [("/", "Prefix", "api")])
    with temporary(lab, legacy, ing):
        lab.writer().patch(ing, {"metadata": {"annotations": {"kubernetes.io/ingress.class": "traefik-legacy"}}})
        rep = check(lab, ["dns", "ownership"], namespace=None)
    found = results(rep, "ownership.controller", "twoclass.example.test")
    assert [r.status for r in found] == [Status.FAIL]
    assert "claimed by 2 classes" in found[0].message
    assert "nginx (spec.ingressClassName) -> k8s.io/ingress-nginx" in found[0].message
    assert (
        "traefik-legacy (annotation kubernetes.io/ingress.class) -> traefik.io/ingress-controller" in found[0].message
    )


def test_an_httproute_losing_to_an_older_one_warns_and_path_type_expects_the_winner(lab: Lab) -> None:
    """Given HTTPRoute demo/app-shadow (newer) claiming app.gw.test's /v1 of demo/app with another backend,
    then ownership.claims warns (one namespace) naming demo/app as the winner, ownership.served passes when
    the Gateway serves demo/app, routing.backend fails the shadow's own /v1, and routing.path_type on the
    derived /v1 paths expects demo/app's backend for both routes (case 2)."""
    shadow = objects.http_route(
        "app-shadow",
        objects.DEMO_NS,
        ["app.gw.test"],
        [objects.rule("PathPrefix", "/v1", [objects.backend("web-canary")])],
    )
    with temporary(lab, shadow):
        rep = converge(
            lambda: check(lab, PROBES, namespace=None),
            lambda rep: (
                bool(results(rep, "ownership.claims", "app.gw.test"))
                and any(r.name == "app-shadow" for r in results(rep, "routing.backend", "app.gw.test"))
            ),
            timeout=30,
        )
    claims = {r.name: r for r in results(rep, "ownership.claims", "app.gw.test")}
    assert claims["app"].status is Status.WARN and claims["app-shadow"].status is Status.WARN
    assert "/v1 (Prefix): HTTPRoute demo/app wins over HTTPRoute demo/app-shadow" in claims["app"].message
    served = {r.name: r for r in results(rep, "ownership.served", "app.gw.test")}
    assert served["app"].status is Status.PASS, served["app"].message
    shadow_backend = [r for r in results(rep, "routing.backend", "app.gw.test") if r.name == "app-shadow"]
    assert shadow_backend and {r.status for r in shadow_backend} == {Status.FAIL}
    for name in ("app", "app-shadow"):
        derived = [
            r
            for r in results(rep, "routing.path_type", "app.gw.test")
            if r.name == name and (r.subject or "").startswith("/v1/")
        ]
        assert derived and all(r.status is Status.PASS and "demo/api" in r.message for r in derived), [
            r.message for r in derived
        ]
    assert_static_and_routing_agree(rep)


def test_a_selectorless_service_with_hand_made_slices_passes_routing_and_static(lab: Lab) -> None:
    """Given Service demo/external whose hand-made slice lists two addresses without targetRef (the api pods),
    then routing.backend passes by endpoint address and static.endpoints counts 2 ready endpoints."""
    svc, eps = objects.service_with_pods(
        "external",
        objects.DEMO_NS,
        [objects.Pod("external", "x", objects.DEMO_NS, ip) for ip in ("127.0.0.12", "127.0.0.13")],
        8080,
    )
    for ep in eps["endpoints"]:
        del ep["targetRef"]
    ing = _lab_ingress("external", objects.DEMO_NS, "external.example.test", [("/", "Prefix", "external")])
    with temporary(lab, svc, eps, ing):
        rep = converge(
            lambda: check(lab, PROBES, namespace=None),
            lambda rep: any(r.status is Status.PASS for r in results(rep, "routing.backend", "external.example.test")),
            timeout=30,
        )
    backend = results(rep, "routing.backend", "external.example.test")
    assert backend and {r.status for r in backend} == {Status.PASS}, [r.message for r in backend]
    assert all(r.evidence["identified_by"] == "endpoint address" for r in backend)
    static = [r for r in results(rep, "static.endpoints") if "demo/external" in r.message]
    assert [(r.status, r.message) for r in static] == [(Status.PASS, "Service demo/external has 2 ready endpoints")]
    assert {r.status for r in results(rep, "routing.path_type", "external.example.test")} == {Status.PASS}
    assert_static_and_routing_agree(rep)
