"""The Kubernetes objects of the lab, as plain dicts: the controller's wiring and the demo content.

Pure functions, so the unit tests can check them and `lab up` can create them. There is no kubelet
and no kube-proxy: "pods" are echo listeners on loopback addresses, wired through Services
without selectors and hand-made EndpointSlices. The apiserver refuses loopback IPv4 endpoint
addresses, so slices use addressType FQDN with the IP literal (Traefik dials the literal).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from .layout import APPS_DOMAIN, EXAMPLE_DOMAIN, GW_DOMAIN, LabLayout

Obj = dict[str, Any]

LAB_LABEL = "ingresscheck.io/lab"
CONTROLLER_USER = "ingresscheck:traefik-controller"
# The second node's user: reads everything the first reads, writes no Gateway API status.
REPLICA_USER = "ingresscheck:traefik-replica"
GATEWAY_NS = "demo"  # the lab Gateway lives beside the demo Services
GATEWAY_NAME = "lab-gateway"
GATEWAY_CLASS = "traefik"
GATEWAY_CONTROLLER = "traefik.io/gateway-controller"
TEAM_NS = "gw-team"  # a route in another namespace: its backend in demo needs a ReferenceGrant
DEMO_NS = "demo"
EXTRA_NS = "bench"
WORDPRESS_REALM = "WordPress - authentication required"
WORDPRESS_USER = "admin"


@dataclass(frozen=True)
class Pod:
    service: str
    name: str
    namespace: str
    ip: str
    static: bool = False  # a backend that says nothing about itself (a plain static site), not an echo


def _meta(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    meta: Obj = {"name": name, "labels": {LAB_LABEL: "true"}}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name)}


def service_with_pods(name: str, ns: str, pods: list[Pod], pod_port: int) -> list[Obj]:
    """A Service without selector plus the EndpointSlice that names its pods."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, ns),
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": pod_port, "protocol": "TCP"}]},
    }
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _meta(f"{name}-lab", ns, labels={LAB_LABEL: "true", "kubernetes.io/service-name": name}),
        "addressType": "FQDN",
        "endpoints": [
            {
                "addresses": [p.ip],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": p.name, "namespace": ns},
            }
            for p in pods
        ],
        "ports": [{"name": "http", "port": pod_port, "protocol": "TCP"}],
    }
    return [svc, eps]


def ingress(
    name: str,
    ns: str,
    host: str,
    paths: list[tuple[str, str, str]],
    *,
    annotations: dict[str, str] | None = None,
    tls_secret: str | None = None,
) -> Obj:
    """An Ingress of class nginx; paths are (path, pathType, service)."""
    spec: Obj = {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"name": "http"}}}}
                        for p, t, s in paths
                    ]
                },
            }
        ],
    }
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    meta = _meta(name, ns)
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec}


def _binding(role: str, users: tuple[str, ...]) -> Obj:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(role),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users],
    }


def controller_objects(layout: LabLayout) -> list[Obj]:
    """RBAC for the controller's least-privilege user, the IngressClass, the Nodes and the LB Service."""
    objs: list[Obj] = [namespace(layout.controller_namespace)]
    objs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("ingresscheck-traefik-controller"),
            # What Traefik documents for the kubernetesIngressNGINX provider, nothing more.
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "secrets", "configmaps", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
                {
                    "apiGroups": ["networking.k8s.io"],
                    "resources": ["ingresses", "ingressclasses"],
                    "verbs": ["list", "watch"],
                },
                {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update"]},
            ],
        }
    )
    objs.append(_binding("ingresscheck-traefik-controller", (CONTROLLER_USER, REPLICA_USER)))
    gateway_kinds = [
        "gatewayclasses",
        "gateways",
        "listenersets",
        "httproutes",
        "grpcroutes",
        "tlsroutes",
        "tcproutes",
        "referencegrants",
        "backendtlspolicies",
    ]
    # What Traefik's kubernetesGateway provider reads (its published RBAC, plus the v1.6 kinds it watches).
    objs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("ingresscheck-traefik-gateway-read"),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces", "services", "secrets", "configmaps"],
                    "verbs": ["get", "list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
                {
                    "apiGroups": ["gateway.networking.k8s.io"],
                    "resources": gateway_kinds,
                    "verbs": ["get", "list", "watch"],
                },
            ],
        }
    )
    objs.append(_binding("ingresscheck-traefik-gateway-read", (CONTROLLER_USER, REPLICA_USER)))
    objs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("ingresscheck-traefik-gateway-status"),
            "rules": [
                {
                    "apiGroups": ["gateway.networking.k8s.io"],
                    "resources": [k + "/status" for k in gateway_kinds],
                    "verbs": ["update"],
                }
            ],
        }
    )
    objs.append(_binding("ingresscheck-traefik-gateway-status", (CONTROLLER_USER,)))
    objs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": _meta("nginx"),
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    )
    for node in layout.nodes:
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": _meta(node.name, labels={LAB_LABEL: "true", "kubernetes.io/hostname": node.name}),
                "status": {
                    "addresses": [
                        {"type": "InternalIP", "address": node.ip},
                        {"type": "Hostname", "address": node.name},
                    ],
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "LabNode",
                            "message": "ingress node of the ingresscheck lab",
                        }
                    ],
                },
            }
        )
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(layout.controller_service, layout.controller_namespace),
            "spec": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": "Cluster",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "web", "nodePort": layout.node_port_http},
                    {"name": "https", "port": 443, "targetPort": "websecure", "nodePort": layout.node_port_https},
                ],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": layout.vip}]}},
        }
    )
    return objs


