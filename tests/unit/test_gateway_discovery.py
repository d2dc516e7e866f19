"""Gateway API discovery and the static gateway checks, on the lab's own demo objects (no cluster):
targets per effective hostname and listener, the redirect filter as an expectation, cross-namespace
backends, and each static check's pass and fail."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import trustme
import yaml

from ingresscheck.discovery import manifests
from ingresscheck.discovery.inventory import Inventory
from ingresscheck.discovery.kube import secret_info
from ingresscheck.discovery.model import RedirectFilter
from ingresscheck.errors import UsageError
from ingresscheck.probes._contract import ProbeContext
from ingresscheck.probes.gateway import GatewayProbe
from ingresscheck.profile import Profile
from ingresscheck.results import Result, Status
from ingresscheck_lab import objects
from ingresscheck_lab.layout import LabLayout

Obj = dict[str, Any]
FIELDS = {
    "GatewayClass": "gateway_classes",
    "Gateway": "gateways",
    "HTTPRoute": "http_routes",
    "ReferenceGrant": "reference_grants",
    "Service": "services",
    "EndpointSlice": "endpoint_slices",
}


def _ok(kind: str) -> Obj:
    return {"type": kind, "status": "True", "reason": kind}


def _with_statuses(objs: list[Obj], layout: LabLayout) -> list[Obj]:
    """What a healthy controller writes: every condition true, the VIP as the address."""
    out = copy.deepcopy(objs)
    for o in out:
        if o["kind"] == "GatewayClass":
            o["status"] = {"conditions": [_ok("Accepted")]}
        elif o["kind"] == "Gateway":
            o["status"] = {
                "addresses": [{"type": "IPAddress", "value": layout.vip}],
                "conditions": [_ok("Accepted"), _ok("Programmed")],
                "listeners": [
                    {
                        "name": li["name"],
                        "attachedRoutes": 1,
                        "conditions": [_ok("Accepted"), _ok("Programmed"), _ok("ResolvedRefs")],
                    }
                    for li in o["spec"]["listeners"]
                ],
            }
        elif o["kind"] == "HTTPRoute":
            o["status"] = {
                "parents": [
                    {
                        "parentRef": p,
                        "controllerName": objects.GATEWAY_CONTROLLER,
                        "conditions": [_ok("Accepted"), _ok("ResolvedRefs")],
                    }
                    for p in o["spec"]["parentRefs"]
                ]
            }
    return out


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> LabLayout:
    return LabLayout.at(tmp_path_factory.mktemp("lab"))


class Cert(NamedTuple):
    cert_pem: bytes
    key_pem: bytes


@pytest.fixture(scope="module")
def gw_cert() -> Cert:
    leaf = trustme.CA().issue_cert("*.gw.test", common_name="*.gw.test")
    return Cert(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())


def inventory(layout: LabLayout, cert: Cert, *, change: Any = None, offline: bool = False) -> Inventory:
    objs = objects.demo_objects(layout, "admin:x\n", b"", b"") + objects.gateway_objects(
        layout, cert.cert_pem, cert.key_pem
    )
    objs = objs if offline else _with_statuses(objs, layout)
    if change:
        change(objs)
    inv = Inventory("test", "https://test", offline=offline)
    for o in objs:
        if o["kind"] in FIELDS:
            getattr(inv, FIELDS[o["kind"]]).append(o)
        elif o["kind"] == "Secret":
            inv.secrets[(o["metadata"]["namespace"], o["metadata"]["name"])] = secret_info(o)
    return inv


def run_gateway(inv: Inventory) -> list[Result]:
    ctx = ProbeContext(GatewayProbe, Profile(), inv, None, None, {})  # type: ignore[arg-type] - no network
    asyncio.run(GatewayProbe().run(ctx))
    return ctx.results


def by(results: list[Result], check: str, status: Status | None = None) -> list[Result]:
    return [r for r in results if r.check == check and (status is None or r.status is status)]


def _obj(objs: list[Obj], kind: str, name: str) -> Obj:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def test_targets_are_effective_hostnames_on_https_listeners_with_the_redirect_of_the_http_listener(
    layout: LabLayout, gw_cert: Cert
) -> None:
    inv = inventory(layout, gw_cert)
    routes = [t for t in inv.targets if t.kind == "HTTPRoute"]
    assert sorted((t.namespace, t.name, t.host) for t in routes) == [
        ("demo", "app", "app.gw.test"),
        ("demo", "canary", "canary.gw.test"),
        ("gw-team", "team", "team.gw.test"),
    ]
    app = next(t for t in routes if t.name == "app")
    assert (app.gateway, app.listener, app.listener_protocol, app.tls_secret_ref) == (
        "demo/lab-gateway",
        "https",
        "HTTPS",
        ("demo", "gw-wildcard-tls"),
    )
    assert app.redirect == RedirectFilter("https", None, None, 301, "demo/gw-redirect")
    assert app.redirect_expected(lb_redirects=False) and app.ingress == "app" and app.name == "app"
    assert app.status_addresses == (layout.vip,)
    assert [(r.path, r.path_type, r.service, r.headers) for r in app.paths] == [
        ("/v1", "Prefix", "api", ()),
        ("/healthz", "Exact", "api", ()),
        ("/reports/[0-9]+", "RegularExpression", "api-docs", ()),
        ("/docs", "Prefix", "api-docs", (("X-Docs-Version", "v2"),)),
        ("/docs", "Prefix", "shop", ()),
    ]
    canary = next(t for t in routes if t.name == "canary").paths[0]
    assert canary.service == "web-stable" and [(b.service, b.weight) for b in canary.backends] == [
        ("web-stable", 90),
        ("web-canary", 10),
    ]
    team = next(t for t in routes if t.name == "team").paths[0]
    assert (team.namespace, team.service) == ("demo", "shop")
    assert inv.route_problems == []


def test_inventory_round_trips_the_gateway_objects(layout: LabLayout, gw_cert: Cert) -> None:
    inv = inventory(layout, gw_cert)
    again = Inventory.from_dict(inv.to_dict())
    assert [t.id for t in again.targets] == [t.id for t in inv.targets]


def test_a_healthy_gateway_passes_every_static_check(layout: LabLayout, gw_cert: Cert) -> None:
    results = run_gateway(inventory(layout, gw_cert))
    assert {r.check for r in results} == {c.id for c in GatewayProbe.checks}
    assert [r for r in results if r.status is not Status.PASS] == []
    grant = by(results, "gateway.reference_grant")
    assert len(grant) == 1 and grant[0].kind == "HTTPRoute" and grant[0].name == "team"
    assert "team-routes-to-shop" in grant[0].message


def test_a_route_for_another_domain_attaches_nowhere(layout: LabLayout, gw_cert: Cert) -> None:
    def change(objs: list[Obj]) -> None:
        _obj(objs, "HTTPRoute", "canary")["spec"]["hostnames"] = ["canary.other.test"]

    inv = inventory(layout, gw_cert, change=change)
    failed = by(run_gateway(inv), "gateway.route_attached", Status.FAIL)
    assert len(failed) == 1 and failed[0].name == "canary"
    assert "attaches nowhere" in failed[0].message and "intersect no listener hostname" in failed[0].message
    assert all(t.name != "canary" for t in inv.targets)


def test_a_deeper_route_hostname_than_the_certificate_wildcard_fails_the_certificate(
    layout: LabLayout, gw_cert: Cert
) -> None:
    """Given team.eu.gw.test (the listener's *.gw.test accepts it), then the *.gw.test certificate does not cover it."""

    def change(objs: list[Obj]) -> None:
        _obj(objs, "HTTPRoute", "team")["spec"]["hostnames"] = ["team.eu.gw.test"]

    results = run_gateway(inventory(layout, gw_cert, change=change))
    assert by(results, "gateway.route_attached", Status.FAIL) == []
    failed = by(results, "gateway.certificate", Status.FAIL)
    assert len(failed) == 1 and "team.eu.gw.test (HTTPRoute gw-team/team)" in failed[0].message
    assert failed[0].evidence["uncovered"] == ["team.eu.gw.test"]


def test_a_missing_reference_grant_a_missing_service_and_no_endpoints_fail(layout: LabLayout, gw_cert: Cert) -> None:
    def change(objs: list[Obj]) -> None:
        objs.remove(_obj(objs, "ReferenceGrant", "team-routes-to-shop"))
        _obj(objs, "HTTPRoute", "canary")["spec"]["rules"][0]["backendRefs"][1]["name"] = "web-gone"
        _obj(objs, "EndpointSlice", "api-lab")["endpoints"] = []

    results = run_gateway(inventory(layout, gw_cert, change=change))
    assert [r.subject for r in by(results, "gateway.reference_grant", Status.FAIL)] == ["Service demo/shop port 80"]
    assert [r.message for r in by(results, "gateway.backend_service", Status.FAIL)] == [
        "Service demo/web-gone port 80 does not exist"
    ]
    assert {r.message for r in by(results, "gateway.backend_endpoints", Status.FAIL)} == {
        "Service demo/api has 0 ready endpoints"
    }


def test_false_conditions_fail_with_the_controllers_reason(layout: LabLayout, gw_cert: Cert) -> None:
    def change(objs: list[Obj]) -> None:
        route = _obj(objs, "HTTPRoute", "team")
        route["status"]["parents"][0]["conditions"][1] = {
            "type": "ResolvedRefs",
            "status": "False",
            "reason": "RefNotPermitted",
            "message": "no grant",
        }
        gw = _obj(objs, "Gateway", objects.GATEWAY_NAME)
        gw["status"]["addresses"] = []
        gw["status"]["listeners"][1]["conditions"][2] = {
            "type": "ResolvedRefs",
            "status": "False",
            "reason": "InvalidCertificateRef",
        }

    results = run_gateway(inventory(layout, gw_cert, change=change))
    refs = by(results, "gateway.route_resolved_refs", Status.FAIL)
    assert len(refs) == 1 and "ResolvedRefs=False (RefNotPermitted: no grant)" in refs[0].message
    assert by(results, "gateway.address", Status.FAIL)[0].message.endswith("has no address in its status")
    listener = by(results, "gateway.listener", Status.FAIL)
    assert len(listener) == 1 and "InvalidCertificateRef" in listener[0].message
    assert listener[0].subject == "Gateway demo/lab-gateway listener https"


def test_a_wrong_certificate_type_or_a_missing_secret_fails(layout: LabLayout, gw_cert: Cert) -> None:
    inv = inventory(layout, gw_cert)
    inv.secrets[("demo", "gw-wildcard-tls")] = None
    assert "does not exist" in by(run_gateway(inv), "gateway.certificate", Status.FAIL)[0].message


def test_manifests_skip_statuses_but_still_check_attachment(layout: LabLayout, gw_cert: Cert) -> None:
    results = run_gateway(inventory(layout, gw_cert, offline=True))
    assert {r.status for r in by(results, "gateway.programmed")} == {Status.SKIP}
    assert by(results, "gateway.route_accepted") == []
    assert {r.status for r in by(results, "gateway.route_attached")} == {Status.PASS}


def test_manifests_discovery_reads_gateway_api_objects_and_their_certificate_secrets(
    layout: LabLayout, gw_cert: Cert, tmp_path: Path
) -> None:
    docs = objects.demo_objects(layout, "admin:x\n", b"", b"") + objects.gateway_objects(
        layout, gw_cert.cert_pem, gw_cert.key_pem
    )
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(docs))
    inv = manifests.discover(str(tmp_path))
    assert sorted(t.host for t in inv.targets if t.kind == "HTTPRoute") == [
        "app.gw.test",
        "canary.gw.test",
        "team.gw.test",
    ]
    info = inv.secrets[("demo", "gw-wildcard-tls")]
    assert info is not None and info.type == "kubernetes.io/tls"


