"""Access control on the wire (issue 21): `lab up --with access` adds four hosts, each protected one way.

```
client ─▶ HAProxy VIP :443 (TLS passed through by SNI, PROXY protocol v2: the client's address travels on)
            └─▶ Traefik websecure (proxyProtocol trusts the VIP; TLS ends here with the hosts' own certificate)
                 ├─ sso.example.test       auth-url ─▶ oauth2-proxy 127.0.21.2 ─▶ OIDC issuer (mockoidc) 127.0.21.3
                 │                          auth-signin: /oauth2/start (an Ingress path to oauth2-proxy)
                 ├─ mtls.example.test      auth-tls-secret: the lab's client CA; the certificate passed upstream
                 ├─ internal.example.test  whitelist-source-range 127.0.21.64/26
                 └─ limited.example.test   limit-rps 2, limit-burst-multiplier 5
```

oauth2-proxy v7.15.6 and the issuer (github.com/oauth2-proxy/mockoidc, a maintained OIDC provider for tests,
in a small main of our own) are built once from the Go module proxy into the cache, like the other Go
binaries. The issuer signs in its default user without a login page, so a client that follows the redirects
goes through the real authorization-code flow: oauth2-proxy's start, the issuer's authorize, the callback
(oauth2-proxy redeems the code at the issuer's token endpoint), the session cookie.

The profile gains the lab's vantage points (``source_addresses``: one client address inside the range,
one outside) and the lab client's certificate for mtls.example.test (``client_certificates``, by file).
"""

from __future__ import annotations

import os
import secrets
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from ingresscheck.errors import LabError

from . import build, objects, pki, processes
from .access_hosts import (
    ACCESS_HOSTS,
    ACCESS_NS,
    ALLOWED_RANGE,
    INSIDE_SOURCE,
    INTERNAL_HOST,
    ISSUER_IP,
    LIMIT_BURST_MULTIPLIER,
    LIMIT_RPS,
    LIMITED_HOST,
    MTLS_HOST,
    OAUTH2_PROXY_IP,
    OUTSIDE_SOURCE,
    POD_IPS,
    SSO_HOST,
)
from .layout import LabLayout

if TYPE_CHECKING:
    from .lab import Lab

Say = Callable[[str], None]
Obj = dict[str, Any]

OAUTH2_PROXY_VERSION = "v7.15.6"
MOCKOIDC_VERSION = "v0.0.0-20261103160011-e06ed0b7cb7f"  # the module proxy's newest; the module has no tags
CLIENT_ID = "ingresscheck-lab"
AUTH_PORT = 8080  # the pod port, as for every lab "pod"
RESPONSE_HEADERS = "X-Auth-Request-User,X-Auth-Request-Email"
OAUTH2_PROXY = "oauth2-proxy"
ISSUER = "oidc-issuer"
ECHO = "access-echo"

# The issuer's main: serves mockoidc on a chosen address with the lab's client id and secret (from a file).
ISSUER_MAIN = """package main

import (
\t"flag"
\t"log"
\t"net"
\t"os"
\t"os/signal"
\t"strings"
\t"syscall"

\t"github.com/oauth2-proxy/mockoidc"
)

func main() {
\taddr := flag.String("addr", "127.0.0.1:0", "listen address")
\tclientID := flag.String("client-id", "", "the OAuth client id")
\tsecretFile := flag.String("client-secret-file", "", "a file holding the client secret")
\tflag.Parse()
\tm, err := mockoidc.NewServer(nil)
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tm.ClientID = *clientID
\tsecret, err := os.ReadFile(*secretFile)
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tm.ClientSecret = strings.TrimSpace(string(secret))
\tln, err := net.Listen("tcp", *addr)
\tif err != nil {
\t\tlog.Fatal(err)
\t}
\tif err := m.Start(ln, nil); err != nil {
\t\tlog.Fatal(err)
\t}
\tlog.Printf("oidc issuer %s", m.Issuer())
\tstop := make(chan os.Signal, 1)
\tsignal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
\t<-stop
}
"""


# --- build ---------------------------------------------------------------------------------------
def binary(layout: LabLayout, name: str) -> Path:
    version = {OAUTH2_PROXY: OAUTH2_PROXY_VERSION, ISSUER: MOCKOIDC_VERSION}[name]
    return layout.cache / "bin" / f"{name}-{version}"


