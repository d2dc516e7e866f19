"""Render the lab's config files from its layout. Pure functions: text in, text out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

from .access_hosts import ACCESS_HOSTS
from .layout import APPS_DOMAIN, EXAMPLE_DOMAIN, GW_DOMAIN, LabLayout, Node

_env = Environment(
    loader=PackageLoader("ingresscheck_lab", "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # config files, not HTML
)


@dataclass(frozen=True)
class LbFaults:
    """Deliberate load-balancer misconfigurations, for fail-case tests and demos. Default: healthy."""

    redirect_drops_query: bool = False
    plain_http_forwards: bool = False  # :80 forwards to the controller instead of redirecting
    bypass: dict[str, str] = field(default_factory=dict)  # host -> pod "ip:port", around the controller
    min_tls: str | None = None  # e.g. "TLSv1.0": accept protocols below TLS 1.2
    http2_disabled: bool = False  # the wildcard frontend offers no h2 through ALPN
    coalescing: bool = False  # a Host the wildcard certificate does not cover is served, not refused with 421
    hsts_removed: bool = False  # no Strict-Transport-Security from the LB
    websocket_refused: bool = False  # the LB answers WebSocket upgrades 403 (a WAF rule blocking them)
    access_without_proxy_protocol: bool = False  # the access hosts' client address is not passed on (access.py)
    access_terminated: tuple[str, ...] = ()  # access hosts whose TLS ends at the LB instead of the controller
    missing_on_v6: tuple[str, ...] = ()  # hosts (SNI) whose TLS connections to the LB's IPv6 address are reset


def haproxy_cfg(layout: LabLayout, wildcard_pem: Path, faults: LbFaults | None = None) -> str:
    return _env.get_template("haproxy.cfg.j2").render(
        L=layout,
        wildcard_pem=wildcard_pem,
        apps_domain=APPS_DOMAIN,
        gw_domain=GW_DOMAIN,
        example_domain=EXAMPLE_DOMAIN,
        faults=faults or LbFaults(),
        access_hosts=ACCESS_HOSTS,
    )


def dnsmasq_conf(layout: LabLayout, hosts_file: Path, dual_stack: Iterable[str] = ()) -> str:
    """``dual_stack``: hosts with an AAAA record (the LB's IPv6 address) beside their A record."""
    return _env.get_template("dnsmasq.conf.j2").render(
        L=layout,
        hosts_file=hosts_file,
        example_domain=EXAMPLE_DOMAIN,
        apps_domain=APPS_DOMAIN,
        gw_domain=GW_DOMAIN,
        dual_stack=sorted(dual_stack),
    )


def apps_hosts(layout: LabLayout, ingress_hosts: Iterable[str], route_hosts: Iterable[str] = ()) -> str:
    """The addn-hosts file: one record per Ingress host under apps.test and per HTTPRoute hostname
    under gw.test, pointing at the VIP. Wildcards get no record: they are not names."""
    wanted = [(h, "." + APPS_DOMAIN) for h in ingress_hosts] + [(h, "." + GW_DOMAIN) for h in route_hosts]
    hosts = sorted({h.lower() for h, suffix in wanted if h and h.lower().endswith(suffix) and "*" not in h})
    lines = ["# Rendered by ingresscheck lab sync from the cluster's Ingress hosts and HTTPRoute hostnames."]
    lines += [f"{layout.vip} {h}" for h in hosts]
    return "\n".join(lines) + "\n"


def traefik_yaml(
    layout: LabLayout, node: Node, token_file: Path, cluster_ca: Path, dynamic_file: Path = Path("traefik-dynamic.yaml")
) -> str:
    return _env.get_template("traefik.yaml.j2").render(
        L=layout,
        node=node,
        token_file=token_file,
        cluster_ca=cluster_ca,
        publish_status=node == layout.nodes[0],
        dynamic_file=dynamic_file,
    )


def traefik_dynamic(cert_file: Path, key_file: Path) -> str:
    """Traefik's file-provider config: the default TLS store's certificate."""
    doc = {
        "tls": {"stores": {"default": {"defaultCertificate": {"certFile": str(cert_file), "keyFile": str(key_file)}}}}
    }
    return "# Rendered by ingresscheck lab.\n" + yaml.safe_dump(doc, sort_keys=False)


def tokens_csv(users: Iterable[tuple[str, str, str, tuple[str, ...]]]) -> str:
    """kube-apiserver --token-auth-file lines: token,user,uid,"group1,group2"."""
    out = []
    for token, user, uid, groups in users:
        line = f"{token},{user},{uid}"
        if groups:
            line += ',"' + ",".join(groups) + '"'
        out.append(line)
    return "\n".join(out) + "\n"


def kubeconfig(layout: LabLayout, ca_pem: bytes, user: str, token: str, context: str = "lab") -> str:
    import base64

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": layout.apiserver_url,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def echo_pods(pods: dict[str, dict[str, str]]) -> str:
    return json.dumps(pods, indent=1, sort_keys=True)


def profile(layout: LabLayout, ingress_ca: Path, credentials: dict[str, dict[str, str]]) -> str:
    """The profile a check needs to reach the lab (see README: Profile)."""
    doc = {
        "kubeconfig": str(layout.kubeconfig),
        "context": "lab",
        "dns": {"servers": [f"{layout.dns_ip}:{layout.dns_port}"]},
        "load_balancers": [layout.vip, layout.vip6],
        "ports": {"http": layout.lb_http_port, "https": layout.lb_https_port},
        "ca_bundle": str(ingress_ca),
        "domains": list(layout.domains),
        "credentials": credentials,
        "reload": {"domain": EXAMPLE_DOMAIN},
        "controller": "traefik",
        "node_port_range": layout.node_port_range,
        # every TLS endpoint of the lab offers h2 (HAProxy's wildcard frontend, Traefik's websecure); the api
        # and shop hosts' echo pods take WebSocket upgrades (the LB's terminated path and Traefik's passthrough)
        "protocols": {
            "http2": True,
            "websocket": {f"api.{EXAMPLE_DOMAIN}": "/v1/ws", f"shop.{APPS_DOMAIN}": "/ws"},
            "grpc_service": "ingresscheck.lab.Echo",  # the lab's gRPC pod serves it (ingresscheck_lab.protocols)
        },
    }
    head = "# ingresscheck profile of the local lab, written by `ingresscheck lab up`.\n"
    return head + yaml.safe_dump(doc, sort_keys=False)
