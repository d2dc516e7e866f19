"""The lab's chain as a user's own tools see it: httpx, dnspython and ssl, no ingresscheck code."""

from __future__ import annotations

import json
import socket
import ssl

import dns.resolver
import httpx
import pytest

from ingresscheck_lab.lab import Lab


@pytest.fixture(scope="module")
def resolver(lab: Lab) -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [lab.layout.dns_ip]
    r.port = lab.layout.dns_port
    return r


def _https(lab: Lab, host: str, path: str, **kw: object) -> httpx.Response:
    """GET https://host/path through the VIP with the right SNI and Host, verified against the lab CA."""
    L = lab.layout
    ctx = ssl.create_default_context(cafile=str(L.pki / "ingress-ca.crt"))
    with httpx.Client(verify=ctx, timeout=5) as client:
        return client.get(
            f"https://{L.vip}:{L.lb_https_port}{path}", headers={"Host": host}, extensions={"sni_hostname": host}, **kw
        )  # type: ignore[arg-type]


def test_http_redirects_to_https_keeping_host_path_and_query(lab: Lab) -> None:
    """Given the LB on :80, when asked for a page, then 302 to the same URL on https."""
    L = lab.layout
    r = httpx.get(
        f"http://{L.vip}:{L.lb_http_port}/v1/items?page=2&q=a%20b", headers={"Host": "api.example.test"}, timeout=5
    )
    assert r.status_code == 302
    assert r.headers["location"] == "https://api.example.test/v1/items?page=2&q=a%20b"


@pytest.mark.parametrize(
    "host, issuer_cn",
    [
        ("api.example.test", "*.example.test"),  # the wildcard at the LB
        ("shop.apps.test", "shop.apps.test"),  # the Ingress's own certificate, passed through
    ],
)
def test_tls_verifies_against_the_lab_ca(lab: Lab, host: str, issuer_cn: str) -> None:
    """Given the lab CA, when connecting with SNI, then the chain and hostname verify."""
    L = lab.layout
    ctx = ssl.create_default_context(cafile=str(L.pki / "ingress-ca.crt"))
    with socket.create_connection((L.vip, L.lb_https_port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert()
    subject = dict(x[0] for x in cert["subject"])
    assert subject["commonName"] == issuer_cn


@pytest.mark.parametrize(
    "host, path, service, pods",
    [
        ("api.example.test", "/v1/users", "api", {"api-0", "api-1"}),
        ("api.example.test", "/docs/intro", "api-docs", {"api-docs-0"}),
        ("shop.apps.test", "/", "shop", {"shop-0"}),
    ],
)
def test_host_routing_reaches_the_named_backend(lab: Lab, host: str, path: str, service: str, pods: set[str]) -> None:
    """Given an Ingress rule, when requesting host+path, then the echo pod of its Service answers."""
    r = _https(lab, host, path)
    assert r.status_code == 200
    body = r.json()
    assert (body["namespace"], body["service"]) == ("demo", service)
    assert body["pod"] in pods
    assert body["path"] == path
    assert body["headers"]["X-Forwarded-Proto"] == "https"


def test_both_api_pods_serve(lab: Lab) -> None:
    """Given two api pods, when asking several times, then both answer."""
    seen = {_https(lab, "api.example.test", "/v1/x").json()["pod"] for _ in range(8)}
    assert seen == {"api-0", "api-1"}


def test_unknown_host_gets_404(lab: Lab) -> None:
    """Given the wildcard DNS trap, when a typo host is asked for, then the controller says 404."""
    assert _https(lab, "wrodpress.example.test", "/").status_code == 404


def test_basic_auth_asks_with_the_realm_and_accepts_the_right_password(lab: Lab) -> None:
    """Given the seed's WordPress basic auth, then 401 with realm, wrong password 401, right one 200."""
    r = _https(lab, "wordpress.example.test", "/")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="WordPress - authentication required"'
    assert _https(lab, "wordpress.example.test", "/", auth=("admin", "wrong")).status_code == 401
    password = (lab.layout.secrets / "wordpress.password").read_text()
    ok = _https(lab, "wordpress.example.test", "/wp-admin/", auth=("admin", password))
    assert ok.status_code == 200
    assert ok.json()["pod"] == "wordpress-0"


def test_dns_wildcard_and_per_host_records(lab: Lab, resolver: dns.resolver.Resolver) -> None:
    """Given dnsmasq, then example.test resolves anything, apps.test only its Ingress hosts."""
    vip = lab.layout.vip
    assert [a.to_text() for a in resolver.resolve("tpyo-anything.example.test", "A")] == [vip]
    assert [a.to_text() for a in resolver.resolve("shop.apps.test", "A")] == [vip]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("unknown.apps.test", "A")


@pytest.mark.parametrize("node", [0, 1])
def test_node_port_answers_on_every_node(lab: Lab, node: int) -> None:
    """Given the controller's LoadBalancer Service, when calling its node port on a node, then it routes."""
    L = lab.layout
    ip = L.nodes[node].ip
    r = httpx.get(f"http://{ip}:{L.node_port_http}/v1/x", headers={"Host": "api.example.test"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["service"] == "api"


def test_cluster_objects_tell_the_same_story(lab: Lab) -> None:
    """Given the API, then the controller Service is a LoadBalancer with the VIP, Ingress status too."""
    w = lab.writer()
    svc = w.get({"kind": "Service", "metadata": {"namespace": "ingress-system", "name": "traefik"}})
    assert svc is not None
    assert svc["spec"]["type"] == "LoadBalancer"
    assert {p["nodePort"] for p in svc["spec"]["ports"]} == {lab.layout.node_port_http, lab.layout.node_port_https}
    assert [a["ip"] for a in svc["status"]["loadBalancer"]["ingress"]] == [lab.layout.vip]
    nodes = w.list("Node")
    assert sorted(a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP") == [
        n.ip for n in lab.layout.nodes
    ]
    for ing in w.list("Ingress", "demo"):
        assert ing["status"]["loadBalancer"]["ingress"][0]["ip"] == lab.layout.vip


def test_controller_runs_with_least_privilege(lab: Lab) -> None:
    """Given the controller's token, then it may list Ingresses but not create them or read nodes."""
    L = lab.layout
    token = (L.secrets / "traefik.token").read_text()
    ctx = ssl.create_default_context(cafile=str(L.pki / "cluster-ca.crt"))
    with httpx.Client(verify=ctx, headers={"Authorization": f"Bearer {token}"}, timeout=5) as c:
        assert c.get(f"{L.apiserver_url}/apis/networking.k8s.io/v1/ingresses").status_code == 200
        assert c.get(f"{L.apiserver_url}/api/v1/nodes").status_code == 403
        denied = c.post(
            f"{L.apiserver_url}/api/v1/namespaces/demo/configmaps", content=json.dumps({"metadata": {"name": "x"}})
        )
        assert denied.status_code == 403