def _build(layout: LabLayout, say: Say, name: str, gomod: str, files: dict[str, str], pkg: str, ldflags: str) -> Path:
    target = binary(layout, name)
    if target.exists():
        return target
    go = build._go()
    work = layout.cache / "src" / target.name
    log = layout.cache / "logs" / f"build-{target.name}.log"
    for d in (work, log.parent, target.parent):
        d.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    (work / "go.mod").write_text(gomod)
    for file, text in files.items():
        (work / file).write_text(text)
    say(f"lab: building {name} (once; cached in {target.parent}; log {log})")
    started = time.monotonic()

    # run_go says every 30 s how far the build got (modules downloaded, packages compiled)
    build.run_go([go, "mod", "tidy"], work, log, f"{name} build", say)
    build.run_go(
        [go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(target) + ".tmp", pkg],
        work,
        log,
        f"{name} build",
        say,
    )
    os.replace(str(target) + ".tmp", target)
    say(f"lab: built {name} in {time.monotonic() - started:.0f} s")
    return target


def ensure_binaries(layout: LabLayout, say: Say) -> dict[str, Path]:
    module = "github.com/oauth2-proxy/oauth2-proxy/v7"
    proxy = _build(
        layout,
        say,
        OAUTH2_PROXY,
        f"module ingresscheck.local/oauth2-proxy-build\n\ngo 1.25.0\n\nrequire {module} {OAUTH2_PROXY_VERSION}\n",
        {"tools.go": f'//go:build tools\n\npackage tools\n\nimport _ "{module}"\n'},
        module,
        f"-s -w -X {module}/pkg/version.VERSION={OAUTH2_PROXY_VERSION}",
    )
    issuer = _build(
        layout,
        say,
        ISSUER,
        "module ingresscheck.local/oidc-issuer\n\ngo 1.25.0\n\n"
        f"require github.com/oauth2-proxy/mockoidc {MOCKOIDC_VERSION}\n",
        {"main.go": ISSUER_MAIN},
        ".",
        "-s -w",
    )
    return {OAUTH2_PROXY: proxy, ISSUER: issuer}


# --- files ---------------------------------------------------------------------------------------
def _pki(layout: LabLayout) -> None:
    P = layout.pki
    if (P / "access-client.crt").exists():
        return
    ingress_ca = pki.load_pair(P, "ingress-ca")
    pki.write_pair(P, "access-tls", pki.issue(ingress_ca, SSO_HOST, dns_names=ACCESS_HOSTS))
    client_ca = pki.make_ca("ingresscheck lab client CA")
    pki.write_pair(P, "access-client-ca", client_ca)
    pki.write_pair(P, "access-client", pki.issue(client_ca, "ingresscheck lab client", server=False, client=True))


def _secrets(layout: LabLayout) -> None:
    S = layout.secrets
    if not (S / "oidc-client.secret").exists():
        pki.write_private(S / "oidc-client.secret", secrets.token_urlsafe(24).encode())
    if not (S / "oauth2-proxy-cookie.secret").exists():
        pki.write_private(S / "oauth2-proxy-cookie.secret", secrets.token_hex(16).encode())  # 32 bytes: AES-256


def _tls_secret(name: str, cert: bytes, key: bytes) -> Obj:
    import base64

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ACCESS_NS, "labels": {objects.LAB_LABEL: "true"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()},
    }


def sso_annotations(auth_url: str | None = None) -> dict[str, str]:
    p = "nginx.ingress.kubernetes.io/"
    return {
        f"{p}auth-url": auth_url or f"http://{OAUTH2_PROXY_IP}:{AUTH_PORT}/oauth2/auth",
        f"{p}auth-signin": f"https://{SSO_HOST}/oauth2/start?rd=$escaped_request_uri",
        f"{p}auth-response-headers": RESPONSE_HEADERS,
    }


def mtls_annotations(verify_client: str = "on") -> dict[str, str]:
    p = "nginx.ingress.kubernetes.io/"
    return {
        f"{p}auth-tls-secret": f"{ACCESS_NS}/access-client-ca",
        f"{p}auth-tls-verify-client": verify_client,
        f"{p}auth-tls-pass-certificate-to-upstream": "true",
    }


def internal_annotations(ranges: str = ALLOWED_RANGE) -> dict[str, str]:
    return {"nginx.ingress.kubernetes.io/whitelist-source-range": ranges}


def limited_annotations() -> dict[str, str]:
    p = "nginx.ingress.kubernetes.io/"
    return {f"{p}limit-rps": str(LIMIT_RPS), f"{p}limit-burst-multiplier": str(LIMIT_BURST_MULTIPLIER)}


def ingress_for(name: str, annotations: dict[str, str] | None = None) -> Obj:
    """One of the four protected Ingresses by name (sso, mtls, internal, limited), optionally re-annotated."""
    host = {"sso": SSO_HOST, "mtls": MTLS_HOST, "internal": INTERNAL_HOST, "limited": LIMITED_HOST}[name]
    default = {
        "sso": sso_annotations,
        "mtls": mtls_annotations,
        "internal": internal_annotations,
        "limited": limited_annotations,
    }[name]()
    return objects.ingress(
        name,
        ACCESS_NS,
        host,
        [("/", "Prefix", f"{name}-app")],
        annotations=annotations if annotations is not None else default,
        tls_secret="access-tls",
    )


