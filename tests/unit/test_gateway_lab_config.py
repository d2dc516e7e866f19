"""The lab's Gateway API wiring, rendered: Traefik's gateway provider on both nodes with one status writer,
HAProxy passing *.gw.test through by SNI and letting its plain HTTP reach the Gateway, DNS per route hostname."""

from __future__ import annotations

from pathlib import Path

import yaml

from ingresscheck_lab import objects, render
from ingresscheck_lab.layout import LabLayout


def test_both_nodes_run_the_gateway_provider_with_the_vip_as_status_address(tmp_path: Path) -> None:
    layout = LabLayout.at(tmp_path)
    for node in layout.nodes:
        doc = yaml.safe_load(render.traefik_yaml(layout, node, Path(f"/{node.name}.token"), Path("/ca")))
        gw = doc["providers"]["kubernetesGateway"]
        assert gw["statusAddress"] == {"ip": layout.vip} and gw["token"] == f"/{node.name}.token"
        assert "kubernetesIngressNGINX" in doc["providers"]


def test_only_the_first_nodes_user_may_write_gateway_statuses(tmp_path: Path) -> None:
    objs = objects.controller_objects(LabLayout.at(tmp_path))
    binding = next(
        o
        for o in objs
        if o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == "ingresscheck-traefik-gateway-status"
    )
    assert [s["name"] for s in binding["subjects"]] == [objects.CONTROLLER_USER]
    read = next(
        o
        for o in objs
        if o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == "ingresscheck-traefik-gateway-read"
    )
    assert [s["name"] for s in read["subjects"]] == [objects.CONTROLLER_USER, objects.REPLICA_USER]


def test_haproxy_passes_gw_test_through_and_does_not_redirect_its_plain_http(tmp_path: Path) -> None:
    cfg = render.haproxy_cfg(LabLayout.at(tmp_path), Path("/x/wild.pem"))
    assert "use_backend passthrough_nodes if { req_ssl_sni -m end .gw.test }" in cfg
    assert "http-request redirect scheme https code 302 if !gateway_host" in cfg
    assert "use_backend http_nodes if gateway_host" in cfg


def test_route_hostnames_get_records_and_wildcards_do_not(tmp_path: Path) -> None:
    layout = LabLayout.at(tmp_path)
    text = render.apps_hosts(layout, ["shop.apps.test"], ["app.gw.test", "*.gw.test", "x.other.test"])
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        f"{layout.vip} app.gw.test",
        f"{layout.vip} shop.apps.test",
    ]
    assert "local=/gw.test/" in render.dnsmasq_conf(layout, Path("/x/apps.hosts"))


def test_the_gateway_listeners_use_the_traefik_entry_point_ports(tmp_path: Path) -> None:
    layout = LabLayout.at(tmp_path)
    gw = next(o for o in objects.gateway_objects(layout, b"", b"") if o["kind"] == "Gateway")
    assert {(li["protocol"], li["port"]) for li in gw["spec"]["listeners"]} == {
        ("HTTP", layout.node_port_http),
        ("HTTPS", layout.node_port_https),
    }
