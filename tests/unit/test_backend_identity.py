"""ingresscheck.identity: who answered, and who may answer for a Service (one fact per run)."""

from __future__ import annotations

import asyncio
import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from ingresscheck.identity import (
    Identity,
    ServiceEndpoints,
    identity,
    identity_from,
    index_endpoints,
    membership,
)
from ingresscheck.net import HttpResponse, Net
from ingresscheck.profile import Profile

from .servers import http_server, silent_server


def _service(name: str, *, target_port: int | str = 8080, port_name: str = "http") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"ports": [{"name": port_name, "port": 80, "targetPort": target_port}]},
    }


def _slice(
    service: str, endpoints: list[dict[str, Any]], *, ports: list[dict[str, Any]] | None = None, name: str = "a"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{service}-{name}",
            "namespace": "demo",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "FQDN",
        "ports": ports if ports is not None else [{"name": "http", "port": 8080}],
        "endpoints": endpoints,
    }


def _ep(address: str, pod: str | None = None, ready: bool | None = True) -> dict[str, Any]:
    ep: dict[str, Any] = {"addresses": [address]}
    if ready is not None:
        ep["conditions"] = {"ready": ready}
    if pod:
        ep["targetRef"] = {"kind": "Pod", "name": pod, "namespace": "demo"}
    return ep


# --- who answered -----------------------------------------------------------------------------
def test_echo_json_names_pod_service_namespace_and_the_path_it_saw() -> None:
    """Given an echo JSON body, then its pod, service, namespace and path are the identity."""
    body = json.dumps({"pod": "api-0", "service": "api", "namespace": "demo", "path": "/v1/x"}).encode()
    seen = identity(HttpResponse(200, "OK", (("content-type", "application/json"),), body, len(body), False))
    assert seen == Identity("demo", "api", "api-0", "/v1/x")
    assert seen.says() == "pod api-0 of demo/api"


def test_echo_headers_identify_a_backend_whatever_the_body() -> None:
    """Given X-Echo-* headers (any case) and a plain body, then the headers are the identity."""
    seen = identity_from([("X-Echo-Pod", "web-0"), ("X-Echo-Service", "web")], b"hello")
    assert seen == Identity(None, "web", "web-0")


def test_a_backend_that_says_nothing_has_no_identity() -> None:
    """Given a static page and a JSON body without pod or service, then there is no identity (nothing guessed)."""
    assert identity_from([("content-type", "text/html")], b"<html>Example</html>") is None
    assert identity_from([("content-type", "application/json")], b'{"status": "ok"}') is None
    assert identity(None) is None


# --- who may answer ---------------------------------------------------------------------------
def test_a_slice_without_target_ref_counts_by_address() -> None:
    """Given a selector-less Service whose hand-made slice names no pods, then both addresses are ready
    endpoints (by address), not zero."""
    found = index_endpoints([_service("ext")], [_slice("ext", [_ep("10.0.0.1"), _ep("10.0.0.2")])])
    ext = found[("demo", "ext")]
    assert ext.ready_count == 2 and ext.pods == frozenset()
    assert [e.address for e in ext.unnamed] == ["10.0.0.1", "10.0.0.2"]
    assert ext.describe() == "Service demo/ext has 2 ready endpoints (addresses 10.0.0.1, 10.0.0.2 (no pod named))"


def test_an_address_in_two_slices_counts_once_and_ready_unset_is_ready() -> None:
    """Given one address in two slices (not ready in one, ready in the other) and one without conditions,
    then it is counted once and ready, and the unset condition counts as ready (as the API says)."""
    slices = [
        _slice("web", [_ep("10.0.0.1", "web-0", ready=False)], name="a"),
        _slice("web", [_ep("10.0.0.1", "web-0"), _ep("10.0.0.2", "web-1", ready=None)], name="b"),
        _slice("web", [_ep("10.0.0.3", "web-2", ready=False)], name="c"),
    ]
    web = index_endpoints([_service("web")], slices)[("demo", "web")]
    assert web.ready_count == 2 and web.pods == {"web-0", "web-1"}
    assert len(web.endpoints) == 3


