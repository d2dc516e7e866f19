"""Where every lab component lives: addresses, ports, versions and file paths.

One frozen object holds the address plan so that config rendering, process start-up,
readiness checks, the profile and the tests all read the same numbers.
Everything binds to 127.0.0.0/8 only.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

ETCD_VERSION = "v3.6.16"
KUBERNETES_VERSION = "v1.35.4"

EXAMPLE_DOMAIN = "example.test"  # wildcard DNS + wildcard certificate at the LB (the seed's design)
APPS_DOMAIN = "apps.test"  # one DNS record per Ingress host, TLS passed through to the controller
GW_DOMAIN = "gw.test"  # Gateway API routes: one DNS record per route hostname, TLS ends at the Gateway's listener


@dataclass(frozen=True)
class Node:
    name: str
    ip: str


@dataclass(frozen=True)
class LabLayout:
    root: Path
    cache: Path
    etcd_client: int = 2379
    etcd_peer: int = 2380
    etcd_metrics: int = 2381
    apiserver_ip: str = "127.0.0.1"
    apiserver_port: int = 6443
    dns_ip: str = "127.0.0.2"
    dns_port: int = 5353
    vip: str = "127.0.0.10"
    # the LB's IPv6 address (HAProxy binds it beside the VIP; dnsmasq gives it to the dual-stack hosts only):
    # ::1 is up on the loopback of every network namespace, so parallel labs keep their own
    vip6: str = "::1"
    lb_http_port: int = 80
    lb_https_port: int = 443
    lb_stats_port: int = 8404
    nodes: tuple[Node, ...] = (Node("lab-node-1", "127.0.0.20"), Node("lab-node-2", "127.0.0.21"))
    # The controller's Service is type LoadBalancer; its node ports are where Traefik listens.
    node_port_http: int = 30080
    node_port_https: int = 30443
    node_ping_port: int = 8082
    # Traefik's "kafka" entry point and the LB's TCP frontend for it (TLS passthrough; `lab up --with kafka`)
    kafka_port: int = 9094
    pod_port: int = 8080
    node_port_range: str = "30000-32767"
    controller_namespace: str = "ingress-system"
    controller_service: str = "traefik"
    extra_pod_network: str = "127.1.0.0/16"
    domains: tuple[str, ...] = field(default=(EXAMPLE_DOMAIN, APPS_DOMAIN, GW_DOMAIN))

    @classmethod
    def at(cls, root: Path | str = ".lab", cache: Path | str | None = None) -> LabLayout:
        root = Path(root).resolve()
        cache_dir = Path(cache or os.environ.get("INGRESSCHECK_CACHE") or root.parent / ".cache").resolve()
        privileged = os.geteuid() == 0
        return cls(
            root=root,
            cache=cache_dir,
            lb_http_port=80 if privileged else 10080,
            lb_https_port=443 if privileged else 10443,
        )

    # --- paths -------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def profile(self) -> Path:
        return self.root / "profile.yaml"

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.apiserver_ip}:{self.apiserver_port}"

    def extra_pod_ip(self, index: int) -> str:
        """The loopback address of generated pod ``index`` (0-based), for --extra-hosts."""
        net = ipaddress.ip_network(self.extra_pod_network)
        # skip .0 and .255 of every /24 so no address looks like a network or broadcast one
        block, offset = divmod(index, 254)
        return str(net.network_address + block * 256 + offset + 1)