def demo_pods(layout: LabLayout) -> list[Pod]:
    return [
        Pod("wordpress", "wordpress-0", DEMO_NS, "127.0.0.11"),
        Pod("api", "api-0", DEMO_NS, "127.0.0.12"),
        Pod("api", "api-1", DEMO_NS, "127.0.0.13"),
        Pod("api-docs", "api-docs-0", DEMO_NS, "127.0.0.14"),
        Pod("shop", "shop-0", DEMO_NS, "127.0.0.15"),
        # the canary HTTPRoute splits 90/10 between these two
        Pod("web-stable", "web-stable-0", DEMO_NS, "127.0.0.16"),
        Pod("web-canary", "web-canary-0", DEMO_NS, "127.0.0.17"),
        # a static site: real clusters' backends rarely say who they are
        Pod("site", "site-0", DEMO_NS, "127.0.0.18", static=True),
    ]


def demo_objects(layout: LabLayout, htpasswd: str, shop_cert_pem: bytes, shop_key_pem: bytes) -> list[Obj]:
    pods = demo_pods(layout)
    objs: list[Obj] = [namespace(DEMO_NS)]
    for svc in dict.fromkeys(p.service for p in pods):
        objs += service_with_pods(svc, DEMO_NS, [p for p in pods if p.service == svc], layout.pod_port)
    # a second Service over the api pods (as a selector shared by two Services gives): they answer "api"
    objs += service_with_pods("api-v2", DEMO_NS, [p for p in pods if p.service == "api"], layout.pod_port)
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta("wordpress-basic-auth", DEMO_NS),
            "type": "Opaque",
            "data": {"auth": base64.b64encode(htpasswd.encode()).decode()},
        }
    )
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta("shop-tls", DEMO_NS),
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(shop_cert_pem).decode(),
                "tls.key": base64.b64encode(shop_key_pem).decode(),
            },
        }
    )
    # The seed's WordPress example, with its three basic-auth annotations.
    objs.append(
        ingress(
            "wordpress",
            DEMO_NS,
            f"wordpress.{EXAMPLE_DOMAIN}",
            [("/", "Prefix", "wordpress")],
            annotations={
                "nginx.ingress.kubernetes.io/auth-type": "basic",
                "nginx.ingress.kubernetes.io/auth-secret": "wordpress-basic-auth",
                "nginx.ingress.kubernetes.io/auth-realm": WORDPRESS_REALM,
            },
        )
    )
    # A REST API with path rules: two pods behind /v1, an exact health path, docs on their own pod.
    objs.append(
        ingress(
            "api",
            DEMO_NS,
            f"api.{EXAMPLE_DOMAIN}",
            [
                ("/v1", "Prefix", "api"),
                ("/healthz", "Exact", "api"),
                ("/docs", "Prefix", "api-docs"),
                ("/v2", "Prefix", "api-v2"),
            ],
        )
    )
    # the company site, a static backend that does not identify itself
    objs.append(ingress("www", DEMO_NS, f"www.{EXAMPLE_DOMAIN}", [("/", "Prefix", "site")]))
    # A frontend on the per-Ingress-certificate domain: TLS passes through the LB to the controller.
    objs.append(ingress("shop", DEMO_NS, f"shop.{APPS_DOMAIN}", [("/", "Prefix", "shop")], tls_secret="shop-tls"))
    return objs


def extra_pods(layout: LabLayout, count: int) -> list[Pod]:
    return [Pod(f"host-{i:04d}", f"host-{i:04d}-0", EXTRA_NS, layout.extra_pod_ip(i)) for i in range(count)]


def extra_objects(layout: LabLayout, count: int) -> list[Obj]:
    """N generated Ingresses, each with its own Service and pod, for benchmarks."""
    if count <= 0:
        return []
    objs: list[Obj] = [namespace(EXTRA_NS)]
    for pod in extra_pods(layout, count):
        objs += service_with_pods(pod.service, EXTRA_NS, [pod], layout.pod_port)
        ing = ingress(pod.service, EXTRA_NS, f"{pod.service}.{EXAMPLE_DOMAIN}", [("/", "Prefix", pod.service)])
        # Written up front: Traefik's client is rate-limited (client-go's default 5 QPS) and applies
        # its configuration only after writing every changed status, which for 1000 new Ingresses
        # takes minutes. Traefik skips the write when the status already matches.
        ing["status"] = {"loadBalancer": {"ingress": [{"ip": layout.vip}]}}
        objs.append(ing)
    return objs