@pytest.mark.parametrize(
    "change, needle",
    [
        (
            lambda r: r["spec"]["rules"][0]["matches"][0]["path"].update(type="Regex"),
            "spec.rules[0].matches[0].path.type: Unsupported value: 'Regex'",
        ),
        (
            lambda r: r["spec"].update(parentRefs="lab-gateway"),
            "spec.parentRefs: Invalid value: 'lab-gateway': must be of type array",
        ),
    ],
)
def test_manifests_refuse_routes_the_api_server_would_refuse_with_file_and_line(
    layout: LabLayout, gw_cert: Cert, tmp_path: Path, change, needle: str
) -> None:  # type: ignore[no-untyped-def]
    """Given an HTTPRoute the CRD's schema refuses, then --manifests names file, line, object and field."""
    route = next(
        o
        for o in objects.gateway_objects(layout, gw_cert.cert_pem, gw_cert.key_pem)
        if o["kind"] == "HTTPRoute" and o["metadata"]["name"] == "app"
    )
    change(route)
    (tmp_path / "route.yaml").write_text("# the app route\n" + yaml.safe_dump(route))
    with pytest.raises(UsageError) as err:
        manifests.discover(str(tmp_path))
    message = str(err.value)
    assert message.startswith(f"manifests: {tmp_path / 'route.yaml'}:") and "HTTPRoute demo/app" in message
    assert needle in message, message
