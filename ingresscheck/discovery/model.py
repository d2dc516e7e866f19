"""What discovery finds: the cluster's ingress-related objects, and one Target per Ingress rule host
(the Inventory that holds them and derives targets, claims and planes is ``discovery.inventory``).

Objects are kept as the plain dicts the API returns, except Secrets: of those only what checks
need is kept (type, key names, the public certificate, htpasswd line counts), never their values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

NGINX_PREFIX = "nginx.ingress.kubernetes.io/"


@dataclass(frozen=True)
class BackendRef:
    """One weighted backend of an HTTPRoute rule (Ingress rules have exactly one, unweighted)."""

    namespace: str
    service: str
    port: int | str | None
    weight: int = 1


@dataclass(frozen=True)
class PathRule:
    path: str
    path_type: str  # Prefix | Exact | ImplementationSpecific; HTTPRoutes also RegularExpression
    service: str | None  # the backend (for a weighted HTTPRoute rule: the heaviest one)
    port: int | str | None
    # HTTPRoute only: the backend's namespace when it is not the route's; headers the rule requires
    # (a request without them must not reach this backend); every weighted backend of the rule.
    namespace: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    backends: tuple[BackendRef, ...] = ()


@dataclass(frozen=True)
class RedirectFilter:
    """What an HTTPRoute RequestRedirect filter promises (Gateway API spec defaults applied)."""

    scheme: str | None  # None: keep the request's
    hostname: str | None  # None: keep the request's
    port: int | None  # None: the scheme's well-known port (omitted from Location)
    status_code: int  # 301 or 302 (spec default 302)
    route: str  # "namespace/name" of the route that carries the filter


@dataclass(frozen=True)
class SecretInfo:
    namespace: str
    name: str
    type: str
    keys: tuple[str, ...]
    cert_pem: bytes | None = None  # tls.crt: public, needed to compare with the served certificate
    htpasswd_lines: int | None = None  # for auth secrets: how many valid user:hash lines
    htpasswd_invalid: int | None = None
    # tls.key against tls.crt: True/False when both are there and parse, None when it cannot be told.
    # The key itself is never kept, only whether it belongs to the certificate.
    key_matches: bool | None = None
    key_problem: str = ""  # why it does not match or could not be read, in words
    # auth-secret-type auth-map: every key is a user name and its value a password hash
    map_users: int | None = None
    map_invalid: int | None = None


@dataclass(frozen=True)
class Unreadable:
    """A referenced Secret discovery could not read, and why: not the same as a missing one.

    ``outcome`` is an ``errors.Outcome`` value ("forbidden", "unreachable", "timeout", ...);
    ``reason`` is one sentence naming the verb and resource, e.g. "the credentials may not get
    secrets in namespace demo (HTTP 403 ...)".
    """

    namespace: str
    name: str
    outcome: str
    reason: str


@dataclass(frozen=True)
class Target:
    """One host of one Ingress: what a request to it should meet along the chain."""

    namespace: str
    ingress: str
    host: str
    paths: tuple[PathRule, ...]
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    ingress_class: str | None = None
    tls_secret: str | None = None  # the secretName of the tls block that covers this host
    status_addresses: tuple[str, ...] = ()
    kind: str = "Ingress"  # or "HTTPRoute": then ``ingress`` holds the route's name
    # HTTPRoute targets: the parent Gateway ("namespace/name") and listener (sectionName) this effective
    # hostname is served on, the listener's protocol and hostname, where the TLS Secret lives (the
    # Gateway's namespace), and the RequestRedirect filter that answers plain HTTP for this host.
    gateway: str | None = None
    listener: str | None = None
    listener_protocol: str | None = None  # HTTP | HTTPS
    listener_hostname: str | None = None
    tls_secret_namespace: str | None = None
    redirect: RedirectFilter | None = None

    @property
    def name(self) -> str:
        """The name of the object this target comes from, whatever its kind."""
        return self.ingress

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.ingress}/{self.host}"

    @property
    def wildcard(self) -> bool:
        """A wildcard rule host (``*.example.com``): it matches exactly one label under the domain."""
        return self.host.startswith("*.")

    @property
    def request_host(self) -> str:
        """The name requests, SNI and DNS lookups use: the host, or for a wildcard host one name it covers."""
        return f"ingresscheck-wildcard.{self.host[2:]}" if self.wildcard else self.host

    def annotation(self, name: str) -> str | None:
        return self.annotations.get(NGINX_PREFIX + name)

    @property
    def tls_secret_ref(self) -> tuple[str, str] | None:
        """(namespace, name) of the TLS Secret serving this host: the Ingress's own namespace, or the Gateway's."""
        if not self.tls_secret:
            return None
        return (self.tls_secret_namespace or self.namespace, self.tls_secret)

    @property
    def auth_type(self) -> str | None:
        return self.annotation("auth-type")

    @property
    def auth_realm(self) -> str | None:
        return self.annotation("auth-realm")

    def redirect_expected(self, lb_redirects: bool) -> bool:
        """Whether http:// must redirect: the LB does it for everyone, or the Ingress asks the controller to
        (force-ssl-redirect, or a tls block with ssl-redirect not turned off, as ingress-nginx does).
        For an HTTPRoute target the Gateway owns plain HTTP: a redirect is expected exactly when a RequestRedirect
        filter on an HTTP listener covers the host (``self.redirect`` says to what)."""
        if self.kind == "HTTPRoute":
            return self.redirect is not None
        if lb_redirects or (self.annotation("force-ssl-redirect") or "").lower() == "true":
            return True
        return self.tls_secret is not None and (self.annotation("ssl-redirect") or "true").lower() != "false"

    @property
    def sample_path(self) -> str:
        """A path this host serves, for requests that need one: the first plain path rule."""
        for rule in self.paths:
            if rule.path.startswith("/") and not any(c in rule.path for c in "()[]*+?^$\\{}|"):
                return rule.path
        return "/"


def targets_of(ingresses: list[Obj], problems: list[tuple[Obj, str]] | None = None) -> list[Target]:
    out: list[Target] = []
    seen_problem = set()
    for ing in ingresses:
        meta, spec = ing.get("metadata", {}), ing.get("spec") or {}
        ns, name = meta.get("namespace", "default"), meta.get("name", "?")
        annotations = meta.get("annotations") or {}
        cls = spec.get("ingressClassName") or annotations.get("kubernetes.io/ingress.class")
        tls_by_host: dict[str, str | None] = {}
        tls_default: str | None = None  # a tls block without hosts covers every host (the API's default)
        for block in spec.get("tls") or []:
            hosts = block.get("hosts") or []
            if not hosts and block.get("secretName") and tls_default is None:
                tls_default = block.get("secretName")
            for h in hosts:
                tls_by_host.setdefault(h.lower(), block.get("secretName"))
        status = tuple(
            a.get("ip") or a.get("hostname")
            for a in ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        )
        rules = spec.get("rules") or []
        if not rules and problems is not None and (ns, name) not in seen_problem:
            default = spec.get("defaultBackend") or {}
            what = (
                (default.get("service") or {}).get("name")
                and f"Service {(default.get('service') or {})['name']}"
                or (default.get("resource") or {}).get("kind")
                and f"{default['resource']['kind']} {default['resource'].get('name', '?')}"
            )
            problems.append(
                (
                    ing,
                    f"has no rules: only a default backend ({what}), no host to check"
                    if what
                    else "has no rules and no default backend: it routes nothing",
                )
            )
            seen_problem.add((ns, name))
        for rule in rules:
            host = (rule.get("host") or "").lower()
            if not host:
                if problems is not None:
                    problems.append(
                        (
                            ing,
                            "has a rule without host: it matches any Host header, so no host-based check applies to it",
                        )
                    )
                continue
            paths = []
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = (p.get("backend") or {}).get("service") or {}
                port = svc.get("port") or {}
                paths.append(
                    PathRule(
                        p.get("path") or "/",
                        p.get("pathType") or "ImplementationSpecific",
                        svc.get("name"),
                        port.get("number") or port.get("name"),
                    )
                )
            out.append(
                Target(
                    ns,
                    name,
                    host,
                    tuple(paths),
                    dict(annotations),
                    cls,
                    tls_by_host[host] if host in tls_by_host else tls_default,
                    status,
                )
            )
    return out
