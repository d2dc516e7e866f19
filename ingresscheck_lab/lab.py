"""`ingresscheck lab up | down | status | sync`: the real request chain on one machine.

client ──DNS──▶ dnsmasq 127.0.0.2:5353   (*.example.test wildcard; one record per apps.test host)
   │
   └─HTTP/TLS─▶ HAProxy VIP 127.0.0.10    (:80 302 → https; :443 wildcard TLS or SNI passthrough)
                   └─▶ Traefik on 2 nodes (kubernetesIngressNGINX provider, node ports 30080/30443)
                          └─▶ echo pods 127.0.0.11.. (Services without selectors + EndpointSlices)
Traefik watches kube-apiserver (RBAC, least-privilege user) backed by etcd.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from kubernetes.client.exceptions import ApiException

from ingresscheck.errors import LabError
from ingresscheck.kube import Resources, connect

from . import access, build, envoy_gateway, gateway_api, kafka, objects, pki, processes, protocols, render, traffic
from .layout import APPS_DOMAIN, EXAMPLE_DOMAIN, GW_DOMAIN, LabLayout

Say = Callable[[str], None]

ADMIN_USER = "lab-admin"
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "echo",
    "grpc",
    "dnsmasq",
    "traefik-lab-node-1",
    "traefik-lab-node-2",
    "haproxy",
)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    pid: int | None
    detail: str
    optional: bool = False  # a component `lab up` starts only when asked (Envoy Gateway)


class Lab:
    def __init__(self, layout: LabLayout, say: Say = print) -> None:
        self.layout = layout
        self.say = say

    # --- paths and credentials ------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.layout.root / "state.json"

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def is_up(self) -> bool:
        running = {r.name for r in processes.recorded(self.layout) if processes.alive(r)}
        return bool(self.state().get("up")) and running >= set(COMPONENTS)

    def writer(self) -> Resources:
        return Resources(connect(self.layout.kubeconfig, "lab").api)

    def build(self) -> dict[str, Path]:
        """Make sure every binary is there: Go builds once per version, the rest installed."""
        return {
            "etcd": build.ensure_etcd(self.layout, self.say),
            "kube-apiserver": build.ensure_kube_apiserver(self.layout, self.say),
            "traefik": build.traefik_binary(),
            "haproxy": build.system_binary("haproxy", "haproxy"),
            "dnsmasq": build.system_binary("dnsmasq", "dnsmasq-base"),
            "gateway-api-crds": gateway_api.ensure_crds(self.layout, self.say),
        }

    # --- up -------------------------------------------------------------------------------
    def up(
        self,
        extra_hosts: int | None = None,
        data_planes: tuple[str, ...] = ("traefik",),
        parts: tuple[str, ...] = (),
    ) -> float:
        """``data_planes``: "traefik" always runs; "envoy-gateway" adds the second one (migration parity).
        ``extra_hosts``: generated Ingresses (None: 0 for a new lab, whatever a running lab has).
        ``parts``: "access" adds the access-control hosts (ingresscheck_lab/access.py; builds oauth2-proxy once),
        "kafka" a 3-broker Kafka cluster behind one TLSRoute per broker (``ingresscheck_lab.kafka``)."""
        if self.is_up():
            have = int(self.state().get("extra_hosts", 0))
            if extra_hosts is not None and extra_hosts != have:
                # the extra hosts' pods, DNS records and route waits are laid out when the lab starts
                raise LabError(
                    "lab",
                    f"the running lab has {have} extra hosts, not {extra_hosts}, and cannot change that while up: "
                    f"run `ingresscheck lab down`, then `ingresscheck lab up --extra-hosts {extra_hosts}`",
                )
            self.say(f"lab is already up (kubeconfig {self.layout.kubeconfig}, profile {self.layout.profile})")
            if "envoy-gateway" in data_planes:
                envoy_gateway.start(self)
            if "access" in parts:
                access.start(self)
            if "kafka" in parts:
                kafka.start(self)
            return 0.0
        if processes.recorded(self.layout):
            self.say("lab: cleaning up the remains of an earlier lab first")
            self._stop_all(quiet=True)
        extra_hosts = extra_hosts or 0
        binaries = self.build()
        started = time.monotonic()  # the up time excludes one-time builds
        try:
            self._prepare_files()
            self._start_etcd(binaries["etcd"])
            self._start_apiserver(binaries["kube-apiserver"])
            self._seed(extra_hosts, binaries["gateway-api-crds"])
            self._start_echo(extra_hosts)
            protocols.start_grpc(self)
            self._start_dnsmasq(binaries["dnsmasq"])
            self._start_traefik(binaries["traefik"])
            self._start_haproxy(binaries["haproxy"])
            self._wait_routes(extra_hosts)
            if "envoy-gateway" in data_planes:
                envoy_gateway.start(self)
            if "access" in parts:
                access.start(self)
            if "kafka" in parts:
                kafka.start(self)
        except BaseException:
            self._stop_all(quiet=True)  # the original error is what the user needs to see
            raise
        self.state_file.write_text(json.dumps({"up": True, "extra_hosts": extra_hosts, "started": time.time()}))
        took = time.monotonic() - started
        self.say(f"lab is up in {took:.1f} s: kubeconfig {self.layout.kubeconfig}, profile {self.layout.profile}")
        return took

    def _prepare_files(self) -> None:
        L = self.layout
        for d in (L.root, L.conf, L.logs, L.run, L.secrets, L.pki):
            d.mkdir(parents=True, exist_ok=True)
        L.root.chmod(0o700)
        if not (L.pki / "cluster-ca.crt").exists():
            self.say("lab: creating the lab PKI")
            cluster_ca = pki.make_ca("ingresscheck lab cluster CA")
            pki.write_pair(L.pki, "cluster-ca", cluster_ca)
            pki.write_pair(
                L.pki,
                "apiserver",
                pki.issue(
                    cluster_ca,
                    "kube-apiserver",
                    dns_names=("localhost", "kubernetes", "kubernetes.default"),
                    ip_addresses=(L.apiserver_ip,),
                ),
            )
            sa = pki.new_key()
            pki.write_pair(L.pki, "service-account", pki.issue(cluster_ca, "service-accounts", key=sa))
            ingress_ca = pki.make_ca("ingresscheck lab ingress CA")
            pki.write_pair(L.pki, "ingress-ca", ingress_ca)
            wildcard = pki.issue(ingress_ca, f"*.{EXAMPLE_DOMAIN}", dns_names=(f"*.{EXAMPLE_DOMAIN}",))
            pki.write_pair(L.pki, "wildcard-example-test", wildcard)
            pki.write_private(L.pki / "wildcard-example-test.pem", wildcard.cert_pem + wildcard.key_pem)
            pki.write_pair(
                L.pki,
                "shop-apps-test",
                pki.issue(ingress_ca, f"shop.{APPS_DOMAIN}", dns_names=(f"shop.{APPS_DOMAIN}",)),
            )
        if not (L.pki / "controller-default.crt").exists():
            # what the controller serves for an unknown SNI: a real certificate of its own, covering no
            # Ingress host, so a host falling back to it fails hostname checks loudly
            pki.write_pair(
                L.pki,
                "controller-default",
                pki.issue(
                    pki.load_pair(L.pki, "ingress-ca"),
                    "ingress controller default",
                    dns_names=(f"default.ingress.{APPS_DOMAIN}",),
                ),
            )
        if not (L.pki / "wildcard-gw-test.crt").exists():
            # the Gateway's HTTPS listener certificate (certificateRefs): covers one label under gw.test
            pki.write_pair(
                L.pki,
                "wildcard-gw-test",
                pki.issue(pki.load_pair(L.pki, "ingress-ca"), f"*.{GW_DOMAIN}", dns_names=(f"*.{GW_DOMAIN}",)),
            )
        # Fresh tokens and demo password for every lab; written only to 0600 files.
        tokens = {
            "admin": secrets.token_urlsafe(32),
            "traefik": secrets.token_urlsafe(32),
            "traefik-replica": secrets.token_urlsafe(32),
        }
        pki.write_private(
            L.secrets / "tokens.csv",
            render.tokens_csv(
                [
                    (tokens["admin"], ADMIN_USER, "uid-lab-admin", ("system:masters",)),
                    (tokens["traefik"], objects.CONTROLLER_USER, "uid-traefik", ()),
                    (tokens["traefik-replica"], objects.REPLICA_USER, "uid-traefik-replica", ()),
                ]
            ).encode(),
        )
        pki.write_private(L.secrets / "traefik.token", tokens["traefik"].encode())
        pki.write_private(L.secrets / "traefik-replica.token", tokens["traefik-replica"].encode())
        pki.write_private(
            L.kubeconfig,
            render.kubeconfig(L, (L.pki / "cluster-ca.crt").read_bytes(), ADMIN_USER, tokens["admin"]).encode(),
        )
        pki.write_private(L.secrets / "wordpress.password", secrets.token_urlsafe(12).encode())

    def _spawn(self, spec: processes.Spec, check: Callable[[], bool], timeout: float, what: str) -> None:
        running = processes.start(self.layout, spec)
        processes.wait_ready(running, check, timeout, what)

    def _start_etcd(self, binary: Path) -> None:
        L = self.layout
        data = L.root / "etcd-data"
        shutil.rmtree(data, ignore_errors=True)
        self.say("lab: starting etcd")
        self._spawn(
            processes.Spec(
                "etcd",
                [
                    str(binary),
                    "--name=lab",
                    f"--data-dir={data}",
                    f"--listen-client-urls=http://127.0.0.1:{L.etcd_client}",
                    f"--advertise-client-urls=http://127.0.0.1:{L.etcd_client}",
                    f"--listen-peer-urls=http://127.0.0.1:{L.etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{L.etcd_peer}",
                    f"--initial-cluster=lab=http://127.0.0.1:{L.etcd_peer}",
                    f"--listen-metrics-urls=http://127.0.0.1:{L.etcd_metrics}",
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
                listens=(("127.0.0.1", L.etcd_client), ("127.0.0.1", L.etcd_peer), ("127.0.0.1", L.etcd_metrics)),
            ),
            lambda: httpx.get(f"http://127.0.0.1:{L.etcd_client}/health", timeout=1).json()["health"] == "true",
            30,
            "GET /health",
        )

    def _start_apiserver(self, binary: Path) -> None:
        L = self.layout
        P = L.pki
        self.say("lab: starting kube-apiserver")
        ctx = ssl.create_default_context(cafile=str(P / "cluster-ca.crt"))

        def ready() -> bool:
            r = httpx.get(f"{L.apiserver_url}/readyz", verify=ctx, timeout=2)
            return r.status_code == 200 and r.text == "ok"

        self._spawn(
            processes.Spec(
                "kube-apiserver",
                [
                    str(binary),
                    f"--etcd-servers=http://127.0.0.1:{L.etcd_client}",
                    f"--bind-address={L.apiserver_ip}",
                    f"--secure-port={L.apiserver_port}",
                    f"--advertise-address={L.apiserver_ip}",
                    "--endpoint-reconciler-type=none",
                    f"--tls-cert-file={P / 'apiserver.crt'}",
                    f"--tls-private-key-file={P / 'apiserver.key'}",
                    f"--client-ca-file={P / 'cluster-ca.crt'}",
                    f"--token-auth-file={L.secrets / 'tokens.csv'}",
                    "--authorization-mode=RBAC",
                    f"--service-account-issuer={L.apiserver_url}",
                    f"--service-account-key-file={P / 'service-account.crt'}",
                    f"--service-account-signing-key-file={P / 'service-account.key'}",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    f"--service-node-port-range={L.node_port_range}",
                    "--allow-privileged=true",
                    "--disable-admission-plugins=ServiceAccount",
                    "--enable-priority-and-fairness=false",
                    "--profiling=false",
                    "-v=1",
                ],
                listens=((L.apiserver_ip, L.apiserver_port),),
            ),
            ready,
            60,
            "GET /readyz",
        )

    def _seed(self, extra_hosts: int, crd_folder: Path) -> None:
        L = self.layout
        w = self.writer()
        htpasswd = _htpasswd_line(objects.WORDPRESS_USER, (L.secrets / "wordpress.password").read_text())
        shop = pki.load_pair(L.pki, "shop-apps-test")
        gw_cert = pki.load_pair(L.pki, "wildcard-gw-test")
        self.say(f"lab: installing the Gateway API {gateway_api.GATEWAY_API_VERSION} CRDs")
        gateway_api.install_crds(w, crd_folder)
        self.say("lab: creating the controller wiring and the demo content (Ingresses and Gateway API)")
        for obj in (
            objects.controller_objects(L)
            + objects.demo_objects(L, htpasswd, shop.cert_pem, shop.key_pem)
            + objects.gateway_objects(L, gw_cert.cert_pem, gw_cert.key_pem)
            + traffic.traffic_objects(L)
            + protocols.protocol_objects(L)
        ):
            w.create(obj)
        extra = objects.extra_objects(L, extra_hosts)
        if extra:
            self.say(f"lab: creating {extra_hosts} extra Ingresses with their backends")
            w.create(extra[0])  # the namespace first
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(w.create, extra[1:]))

    def _pods(self, extra_hosts: int) -> dict[str, dict[str, str]]:
        L = self.layout
        pods = objects.demo_pods(L) + objects.extra_pods(L, extra_hosts)
        return {
            f"{p.ip}:{L.pod_port}": {
                "service": p.service,
                "pod": p.name,
                "namespace": p.namespace,
                **({"static": "true"} if p.static else {}),
            }
            for p in pods
        }

    def _start_echo(self, extra_hosts: int) -> None:
        import socket
        import sys

        L = self.layout
        pods = self._pods(extra_hosts)
        pods_file = L.conf / "echo-pods.json"
        pods_file.write_text(render.echo_pods(pods))
        self.say(f"lab: starting {len(pods)} echo pods")
        listens = tuple((a.rsplit(":", 1)[0], L.pod_port) for a in pods)
        last = list(pods)[-1].rsplit(":", 1)[0]

        def ready() -> bool:
            with socket.create_connection((last, L.pod_port), timeout=1):
                return True

        self._spawn(
            processes.Spec("echo", [sys.executable, "-m", "ingresscheck_lab.echo", str(pods_file)], listens=listens),
            ready,
            60,
            f"TCP {last}:{L.pod_port}",
        )

    def _start_dnsmasq(self, binary: Path) -> None:
        import dns.message
        import dns.query

        L = self.layout
        self.sync(quiet=True, signal_dns=False)
        conf = L.conf / "dnsmasq.conf"
        conf.write_text(render.dnsmasq_conf(L, L.conf / "apps.hosts", protocols.DUAL_STACK_HOSTS))
        self.say("lab: starting dnsmasq")

        def ready() -> bool:
            q = dns.message.make_query(f"ready.{EXAMPLE_DOMAIN}", "A")
            return bool(dns.query.udp(q, L.dns_ip, port=L.dns_port, timeout=0.5).answer)

        self._spawn(
            processes.Spec("dnsmasq", [str(binary), f"--conf-file={conf}"], listens=((L.dns_ip, L.dns_port),)),
            ready,
            15,
            "DNS query",
        )

    def _start_traefik(self, binary: Path) -> None:
        L = self.layout
        dynamic = L.conf / "traefik-dynamic.yaml"
        dynamic.write_text(render.traefik_dynamic(L.pki / "controller-default.crt", L.pki / "controller-default.key"))
        for node in L.nodes:
            conf = L.conf / f"traefik-{node.name}.yaml"
            token = L.secrets / ("traefik.token" if node == L.nodes[0] else "traefik-replica.token")
            conf.write_text(render.traefik_yaml(L, node, token, L.pki / "cluster-ca.crt", dynamic))
            self.say(f"lab: starting traefik on {node.name} ({node.ip})")
            url = f"http://{node.ip}:{L.node_ping_port}/ping"
            self._spawn(
                processes.Spec(
                    f"traefik-{node.name}",
                    [str(binary), f"--configFile={conf}"],
                    listens=((node.ip, L.node_port_http), (node.ip, L.node_port_https), (node.ip, L.node_ping_port)),
                ),
                partial(_answers_200, url),
                30,
                f"GET {url}",
            )

    def _render_haproxy(self, faults: render.LbFaults | None = None) -> Path:
        L = self.layout
        conf = L.conf / "haproxy.cfg"
        conf.write_text(render.haproxy_cfg(L, L.pki / "wildcard-example-test.pem", faults))
        return conf

    def _start_haproxy(self, binary: Path) -> None:
        L = self.layout
        conf = self._render_haproxy()
        self.say(f"lab: starting haproxy on the VIP {L.vip}")
        self._spawn(
            processes.Spec(
                "haproxy",
                [str(binary), "-W", "-db", "-f", str(conf)],
                listens=(
                    (L.vip, L.lb_http_port),
                    (L.vip, L.lb_https_port),
                    (L.vip, L.lb_stats_port),
                    (L.vip6, L.lb_http_port),
                    (L.vip6, L.lb_https_port),
                ),
            ),
            self._nodes_up,
            30,
            "both nodes UP in the health checks",
        )

    def _nodes_up(self) -> bool:
        up = self.lb_servers_up()
        return all(up.get(b) == len(self.layout.nodes) for b in ("http_nodes", "passthrough_nodes"))

    def lb_servers_up(self) -> dict[str, int]:
        """Backend name -> number of servers UP, from HAProxy's stats socket."""
        import socket

        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(self.layout.run / "haproxy.sock"))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        up: dict[str, int] = {}
        for line in data.decode().splitlines():
            cols = line.split(",")
            if len(cols) > 17 and cols[1] not in ("FRONTEND", "BACKEND", "svname") and not line.startswith("#"):
                up.setdefault(cols[0], 0)
                if cols[17].startswith("UP"):
                    up[cols[0]] += 1
        return up

    def reconfigure_lb(self, faults: render.LbFaults | None = None) -> None:
        """Re-render HAProxy's config with ``faults`` (None: healthy) and reload it gracefully."""
        self._render_haproxy(faults)
        running = processes.find(self.layout, "haproxy")
        if running is None:
            raise LabError("haproxy", "is not running")
        processes.signal_process(running, signal.SIGUSR2)
        time.sleep(0.5)
        processes.wait_ready(running, self._nodes_up, 15, "both nodes UP after reload")

    def _wait_routes(self, extra_hosts: int) -> None:
        L = self.layout
        self.say("lab: waiting for routes to serve through the whole chain")
        ctx = ssl.create_default_context(cafile=str(L.pki / "ingress-ca.crt"))
        checks = [
            (f"api.{EXAMPLE_DOMAIN}", "/v1/ready", 200),
            (f"shop.{APPS_DOMAIN}", "/", 200),
            (f"wordpress.{EXAMPLE_DOMAIN}", "/", 401),
            (objects.GW_HOSTS["app"], "/v1/ready", 200),
            (objects.GW_HOSTS["team"], "/", 200),
        ]
        if extra_hosts:
            checks.append((f"host-{extra_hosts - 1:04d}.{EXAMPLE_DOMAIN}", "/", 200))
        haproxy = processes.find(L, "haproxy")
        assert haproxy is not None
        timeout = 60 + extra_hosts * 0.06
        for host, path, status in checks:
            # a client per host: httpx pools connections by the dialed address, and a connection made with
            # one host's SNI (terminated by the LB, or passed through to another listener) must not carry
            # another host's request
            with httpx.Client(verify=ctx, timeout=2) as per_host:

                def serving(
                    host: str = host, path: str = path, status: int = status, client: httpx.Client = per_host
                ) -> bool:
                    r = client.get(
                        f"https://{L.vip}:{L.lb_https_port}{path}",
                        headers={"Host": host},
                        extensions={"sni_hostname": host},
                    )
                    return r.status_code == status

                processes.wait_ready(haproxy, serving, timeout, f"https://{host}{path} -> {status}")
        with httpx.Client(verify=ctx, timeout=2) as http:
            # every node must have the whole configuration, not just the one the LB picked
            # (an Ingress host: on plain HTTP a Gateway host gets its route's redirect, not the page)
            last_host, last_path, last_status = [c for c in checks if not c[0].endswith("." + objects.GW_DOMAIN)][-1]
            for node in L.nodes:
                traefik = processes.find(L, f"traefik-{node.name}")
                assert traefik is not None
                url = f"http://{node.ip}:{L.node_port_http}{last_path}"
                processes.wait_ready(
                    traefik,
                    partial(_answers, http, url, last_host, last_status),
                    timeout,
                    f"{url} Host: {last_host} -> {last_status}",
                )
        w = self.writer()

        def status_published() -> bool:
            ing = w.get({"kind": "Ingress", "metadata": {"name": "api", "namespace": objects.DEMO_NS}}) or {}
            lb = ing.get("status", {}).get("loadBalancer", {}).get("ingress", [])
            return any(a.get("ip") == L.vip for a in lb)

        def gateway_status_published() -> bool:
            gw = (
                w.get({"kind": "Gateway", "metadata": {"name": objects.GATEWAY_NAME, "namespace": objects.GATEWAY_NS}})
                or {}
            )
            status = gw.get("status") or {}
            programmed = any(
                c.get("type") == "Programmed" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            routes = [w.get(r) or {} for r in objects.gateway_objects(L, b"", b"") if r["kind"] == "HTTPRoute"]
            accepted = all(
                any(
                    c.get("type") == "Accepted" and c.get("status") == "True"
                    for p in (r.get("status") or {}).get("parents") or []
                    for c in p.get("conditions") or []
                )
                for r in routes
            )
            return programmed and accepted and any(a.get("value") == L.vip for a in status.get("addresses") or [])

        traefik = processes.find(L, "traefik-lab-node-1")
        assert traefik is not None
        processes.wait_ready(traefik, status_published, 30, "Ingress status set to the VIP")
        processes.wait_ready(
            traefik, gateway_status_published, 30, "Gateway Programmed with the VIP, every demo HTTPRoute Accepted"
        )
        self.write_profile()

    def write_profile(self) -> None:
        L = self.layout
        pki.write_private(
            L.profile,
            render.profile(
                L,
                L.pki / "ingress-ca.crt",
                {
                    f"wordpress.{EXAMPLE_DOMAIN}": {
                        "username": objects.WORDPRESS_USER,
                        "password_file": str(L.secrets / "wordpress.password"),
                    },
                },
            ).encode(),
        )

    # --- sync -----------------------------------------------------------------------------
    def sync(self, *, quiet: bool = False, signal_dns: bool = True) -> int:
        """Re-render the apps.test records from the Ingress objects and the gw.test records from the HTTPRoute
        hostnames; dnsmasq re-reads them on SIGHUP."""
        w = self.writer()
        hosts = [rule.get("host", "") for ing in w.list("Ingress") for rule in ing.get("spec", {}).get("rules", [])]
        try:
            routes = w.list("HTTPRoute")
        except ApiException as exc:
            if exc.status != 404:  # 404: no Gateway API CRDs (yet)
                raise
            routes = []
        try:
            routes += w.list("TLSRoute")  # the Kafka brokers' names (`lab up --with kafka`)
        except ApiException as exc:
            if exc.status != 404:
                raise
        route_hosts = [h for r in routes for h in (r.get("spec") or {}).get("hostnames") or []]
        text = render.apps_hosts(self.layout, hosts, route_hosts)
        (self.layout.conf / "apps.hosts").write_text(text)
        count = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        if signal_dns:
            running = processes.find(self.layout, "dnsmasq")
            if running is None:
                raise LabError("dnsmasq", "is not running; run `ingresscheck lab up`")
            processes.signal_process(running, signal.SIGHUP)
        if not quiet:
            self.say(f"lab: {count} {APPS_DOMAIN} and {GW_DOMAIN} records rendered")
        return count

    # --- down and status ------------------------------------------------------------------
    def down(self, quiet: bool = False) -> None:
        recorded = self._stop_all(quiet)
        left = processes.listeners(self.lab_addresses())
        if left:
            raise LabError(
                "down",
                "listeners remain on lab addresses: "
                + ", ".join(f"{ip}:{port}/{proto}" for ip, port, proto in left[:5]),
            )
        if not quiet:
            self.say("lab is down" if recorded else "lab is not running")

    def _stop_all(self, quiet: bool) -> dict[str, processes.Running]:
        """Stop every recorded lab process by PID, newest component first."""
        recorded = {r.name: r for r in processes.recorded(self.layout)}
        order = [n for n in reversed(COMPONENTS) if n in recorded] + [n for n in recorded if n not in COMPONENTS]
        for name in order:
            processes.stop(self.layout, recorded[name])
            if not quiet:
                self.say(f"lab: stopped {name} (pid {recorded[name].pid})")
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.layout.root / "etcd-data", ignore_errors=True)
        return recorded

    def lab_addresses(self) -> set[str]:
        L = self.layout
        addrs = (
            {L.dns_ip, L.vip, envoy_gateway.VIP} | {n.ip for n in L.nodes} | {kafka.broker_ip(n) for n in kafka.BROKERS}
        )
        addrs |= {addr.rsplit(":", 1)[0] for addr in self._pods(int(self.state().get("extra_hosts", 0)))}
        return addrs

    def status(self) -> list[ComponentStatus]:
        recorded = {r.name: r for r in processes.recorded(self.layout)}
        out = []
        for name in COMPONENTS:
            r = recorded.get(name)
            if r is None:
                out.append(ComponentStatus(name, False, None, "not started"))
            elif not processes.alive(r):
                out.append(ComponentStatus(name, False, r.pid, f"exited; see {r.log}"))
            else:
                out.append(ComponentStatus(name, True, r.pid, self._detail(name)))
        eg = recorded.get(envoy_gateway.NAME)  # the optional second data plane: listed, never required
        if eg is None:
            out.append(
                ComponentStatus(
                    envoy_gateway.NAME,
                    False,
                    None,
                    "not started (lab up --data-planes traefik,envoy-gateway)",
                    optional=True,
                )
            )
        elif not processes.alive(eg):
            out.append(ComponentStatus(envoy_gateway.NAME, False, eg.pid, f"exited; see {eg.log}", optional=True))
        else:
            out.append(ComponentStatus(envoy_gateway.NAME, True, eg.pid, f"Envoy on {envoy_gateway.VIP}:80/443"))
        return out

    def _detail(self, name: str) -> str:
        L = self.layout
        try:
            if name == "haproxy":
                up = self.lb_servers_up()
                return f"VIP {L.vip}:{L.lb_http_port}/{L.lb_https_port}, nodes UP: " + ", ".join(
                    f"{b} {up.get(b, 0)}/{len(L.nodes)}" for b in ("http_nodes", "passthrough_nodes")
                )
            if name == "kube-apiserver":
                return L.apiserver_url
            if name == "dnsmasq":
                return f"{L.dns_ip}:{L.dns_port}"
            if name.startswith("traefik-"):
                node = next(n for n in L.nodes if name.endswith(n.name))
                return f"{node.ip} web :{L.node_port_http} websecure :{L.node_port_https}"
            if name == "etcd":
                return f"127.0.0.1:{L.etcd_client}"
            if name == "echo":
                return f"{len(self._pods(int(self.state().get('extra_hosts', 0))))} pods"
        except Exception as exc:  # noqa: BLE001 - status must always print
            return f"unhealthy: {exc}"
        return ""


def _answers_200(url: str) -> bool:
    return httpx.get(url, timeout=1).status_code == 200


def _answers(http: httpx.Client, url: str, host: str, status: int) -> bool:
    return http.get(url, headers={"Host": host}).status_code == status


def _htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    # Apache's htpasswd writes bcrypt as $2y$; the algorithm is the same as $2b$.
    return f"{user}:{hashed.replace('$2b$', '$2y$', 1)}\n"