def access_objects(layout: LabLayout) -> list[Obj]:
    """The namespace, Secrets, Services (with their endpoint slices) and Ingresses of the four hosts."""
    import base64

    P = layout.pki
    out: list[Obj] = [objects.namespace(ACCESS_NS)]
    out.append(_tls_secret("access-tls", (P / "access-tls.crt").read_bytes(), (P / "access-tls.key").read_bytes()))
    out.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "access-client-ca", "namespace": ACCESS_NS, "labels": {objects.LAB_LABEL: "true"}},
            "type": "Opaque",
            "data": {"ca.crt": base64.b64encode((P / "access-client-ca.crt").read_bytes()).decode()},
        }
    )
    for service, ip in POD_IPS.items():
        pod = objects.Pod(service, f"{service}-0", ACCESS_NS, ip)
        out += objects.service_with_pods(service, ACCESS_NS, [pod], layout.pod_port)
    proxy = objects.Pod(OAUTH2_PROXY, f"{OAUTH2_PROXY}-0", ACCESS_NS, OAUTH2_PROXY_IP)
    out += objects.service_with_pods(OAUTH2_PROXY, ACCESS_NS, [proxy], AUTH_PORT)
    out += [ingress_for(n) for n in ("sso", "mtls", "internal", "limited")]
    # the sign-in paths of sso.example.test go to oauth2-proxy itself, unprotected (ingress-nginx's wiring)
    out.append(
        objects.ingress(
            "sso-oauth2", ACCESS_NS, SSO_HOST, [("/oauth2", "Prefix", OAUTH2_PROXY)], tls_secret="access-tls"
        )
    )
    return out


# --- processes -----------------------------------------------------------------------------------
def _issuer_url() -> str:
    return f"http://{ISSUER_IP}:{AUTH_PORT}/oidc"


def _start_echo(lab: Lab) -> None:
    import json

    L = lab.layout
    pods = {
        f"{ip}:{L.pod_port}": {"service": service, "pod": f"{service}-0", "namespace": ACCESS_NS}
        for service, ip in POD_IPS.items()
    }
    pods_file = L.conf / "access-echo-pods.json"
    pods_file.write_text(json.dumps(pods, indent=1, sort_keys=True))
    spec = processes.Spec(
        ECHO,
        [sys.executable, "-m", "ingresscheck_lab.echo", str(pods_file)],
        listens=tuple((ip, L.pod_port) for ip in POD_IPS.values()),
    )
    last = list(POD_IPS.values())[-1]
    processes.wait_ready(processes.start(L, spec), lambda: _tcp_open(last, L.pod_port), 60, f"TCP {last}")


def _tcp_open(address: str, port: int) -> bool:
    import socket

    with socket.create_connection((address, port), timeout=1):
        return True


def start_issuer(lab: Lab, binaries: dict[str, Path] | None = None) -> None:
    L = lab.layout
    binaries = binaries or ensure_binaries(L, lab.say)
    spec = processes.Spec(
        ISSUER,
        [
            str(binaries[ISSUER]),
            f"-addr={ISSUER_IP}:{AUTH_PORT}",
            f"-client-id={CLIENT_ID}",
            f"-client-secret-file={L.secrets / 'oidc-client.secret'}",
        ],
        listens=((ISSUER_IP, AUTH_PORT),),
    )
    url = f"{_issuer_url()}/.well-known/openid-configuration"
    processes.wait_ready(processes.start(L, spec), lambda: httpx.get(url, timeout=1).status_code == 200, 30, url)


def start_auth_service(lab: Lab, binaries: dict[str, Path] | None = None) -> None:
    """Start oauth2-proxy (the lab test of a stopped auth service stops and restarts it)."""
    L = lab.layout
    binaries = binaries or ensure_binaries(L, lab.say)
    spec = processes.Spec(
        OAUTH2_PROXY,
        [
            str(binaries[OAUTH2_PROXY]),
            f"--http-address={OAUTH2_PROXY_IP}:{AUTH_PORT}",
            "--provider=oidc",
            f"--oidc-issuer-url={_issuer_url()}",
            f"--client-id={CLIENT_ID}",
            f"--client-secret-file={L.secrets / 'oidc-client.secret'}",
            f"--cookie-secret-file={L.secrets / 'oauth2-proxy-cookie.secret'}",
            f"--redirect-url=https://{SSO_HOST}/oauth2/callback",
            f"--whitelist-domain={SSO_HOST}",
            "--email-domain=*",
            "--set-xauthrequest",
            "--reverse-proxy",
            "--skip-provider-button",
            "--upstream=static://202",
            "--silence-ping-logging",
        ],
        listens=((OAUTH2_PROXY_IP, AUTH_PORT),),
    )
    url = f"http://{OAUTH2_PROXY_IP}:{AUTH_PORT}/ping"
    processes.wait_ready(processes.start(L, spec), lambda: httpx.get(url, timeout=1).status_code == 200, 30, url)


