"""The profile: what a check needs to know about the environment, from a YAML file (--profile).

Flags override profile fields. Credentials are referenced (environment variable or file), never
written inline, and read only when a check asks for them.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError


@dataclass(frozen=True)
class Resolve:
    """curl --resolve semantics: connect to ``address`` for ``host:port`` (host may be ``*``)."""

    host: str
    port: int
    address: str

    @classmethod
    def parse(cls, text: str) -> Resolve:
        parts = text.split(":", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            raise UsageError(f"--resolve {text!r}: expected HOST:PORT:ADDRESS")
        address = parts[2].strip("[]")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise UsageError(f"--resolve {text!r}: {address!r} is not an IP address") from None
        return cls(parts[0].lower(), int(parts[1]), address)


@dataclass(frozen=True)
class Credential:
    username: str
    password_env: str | None = None
    password_file: str | None = None

    def password(self) -> str:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise UsageError(f"credentials: environment variable {self.password_env} is not set")
            return value
        if self.password_file:
            try:
                return Path(self.password_file).read_text().rstrip("\n")
            except OSError as exc:
                raise UsageError(f"credentials: cannot read {self.password_file}: {exc.strerror}") from None
        raise UsageError(f"credentials for {self.username}: give password_env or password_file")


@dataclass(frozen=True)
class Thresholds:
    timeout: float = 5.0  # seconds, one network operation (connect, TLS handshake, request)
    cert_expiry_warning_days: int = 21
    concurrency_per_lb: int = 32  # requests in flight to one load-balancer address
    max_body_bytes: int = 1 << 20  # responses are read up to this much
    reload_p95_ms: float = 10_000.0  # a change slower than this to reach the data plane (p95) warns


@dataclass(frozen=True)
class Profile:
    kubeconfig: str | None = None
    context: str | None = None
    dns_servers: tuple[tuple[str, int], ...] = ()  # empty: the system resolver
    load_balancers: tuple[str, ...] = ()
    http_port: int = 80
    https_port: int = 443
    ca_bundle: str | None = None  # None: the system store
    resolve: tuple[Resolve, ...] = ()
    credentials: dict[str, Credential] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    domains: tuple[str, ...] = ()
    reload_domain: str | None = None
    controller: str | None = None  # "traefik" or "ingress-nginx": which annotations it ignores
    lb_redirects: bool = True  # the load balancer redirects all plain HTTP to https (the seed's setup)
    node_port_range: tuple[int, int] = (30000, 32767)
    source: str = "defaults"

    def with_overrides(self, **changes: Any) -> Profile:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolve_override(self, host: str, port: int) -> str | None:
        for r in self.resolve:
            if r.port == port and (r.host == host.lower() or r.host == "*"):
                return r.address
        return None


def _fail(path: str, what: str) -> UsageError:
    return UsageError(f"profile {path}: {what}")


def parse_dns_server(text: Any) -> tuple[str, int]:
    """``ADDRESS[:PORT]`` (IPv6 in brackets when a port is given) -> (address, port), port 53 by default."""
    if isinstance(text, str):
        host, _, port = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else (text, "", "53")
        try:
            ipaddress.ip_address(host.strip("[]"))
            return host.strip("[]"), int(port)
        except ValueError:
            pass
    raise UsageError(f"DNS server {text!r} must be ADDRESS[:PORT]")


def parse_address(text: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(str(text)))
    except ValueError:
        raise UsageError(f"{what} {text!r} is not an IP address") from None


def load(path: str | os.PathLike[str]) -> Profile:
    p = str(path)
    try:
        doc = yaml.safe_load(Path(p).read_text())
    except OSError as exc:
        raise _fail(p, f"cannot be read: {exc.strerror}") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise _fail(p, f"invalid YAML at line {line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise _fail(p, f"invalid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise _fail(p, "must be a mapping of fields")
    known = {"kubeconfig", "context", "dns", "load_balancers", "ports", "ca_bundle", "resolve", "credentials",
             "thresholds", "domains", "reload", "controller", "node_port_range", "lb_redirects"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise _fail(p, f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    base = Path(p).resolve().parent

    def rel(value: Any, name: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _fail(p, f"{name} must be a path")
        return str((base / value).resolve()) if not os.path.isabs(value) else value

    dns = doc.get("dns") or {}
    if not isinstance(dns, dict) or not isinstance(dns.get("servers", []), list):
        raise _fail(p, "dns.servers must be a list of ADDRESS[:PORT]")
    lbs = doc.get("load_balancers") or []
    if not isinstance(lbs, list):
        raise _fail(p, "load_balancers must be a list of IP addresses")
    try:
        servers = tuple(parse_dns_server(x) for x in dns.get("servers", []))
        lbs = [parse_address(x, "load_balancers entry") for x in lbs]
    except UsageError as exc:
        raise _fail(p, str(exc)) from None
    ports = doc.get("ports") or {}
    if not isinstance(ports, dict) or not all(isinstance(v, int) and 0 < v < 65536 for v in ports.values()):
        raise _fail(p, "ports must map http/https to port numbers")
    creds: dict[str, Credential] = {}
    for host, c in (doc.get("credentials") or {}).items():
        if not isinstance(c, dict) or "username" not in c:
            raise _fail(p, f"credentials.{host} needs a username and password_env or password_file")
        if "password" in c:
            raise _fail(p, f"credentials.{host}: inline passwords are refused; use password_env or password_file")
        if not (c.get("password_env") or c.get("password_file")):
            raise _fail(p, f"credentials.{host}: give password_env or password_file")
        creds[str(host).lower()] = Credential(str(c["username"]), c.get("password_env"),
                                              rel(c.get("password_file"), f"credentials.{host}.password_file"))
    th = doc.get("thresholds") or {}
    if not isinstance(th, dict):
        raise _fail(p, "thresholds must be a mapping")
    try:
        thresholds = Thresholds(**th)
    except TypeError as exc:
        raise _fail(p, f"thresholds: {exc}") from None
    if thresholds.timeout <= 0 or thresholds.concurrency_per_lb < 1:
        raise _fail(p, "thresholds.timeout must be > 0 and concurrency_per_lb >= 1")
    controller = doc.get("controller")
    if controller is not None and controller not in ("traefik", "ingress-nginx"):
        raise _fail(p, f"controller {controller!r} is not one of: traefik, ingress-nginx")
    npr = str(doc.get("node_port_range", "30000-32767"))
    lo, _, hi = npr.partition("-")
    if not (lo.isdigit() and hi.isdigit() and 0 < int(lo) <= int(hi) < 65536):
        raise _fail(p, f"node_port_range {npr!r} must be LOW-HIGH, e.g. 30000-32767")
    ca = rel(doc.get("ca_bundle"), "ca_bundle")
    if ca and not Path(ca).is_file():
        raise _fail(p, f"ca_bundle {ca} does not exist")
    return Profile(
        kubeconfig=rel(doc.get("kubeconfig"), "kubeconfig"),
        context=doc.get("context"),
        dns_servers=servers,
        load_balancers=tuple(str(x) for x in lbs),
        http_port=int(ports.get("http", 80)),
        https_port=int(ports.get("https", 443)),
        ca_bundle=ca,
        resolve=tuple(Resolve.parse(str(r)) for r in doc.get("resolve") or []),
        credentials=creds,
        thresholds=thresholds,
        domains=tuple(doc.get("domains") or ()),
        reload_domain=(doc.get("reload") or {}).get("domain"),
        controller=controller,
        lb_redirects=bool(doc.get("lb_redirects", True)),
        node_port_range=(int(lo), int(hi)),
        source=p,
    )
