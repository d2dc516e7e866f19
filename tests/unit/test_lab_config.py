"""The lab's rendered configs and objects, checked without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingresscheck.errors import LabError
from ingresscheck_lab import build, objects, render
from ingresscheck_lab.layout import LabLayout


@pytest.fixture
def layout(tmp_path: Path) -> LabLayout:
    return LabLayout.at(tmp_path / ".lab", tmp_path / "cache")


def test_haproxy_redirects_keeping_the_query_unless_broken_on_purpose(layout: LabLayout) -> None:
    """Given the LB config, then :80 redirects by scheme (keeps host, path, query)."""
    healthy = render.haproxy_cfg(layout, Path("/x/wild.pem"))
    assert "http-request redirect scheme https code 302" in healthy
    assert f"bind {layout.vip}:{layout.lb_http_port}" in healthy
    broken = render.haproxy_cfg(layout, Path("/x/wild.pem"), render.LbFaults(redirect_drops_query=True))
    assert "%[path] code 302" in broken and "redirect scheme" not in broken


def test_haproxy_splits_443_by_sni_and_checks_both_nodes(layout: LabLayout) -> None:
    cfg = render.haproxy_cfg(layout, Path("/x/wild.pem"))
    assert "use_backend passthrough_nodes if { req_ssl_sni -m end .apps.test }" in cfg
    assert "ssl crt /x/wild.pem" in cfg
    assert "http-request set-header X-Forwarded-Proto https" in cfg
    for node in layout.nodes:
        assert f"server {node.name} {node.ip}:{layout.node_port_http}" in cfg
        assert f"server {node.name} {node.ip}:{layout.node_port_https}" in cfg
    assert f"source {layout.vip}" in cfg


def test_dnsmasq_has_the_wildcard_and_per_host_file(layout: LabLayout) -> None:
    conf = render.dnsmasq_conf(layout, Path("/x/apps.hosts"))
    assert f"address=/example.test/{layout.vip}" in conf
    assert "local=/apps.test/" in conf and "addn-hosts=/x/apps.hosts" in conf
    assert f"listen-address={layout.dns_ip}" in conf and f"port={layout.dns_port}" in conf


def test_apps_hosts_has_one_record_per_ingress_host_of_the_domain(layout: LabLayout) -> None:
    text = render.apps_hosts(
        layout, ["shop.apps.test", "SHOP.apps.test", "api.example.test", "", "*.apps.test", "blog.apps.test"]
    )
    records = [line for line in text.splitlines() if not line.startswith("#")]
    assert records == [f"{layout.vip} blog.apps.test", f"{layout.vip} shop.apps.test"]


def test_traefik_binds_only_its_node_address(layout: LabLayout) -> None:
    node = layout.nodes[1]
    doc = yaml.safe_load(render.traefik_yaml(layout, node, Path("/t"), Path("/ca")))
    addresses = [ep["address"] for ep in doc["entryPoints"].values()]
    assert all(a.startswith(node.ip + ":") for a in addresses)
    provider = doc["providers"]["kubernetesIngressNGINX"]
    assert "publishService" not in provider  # only the first node writes status
    first = yaml.safe_load(render.traefik_yaml(layout, layout.nodes[0], Path("/t"), Path("/ca")))
    assert first["providers"]["kubernetesIngressNGINX"]["publishService"] == "ingress-system/traefik"
    assert provider["httpEntryPoint"] == "web"
    assert doc["entryPoints"]["web"]["forwardedHeaders"]["trustedIPs"] == [f"{layout.vip}/32"]
    assert doc["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}


def test_tokens_csv_quotes_groups() -> None:
    text = render.tokens_csv([("t1", "admin", "u1", ("system:masters",)), ("t2", "ctl", "u2", ())])
    assert text == 't1,admin,u1,"system:masters"\nt2,ctl,u2\n'


def test_kubeconfig_and_profile_point_at_the_lab(layout: LabLayout) -> None:
    kc = yaml.safe_load(render.kubeconfig(layout, b"PEM", "lab-admin", "tok"))
    assert kc["current-context"] == "lab"
    assert kc["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    prof = yaml.safe_load(render.profile(layout, Path("/ca.crt"), {"h": {"username": "u", "password_file": "/p"}}))
    assert prof["dns"]["servers"] == ["127.0.0.2:5353"]
    assert prof["load_balancers"] == ["127.0.0.10", "::1"]  # HAProxy also listens on [::1] (issue 23)
    assert prof["credentials"]["h"] == {"username": "u", "password_file": "/p"}


def test_endpoint_slices_use_fqdn_with_ip_literals_and_named_ports(layout: LabLayout) -> None:
    """The apiserver refuses loopback IPv4 endpoints; Traefik matches slice ports by name."""
    objs = objects.demo_objects(layout, "admin:$2y$xx\n", b"crt", b"key")
    slices = [o for o in objs if o["kind"] == "EndpointSlice"]
    assert {s["metadata"]["labels"]["kubernetes.io/service-name"] for s in slices} == {
        "wordpress",
        "api",
        "api-docs",
        "shop",
        "web-stable",
        "web-canary",
        "site",
        "api-v2",
    }
    for s in slices:
        assert s["addressType"] == "FQDN"
        assert s["ports"][0]["name"] == "http"
    api = next(s for s in slices if s["metadata"]["labels"]["kubernetes.io/service-name"] == "api")
    assert [e["addresses"][0] for e in api["endpoints"]] == ["127.0.0.12", "127.0.0.13"]


def test_wordpress_ingress_has_the_seed_auth_annotations(layout: LabLayout) -> None:
    objs = objects.demo_objects(layout, "admin:$2y$xx\n", b"crt", b"key")
    wp = next(o for o in objs if o["kind"] == "Ingress" and o["metadata"]["name"] == "wordpress")
    ann = wp["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert ann["nginx.ingress.kubernetes.io/auth-secret"] == "wordpress-basic-auth"
    assert ann["nginx.ingress.kubernetes.io/auth-realm"]


def test_extra_hosts_each_get_their_own_pod_address(layout: LabLayout) -> None:
    pods = objects.extra_pods(layout, 1000)
    ips = [p.ip for p in pods]
    assert len(set(ips)) == 1000
    assert all(ip.startswith("127.1.") and not ip.endswith((".0", ".255")) for ip in ips)
    objs = objects.extra_objects(layout, 3)
    assert [o["kind"] for o in objs].count("Ingress") == 3


def test_staging_modules_are_read_from_the_kubernetes_go_mod() -> None:
    gomod = """module k8s.io/kubernetes
replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tgithub.com/x/y => github.com/x/y v1.0.0
)
"""
    assert build.staging_modules(gomod) == ["k8s.io/api", "k8s.io/client-go"]


def test_a_missing_system_binary_names_its_package() -> None:
    with pytest.raises(LabError, match="no-such-lb-xyz: binary not found; install the Debian package pkg-xyz"):
        build.system_binary("no-such-lb-xyz", "pkg-xyz")
