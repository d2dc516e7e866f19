"""What discovery finds: the cluster's ingress-related objects, and one Target per Ingress rule host.

Objects are kept as the plain dicts the API returns, except Secrets: of those only what checks
need is kept (type, key names, the public certificate, htpasswd line counts), never their values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..identity import Endpoint, ServiceEndpoints, index_endpoints

if TYPE_CHECKING:
    from .planes import Planes

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


@dataclass
class Inventory:
    context: str
    server: str
    ingresses: list[Obj] = field(default_factory=list)
    ingress_classes: list[Obj] = field(default_factory=list)
    services: list[Obj] = field(default_factory=list)
    endpoint_slices: list[Obj] = field(default_factory=list)
    nodes: list[Obj] = field(default_factory=list)
    secrets: dict[tuple[str, str], SecretInfo | None] = field(default_factory=dict)  # None: referenced, missing
    # referenced Secrets that could not be read (403, timeout...): absent from ``secrets``, never "missing"
    unreadable: dict[tuple[str, str], Unreadable] = field(default_factory=dict)
    offline: bool = False  # from manifests: no cluster state (endpoints, statuses) to compare with
    # (namespace, auth secret) -> (username, password), only with --use-auth-secrets; never reported
    credentials: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict, repr=False)
    # Gateway API (empty when the cluster serves no Gateway API CRDs)
    gateway_classes: list[Obj] = field(default_factory=list)
    gateways: list[Obj] = field(default_factory=list)
    listener_sets: list[Obj] = field(default_factory=list)
    http_routes: list[Obj] = field(default_factory=list)
    reference_grants: list[Obj] = field(default_factory=list)

    # Derived once, on first use: discovery fills the object lists before anything reads them.
    @cached_property
    def _derived(self) -> tuple[list[Target], list[tuple[Obj, str]], list[tuple[Obj, str]]]:
        from .gateway import route_targets

        problems: list[tuple[Obj, str]] = []
        route_problems: list[tuple[Obj, str]] = []
        return (targets_of(self.ingresses, problems) + route_targets(self, route_problems), problems, route_problems)

    @property
    def targets(self) -> list[Target]:
        """One per Ingress rule host, then one per HTTPRoute effective hostname on each parent listener."""
        return self._derived[0]

    @property
    def route_problems(self) -> list[tuple[Obj, str]]:
        """HTTPRoutes (or parents) that yield no target to check over the wire, and why."""
        return self._derived[2]

    @property
    def problems(self) -> list[tuple[Obj, str]]:
        """Ingresses (or rules) that yield no target to check, and why."""
        return self._derived[1]

    @cached_property
    def claims(self) -> list[Any]:
        """Who claims each host and path, on which data plane, in precedence order (``discovery.ownership``)."""
        from .ownership import claims

        return claims(self)

    @cached_property
    def planes(self) -> Planes:
        """Which data plane publishes which address, and where each target is checked (``discovery.planes``)."""
        from .planes import Planes

        return Planes(self)

    @cached_property
    def _rules_by_host(self) -> dict[str, list[tuple[str, PathRule]]]:
        by_host: dict[str, list[tuple[str, PathRule]]] = {}
        for t in self.targets:
            if t.kind == "Ingress" and (t.annotation("canary") or "").lower() == "true":
                continue  # a canary Ingress is an alternative backend of the main Ingress's rule, not a rule
            by_host.setdefault(t.host, []).extend((t.namespace, r) for r in t.paths)
        return by_host

    def rules_for_host(self, host: str) -> list[tuple[str, PathRule]]:
        """Every (namespace, rule) of every Ingress naming ``host``: controllers merge them (canary Ingresses
        aside: they are alternative backends of a main rule)."""
        return self._rules_by_host.get(host, [])

    @cached_property
    def _services(self) -> dict[tuple[str, str], Obj]:
        return {(s["metadata"].get("namespace", "default"), s["metadata"]["name"]): s for s in self.services}

    def to_dict(self) -> dict[str, Any]:
        """Plain data, to hand one discovery to other processes (pytest-xdist workers). No credentials."""
        return {
            "context": self.context,
            "server": self.server,
            "ingresses": self.ingresses,
            "ingress_classes": self.ingress_classes,
            "services": self.services,
            "endpoint_slices": self.endpoint_slices,
            "nodes": self.nodes,
            "offline": self.offline,
            **{k: getattr(self, k) for k in GATEWAY_FIELDS},
            "secrets": [
                [
                    ns,
                    name,
                    None
                    if info is None
                    else {
                        **{k: v for k, v in info.__dict__.items() if k != "cert_pem"},
                        "keys": list(info.keys),
                        "cert_pem": info.cert_pem.decode() if info.cert_pem is not None else None,
                    },
                ]
                for (ns, name), info in self.secrets.items()
            ],
            "unreadable": [u.__dict__ for u in self.unreadable.values()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Inventory:
        inv = cls(
            d["context"],
            d["server"],
            d["ingresses"],
            d["ingress_classes"],
            d["services"],
            d["endpoint_slices"],
            d["nodes"],
            offline=d.get("offline", False),
            **{k: d.get(k, []) for k in GATEWAY_FIELDS},
        )
        for ns, name, info in d["secrets"]:
            inv.secrets[(ns, name)] = (
                None
                if info is None
                else SecretInfo(
                    **{
                        **info,
                        "keys": tuple(info["keys"]),
                        "cert_pem": info["cert_pem"].encode() if info["cert_pem"] is not None else None,
                    }
                )
            )
        for u in d.get("unreadable", []):
            inv.unreadable[(u["namespace"], u["name"])] = Unreadable(**u)
        return inv

    def secret_unreadable(self, namespace: str, name: str) -> Unreadable | None:
        """Why a referenced Secret could not be read (forbidden, timeout...), or None if it was read or is missing."""
        return self.unreadable.get((namespace, name))

    def service(self, namespace: str, name: str) -> Obj | None:
        return self._services.get((namespace, name))

    @cached_property
    def _service_endpoints(self) -> dict[tuple[str, str], ServiceEndpoints]:
        return index_endpoints(self.services, self.endpoint_slices)

    def service_endpoints(self, namespace: str, service: str) -> ServiceEndpoints:
        """The Service and its endpoints (ready addresses, the pods slices name, ports), computed once per run:
        the one fact static, routing, gateway, canary and reload read (see ``ingresscheck.identity``)."""
        found = self._service_endpoints.get((namespace, service))
        return found if found is not None else ServiceEndpoints(namespace, service)

    def ready_endpoints(self, namespace: str, service: str) -> int:
        """Ready addresses of the Service, counted by address whether or not a slice names the pod."""
        return self.service_endpoints(namespace, service).ready_count

    def endpoints(self, namespace: str, service: str, *, ready_only: bool = True) -> list[Endpoint]:
        """The Service's endpoints from its EndpointSlices: address, ports, and the pod behind each."""
        found = self.service_endpoints(namespace, service)
        return list(found.ready if ready_only else found.endpoints)


GATEWAY_FIELDS = ("gateway_classes", "gateways", "listener_sets", "http_routes", "reference_grants")


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