# --- Gateway API ----------------------------------------------------------------------------------


def http_route(
    name: str, ns: str, hostnames: list[str], rules: list[Obj], *, section: str = "https", gateway_ns: str = GATEWAY_NS
) -> Obj:
    parent: Obj = {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "name": GATEWAY_NAME,
        "sectionName": section,
    }
    if gateway_ns != ns:
        parent["namespace"] = gateway_ns
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(name, ns),
        "spec": {"parentRefs": [parent], "hostnames": hostnames, "rules": rules},
    }


def backend(service: str, *, port: int = 80, weight: int | None = None, namespace: str | None = None) -> Obj:
    ref: Obj = {"name": service, "port": port}
    if namespace:
        ref["namespace"] = namespace
    if weight is not None:
        ref["weight"] = weight
    return ref


def rule(
    path_type: str | None = None,
    path: str | None = None,
    backends: list[Obj] | None = None,
    *,
    headers: dict[str, str] | None = None,
    filters: list[Obj] | None = None,
) -> Obj:
    out: Obj = {}
    match: Obj = {}
    if path_type:
        match["path"] = {"type": path_type, "value": path}
    if headers:
        match["headers"] = [{"type": "Exact", "name": k, "value": v} for k, v in headers.items()]
    if match:
        out["matches"] = [match]
    if filters:
        out["filters"] = filters
    if backends:
        out["backendRefs"] = backends
    return out


def redirect_filter(layout: LabLayout) -> Obj:
    spec: Obj = {"scheme": "https", "statusCode": 301}
    if layout.lb_https_port != 443:  # the spec's default is the scheme's well-known port
        spec["port"] = layout.lb_https_port
    return {"type": "RequestRedirect", "requestRedirect": spec}


GW_HOSTS = {"app": f"app.{GW_DOMAIN}", "canary": f"canary.{GW_DOMAIN}", "team": f"team.{GW_DOMAIN}"}


def gateway_objects(layout: LabLayout, cert_pem: bytes, key_pem: bytes) -> list[Obj]:
    """The GatewayClass, the Gateway (HTTP + HTTPS listeners for *.gw.test, TLS from a Secret), and the demo
    routes: an HTTP→HTTPS redirect on the HTTP listener; path matches of each type and a header match; a 90/10
    canary; a route in another namespace whose backend needs (and has) a ReferenceGrant."""
    objs: list[Obj] = [namespace(TEAM_NS)]
    objs.append(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": _meta(GATEWAY_CLASS),
            "spec": {"controllerName": GATEWAY_CONTROLLER},
        }
    )
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta("gw-wildcard-tls", GATEWAY_NS),
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()},
        }
    )
    everyone = {"namespaces": {"from": "All"}}
    objs.append(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": _meta(GATEWAY_NAME, GATEWAY_NS),
            "spec": {
                "gatewayClassName": GATEWAY_CLASS,
                "listeners": [
                    # listener ports are Traefik's entry point ports (the nodes' web and websecure)
                    {
                        "name": "http",
                        "protocol": "HTTP",
                        "port": layout.node_port_http,
                        "hostname": f"*.{GW_DOMAIN}",
                        "allowedRoutes": everyone,
                    },
                    {
                        "name": "https",
                        "protocol": "HTTPS",
                        "port": layout.node_port_https,
                        "hostname": f"*.{GW_DOMAIN}",
                        "allowedRoutes": everyone,
                        "tls": {
                            "mode": "Terminate",
                            "certificateRefs": [{"kind": "Secret", "name": "gw-wildcard-tls"}],
                        },
                    },
                ],
            },
        }
    )
    objs.append(
        http_route(
            "gw-redirect", DEMO_NS, sorted(GW_HOSTS.values()), [rule(filters=[redirect_filter(layout)])], section="http"
        )
    )
    objs.append(
        http_route(
            "app",
            DEMO_NS,
            [GW_HOSTS["app"]],
            [
                rule("PathPrefix", "/v1", [backend("api")]),
                rule("Exact", "/healthz", [backend("api")]),
                rule("RegularExpression", "/reports/[0-9]+", [backend("api-docs")]),
                rule("PathPrefix", "/docs", [backend("api-docs")], headers={"X-Docs-Version": "v2"}),
                rule("PathPrefix", "/docs", [backend("shop")]),
            ],
        )
    )
    objs.append(
        http_route(
            "canary",
            DEMO_NS,
            [GW_HOSTS["canary"]],
            [rule(backends=[backend("web-stable", weight=90), backend("web-canary", weight=10)])],
        )
    )
    objs.append(http_route("team", TEAM_NS, [GW_HOSTS["team"]], [rule(backends=[backend("shop", namespace=DEMO_NS)])]))
    objs.append(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "ReferenceGrant",
            "metadata": _meta("team-routes-to-shop", DEMO_NS),
            "spec": {
                "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": TEAM_NS}],
                "to": [{"group": "", "kind": "Service", "name": "shop"}],
            },
        }
    )
    return objs