def test_a_named_target_port_resolves_to_the_slice_port_named_like_it() -> None:
    """Given a Service port whose targetPort is a name the slice uses (not the Service port's name), then the
    endpoint's port is that slice port's number."""
    svc = _service("web", target_port="web", port_name="http")
    sl = _slice(
        "web", [_ep("10.0.0.1", "web-0")], ports=[{"name": "metrics", "port": 9090}, {"name": "web", "port": 8081}]
    )
    web = index_endpoints([svc], [sl])[("demo", "web")]
    assert web.ready[0].port_for(web.service_port("http")) == 8081
    assert web.ready[0].port_for(web.service_port(80)) == 8081


def test_a_slice_for_a_missing_service_is_kept_without_the_service() -> None:
    """Given a slice whose Service does not exist, then its endpoints are known and the Service is missing."""
    ghost = index_endpoints([], [_slice("ghost", [_ep("10.0.0.9")])])[("demo", "ghost")]
    assert not ghost.exists and ghost.ready_count == 1
    assert ghost.describe() == "Service demo/ghost does not exist"


# --- membership -------------------------------------------------------------------------------
def _echo(pod: str):  # type: ignore[no-untyped-def]
    def handler(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json"}, json.dumps({"pod": pod, "service": "ext"}).encode()

    return handler


def _member(seen: Identity, svc: ServiceEndpoints) -> Any:
    async def go() -> Any:
        net = Net(Profile(), timeout=1.0)
        try:
            return await membership(net, seen, [(svc, "http")], "ext.example.test", "/")
        finally:
            await net.aclose()

    return asyncio.run(go())


def test_an_unnamed_address_is_asked_who_it_is_and_the_answering_pod_is_a_member() -> None:
    """Given a slice without targetRef at a real backend saying pod ext-0, when ext-0 answered through the
    ingress, then it is a member by address."""
    with http_server(_echo("ext-0")) as (ip, port):
        sl = _slice("ext", [_ep(ip)], ports=[{"name": "http", "port": port}])
        ext = index_endpoints([_service("ext", target_port=port)], [sl])[("demo", "ext")]
        got = _member(Identity("demo", "ext", "ext-0"), ext)
    assert got.member is True and got.by == "address"
    assert got.evidence["asked"] == {f"{ip}:{port}": "ext-0"}


def test_another_pod_than_the_one_at_the_address_is_not_a_member() -> None:
    """Given the same backend saying ext-0, when pod rogue-0 answered through the ingress, then not a member."""
    with http_server(_echo("ext-0")) as (ip, port):
        sl = _slice("ext", [_ep(ip)], ports=[{"name": "http", "port": port}])
        ext = index_endpoints([_service("ext", target_port=port)], [sl])[("demo", "ext")]
        got = _member(Identity("demo", "other", "rogue-0"), ext)
    assert got.member is False and got.by == "address"


def test_an_address_that_cannot_be_asked_leaves_membership_open() -> None:
    """Given a slice address that accepts and never answers, then membership is not established (None): the
    caller falls back to comparison, never to a verdict."""
    with silent_server() as port:
        sl = _slice("ext", [_ep("127.0.0.1")], ports=[{"name": "http", "port": port}])
        ext = index_endpoints([_service("ext", target_port=port)], [sl])[("demo", "ext")]
        got = _member(Identity("demo", "ext", "ext-0"), ext)
    assert got.member is None and "could not say who they are" in got.why
    assert got.evidence["unanswered"]


def test_a_named_pod_is_a_member_without_any_request() -> None:
    """Given a slice naming pod web-0 at an address nobody listens on, then web-0 is a member by pod."""
    web = index_endpoints([_service("web")], [_slice("web", [_ep("192.0.2.1", "web-0")])])[("demo", "web")]
    got = _member(Identity("demo", "web", "web-0"), web)
    assert got.member is True and got.by == "pod"
    assert _member(Identity("demo", "web", "web-9"), web).member is False