def stop_auth_service(lab: Lab) -> None:
    running = processes.find(lab.layout, OAUTH2_PROXY)
    if running is not None:
        processes.stop(lab.layout, running)


def running(layout: LabLayout) -> bool:
    return all(
        (r := processes.find(layout, name)) is not None and processes.alive(r) for name in (ECHO, ISSUER, OAUTH2_PROXY)
    )


def start(lab: Lab) -> None:
    """Build (once), create the objects, start the backends, the issuer and oauth2-proxy (those not running
    yet), wait for the four hosts; safe to call again."""
    L = lab.layout
    binaries = ensure_binaries(L, lab.say)
    _pki(L)
    _secrets(L)
    lab.say(f"lab: adding the access-control hosts ({', '.join(ACCESS_HOSTS)})")
    res = lab.writer()
    for obj in access_objects(L):
        res.apply(obj, "ingresscheck-lab")
    if (r := processes.find(L, ECHO)) is None or not processes.alive(r):
        _start_echo(lab)
    if (r := processes.find(L, ISSUER)) is None or not processes.alive(r):
        start_issuer(lab, binaries)
    if (r := processes.find(L, OAUTH2_PROXY)) is None or not processes.alive(r):
        start_auth_service(lab, binaries)
    wait_serving(lab)
    write_profile(L)


def expected_answers() -> list[tuple[str, int, dict[str, Any]]]:
    """(host, status, httpx request options) that show each host wired through the whole chain."""
    return [
        (SSO_HOST, 302, {}),  # no session: to the sign-in
        (MTLS_HOST, 200, {"cert": True}),
        (INTERNAL_HOST, 200, {"source": INSIDE_SOURCE}),
        (LIMITED_HOST, 200, {}),
    ]


def wait_serving(lab: Lab, timeout: float = 60.0) -> None:
    L = lab.layout
    haproxy = processes.find(L, "haproxy")
    if haproxy is None:
        raise LabError("haproxy", "is not running; run `ingresscheck lab up` first")
    for host, status, opts in expected_answers():
        ctx = ssl.create_default_context(cafile=str(L.pki / "ingress-ca.crt"))
        if opts.get("cert"):
            ctx.load_cert_chain(str(L.pki / "access-client.crt"), str(L.pki / "access-client.key"))
        source = opts.get("source")
        transport = httpx.HTTPTransport(verify=ctx, local_address=source) if source else None
        with httpx.Client(verify=ctx, timeout=2, transport=transport) as client:

            def serving(host: str = host, status: int = status, client: httpx.Client = client) -> bool:
                # a new connection per try: a TLS connection made before Traefik loaded the host's TLS options
                # (client certificates for mtls) stays without them, and every request on it is refused; with
                # Envoy Gateway beside it Traefik is slower to load them, and a kept-alive try never saw 200
                r = client.get(
                    f"https://{L.vip}:{L.lb_https_port}/",
                    headers={"Host": host, "Connection": "close"},
                    extensions={"sni_hostname": host},
                )
                return r.status_code == status

            processes.wait_ready(haproxy, serving, timeout, f"https://{host}/ -> {status}")


def write_profile(layout: LabLayout) -> None:
    """Add the vantage points and the client certificate to the lab's profile."""
    doc = yaml.safe_load(layout.profile.read_text()) or {}
    doc["source_addresses"] = [INSIDE_SOURCE, OUTSIDE_SOURCE]
    doc["client_certificates"] = {
        MTLS_HOST: {
            "cert_file": str(layout.pki / "access-client.crt"),
            "key_file": str(layout.pki / "access-client.key"),
        }
    }
    head = "# ingresscheck profile of the local lab, written by `ingresscheck lab up` (with access).\n"
    pki.write_private(layout.profile, (head + yaml.safe_dump(doc, sort_keys=False)).encode())


def remove(lab: Lab) -> None:
    """Stop the access processes, delete the objects one by one (the lab has no namespace controller) and put
    the plain profile back."""
    for name in (OAUTH2_PROXY, ISSUER, ECHO):
        r = processes.find(lab.layout, name)
        if r is not None:
            processes.stop(lab.layout, r)
    res = lab.writer()
    for obj in reversed(access_objects(lab.layout)):
        if obj["kind"] != "Namespace":
            res.delete(obj)
    lab.sync(quiet=True)
    lab.write_profile()


__all__ = [
    "ACCESS_HOSTS",
    "ensure_binaries",
    "ingress_for",
    "remove",
    "start",
    "start_auth_service",
    "stop_auth_service",
    "wait_serving",
]
