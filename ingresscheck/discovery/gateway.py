"""Gateway API discovery: which Gateway listeners a route attaches to, and the targets that gives.

A target is an effective hostname of an HTTPRoute on one parent listener: the intersection of the
listener's hostname and the route's hostnames as the Gateway API spec defines it. Hostname
semantics differ between the two places a wildcard appears:

- a listener (or route) hostname ``*.gw.test`` is a suffix match: it matches ``a.gw.test`` AND
  ``a.b.gw.test``, never ``gw.test`` (``intersect``);
- a certificate's ``*.gw.test`` covers exactly one label (RFC 6125, ``hostname.match_one``), so a
  listener wildcard can accept names its own certificate does not cover (``certificate_gaps``).

Routes on an HTTP listener whose every rule is a RequestRedirect filter are not targets of their
own: they become the redirect expectation (``Target.redirect``) of the same hostnames' HTTPS targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..hostname import match_one
from .model import BackendRef, Obj, PathRule, RedirectFilter, Target

if TYPE_CHECKING:
    from .inventory import Inventory

GATEWAY_GROUP = "gateway.networking.k8s.io"
# The route kinds a listener accepts when its allowedRoutes names no kinds (the spec's defaults per protocol;
# a TLS listener in Terminate mode may also take TCPRoutes, as Envoy Gateway and Traefik do).
DEFAULT_ROUTE_KINDS: dict[str, tuple[str, ...]] = {
    "HTTP": ("HTTPRoute", "GRPCRoute"),
    "HTTPS": ("HTTPRoute", "GRPCRoute"),
    "TLS": ("TLSRoute", "TCPRoute"),
    "TCP": ("TCPRoute",),
    "UDP": ("UDPRoute",),
}
# HTTPRoute path match type -> the PathRule vocabulary the routing probe speaks
PATH_TYPES = {"PathPrefix": "Prefix", "Exact": "Exact", "RegularExpression": "RegularExpression"}


def _lower(name: str | None) -> str | None:
    return name.lower().rstrip(".") if name else None


def intersect(listener: str | None, route: str | None) -> str | None:
    """The effective hostname of a route hostname on a listener hostname, or None when they do not intersect.

    None for either side means "unset" (matches anything): the other side is the answer ("*" when both are
    unset). A wildcard is a suffix match over one OR MORE labels; of two intersecting names the more specific
    one is the effective hostname.
    """
    lh, rh = _lower(listener), _lower(route)
    if lh is None:
        return rh or "*"
    if rh is None:
        return lh
    if lh == rh:
        return rh
    l_wild, r_wild = lh.startswith("*."), rh.startswith("*.")
    if l_wild and r_wild:
        if rh[1:].endswith(lh[1:]):
            return rh
        if lh[1:].endswith(rh[1:]):
            return lh
        return None
    if l_wild:
        return rh if rh.endswith(lh[1:]) else None
    if r_wild:
        return lh if lh.endswith(rh[1:]) else None
    return None


def effective_hostnames(listener: str | None, route_hostnames: list[str]) -> list[str]:
    """Every effective hostname of a route on a listener (empty: the route cannot attach to it)."""
    if not route_hostnames:
        return [intersect(listener, None) or "*"]
    out: list[str] = []
    for h in route_hostnames:
        got = intersect(listener, h)
        if got is not None and got not in out:
            out.append(got)
    return out


def certificate_gaps(hostname: str, sans: list[str]) -> str | None:
    """Why a certificate with ``sans`` does not cover an effective ``hostname`` of its listener, or None.

    An exact name must be covered by RFC 6125 rules. A wildcard hostname ``*.x`` (a listener or route wildcard)
    stands for names of any depth under x: a certificate ``*.x`` covers one label of them only, and nothing
    covers ``*.x`` as a whole.
    """
    if not hostname.startswith("*"):
        if any(match_one(hostname, n) for n in sans):
            return None
        return f"no subjectAltName covers {hostname}"
    if hostname == "*":
        return "the listener accepts any hostname; no certificate covers every name"
    if any(_lower(n) == hostname for n in sans):
        return None  # covers the one-label names; deeper names are reported per route hostname
    return f"no subjectAltName {hostname} for the wildcard hostname"


@dataclass(frozen=True)
class Listener:
    gateway_namespace: str
    gateway_name: str
    name: str
    protocol: str
    port: int | None
    hostname: str | None
    spec: Obj
    owner_kind: str = "Gateway"  # or ListenerSet
    owner_namespace: str = ""
    owner_name: str = ""

    @property
    def gateway(self) -> str:
        return f"{self.gateway_namespace}/{self.gateway_name}"

    @property
    def id(self) -> str:
        owner = f"{self.owner_kind} {self.owner_namespace}/{self.owner_name}"
        return f"{owner} listener {self.name}"

    @property
    def certificate_refs(self) -> list[tuple[str, str]]:
        """(namespace, name) of each Secret certificateRef (other kinds are left out)."""
        tls = self.spec.get("tls") or {}
        out = []
        for ref in tls.get("certificateRefs") or []:
            if (ref.get("group") or "") == "" and (ref.get("kind") or "Secret") == "Secret":
                out.append((ref.get("namespace") or self.owner_namespace, ref.get("name", "?")))
        return out

    def allows(self, route_namespace: str, route_kind: str = "HTTPRoute") -> tuple[bool, str]:
        """Whether allowedRoutes lets a route of that namespace and kind attach, and why not."""
        allowed = self.spec.get("allowedRoutes") or {}
        kinds = [k.get("kind") for k in allowed.get("kinds") or []]
        if kinds and route_kind not in kinds:
            return False, f"{self.id} allows only {', '.join(str(k) for k in kinds)}"
        if not kinds and route_kind not in DEFAULT_ROUTE_KINDS.get(self.protocol, (route_kind,)):
            return False, f"{self.id} is {self.protocol}: {route_kind}s do not attach to it"
        frm = (allowed.get("namespaces") or {}).get("from") or "Same"
        if frm == "Same" and route_namespace != self.owner_namespace:
            return False, f"{self.id} allows routes from namespace {self.owner_namespace} only"
        return True, ""


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", "default"), meta.get("name", "?")


def listeners_of(inv: Inventory, gateway: Obj) -> list[Listener]:
    ns, name = _meta(gateway)
    out = [
        Listener(
            ns,
            name,
            li.get("name", "?"),
            li.get("protocol", "?"),
            li.get("port"),
            li.get("hostname"),
            li,
            "Gateway",
            ns,
            name,
        )
        for li in (gateway.get("spec") or {}).get("listeners") or []
    ]
    for ls in inv.listener_sets:
        ls_ns, ls_name = _meta(ls)
        parent = (ls.get("spec") or {}).get("parentRef") or {}
        if parent.get("name") == name and (parent.get("namespace") or ls_ns) == ns:
            out += [
                Listener(
                    ns,
                    name,
                    li.get("name", "?"),
                    li.get("protocol", "?"),
                    li.get("port"),
                    li.get("hostname"),
                    li,
                    "ListenerSet",
                    ls_ns,
                    ls_name,
                )
                for li in (ls.get("spec") or {}).get("listeners") or []
            ]
    return out


def find_gateway(inv: Inventory, namespace: str, name: str) -> Obj | None:
    for gw in inv.gateways:
        if _meta(gw) == (namespace, name):
            return gw
    return None


def gateway_controller(inv: Inventory, gateway: str | None) -> str | None:
    """The controllerName of the GatewayClass of ``gateway`` ("namespace/name"); None when unknown."""
    ns, _, name = (gateway or "").partition("/")
    cls = ((find_gateway(inv, ns, name) or {}).get("spec") or {}).get("gatewayClassName")
    for c in inv.gateway_classes:
        if (c.get("metadata") or {}).get("name") == cls:
            return str((c.get("spec") or {}).get("controllerName") or "") or None
    return None


def gateway_addresses(gateway: Obj | None) -> tuple[str, ...]:
    return tuple(a.get("value") for a in ((gateway or {}).get("status") or {}).get("addresses") or [] if a.get("value"))


@dataclass(frozen=True)
class Parent:
    """One parentRef of a route, resolved: the listeners it selects and why some were left out."""

    ref: Obj
    gateway: Obj | None
    listeners: tuple[Listener, ...]
    refused: tuple[str, ...]  # one line per listener that the ref names but may not attach

    @property
    def label(self) -> str:
        ns = self.ref.get("namespace")
        label = f"{self.ref.get('kind') or 'Gateway'} {(ns + '/') if ns else ''}{self.ref.get('name', '?')}"
        if self.ref.get("sectionName"):
            label += f" section {self.ref['sectionName']}"
        if self.ref.get("port"):
            label += f" port {self.ref['port']}"
        return label


def parents(inv: Inventory, route: Obj, kind: str = "HTTPRoute") -> Iterator[Parent]:
    """The parents of a route of ``kind`` (HTTPRoute, TLSRoute, TCPRoute: which listeners accept it)."""
    route_kind = kind
    r_ns, _ = _meta(route)
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        kind = ref.get("kind") or "Gateway"
        if (ref.get("group") or GATEWAY_GROUP) != GATEWAY_GROUP or kind not in ("Gateway", "ListenerSet"):
            yield Parent(ref, None, (), (f"parent kind {kind} is not a Gateway",))
            continue
        ns = ref.get("namespace") or r_ns
        gateway: Obj | None
        if kind == "ListenerSet":
            ls = next((x for x in inv.listener_sets if _meta(x) == (ns, ref.get("name"))), None)
            p = ((ls or {}).get("spec") or {}).get("parentRef") or {}
            gateway = find_gateway(inv, p.get("namespace") or ns, p.get("name", "")) if ls else None
        else:
            gateway = find_gateway(inv, ns, ref.get("name", ""))
        if gateway is None:
            yield Parent(ref, None, (), ())
            continue
        selected, refused = [], []
        for li in listeners_of(inv, gateway):
            if kind == "ListenerSet" and (li.owner_kind, li.owner_namespace, li.owner_name) != (
                "ListenerSet",
                ns,
                ref.get("name"),
            ):
                continue
            if kind == "Gateway" and li.owner_kind != "Gateway":
                continue
            if ref.get("sectionName") and li.name != ref["sectionName"]:
                continue
            if ref.get("port") and li.port != ref["port"]:
                continue
            ok, why = li.allows(r_ns, route_kind)
            if ok:
                selected.append(li)
            else:
                refused.append(why)
        yield Parent(ref, gateway, tuple(selected), tuple(refused))


def _redirect(rule: Obj) -> Obj | None:
    for f in rule.get("filters") or []:
        if f.get("type") == "RequestRedirect":
            return f.get("requestRedirect") or {}
    return None


def is_redirect_only(route: Obj) -> bool:
    rules = (route.get("spec") or {}).get("rules") or []
    return bool(rules) and all(_redirect(r) is not None and not r.get("backendRefs") for r in rules)


def backend_refs(route: Obj) -> Iterator[tuple[Obj, Obj]]:
    """(rule, backendRef) for every backendRef of every rule."""
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            yield rule, ref


def path_rules(route: Obj) -> tuple[PathRule, ...]:
    r_ns, _ = _meta(route)
    out: list[PathRule] = []
    for rule in (route.get("spec") or {}).get("rules") or []:
        backends = tuple(
            BackendRef(ref.get("namespace") or r_ns, ref.get("name", "?"), ref.get("port"), int(ref.get("weight", 1)))
            for ref in rule.get("backendRefs") or []
            if (ref.get("group") or "") == "" and (ref.get("kind") or "Service") == "Service"
        )
        live = [b for b in backends if b.weight > 0]
        main = max(live, key=lambda b: b.weight) if live else None
        for match in rule.get("matches") or [{}]:
            path = match.get("path") or {"type": "PathPrefix", "value": "/"}
            headers = tuple(
                (h.get("name", ""), h.get("value", ""))
                for h in match.get("headers") or []
                if (h.get("type") or "Exact") == "Exact"
            )
            out.append(
                PathRule(
                    path.get("value") or "/",
                    PATH_TYPES.get(path.get("type") or "PathPrefix", path.get("type", "?")),
                    main.service if main else None,
                    main.port if main else None,
                    namespace=main.namespace if main and main.namespace != r_ns else None,
                    headers=headers,
                    backends=backends,
                )
            )
    return tuple(out)


def _redirect_filter(route: Obj) -> RedirectFilter | None:
    for rule in (route.get("spec") or {}).get("rules") or []:
        spec = _redirect(rule)
        if spec is not None:
            ns, name = _meta(route)
            return RedirectFilter(
                spec.get("scheme"),
                spec.get("hostname"),
                spec.get("port"),
                int(spec.get("statusCode") or 302),
                f"{ns}/{name}",
            )
    return None


def _host_matches(pattern: str, host: str) -> bool:
    """Listener/route hostname semantics: ``*.x`` matches any name under x, of any depth."""
    return pattern == "*" or pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:]))


def route_targets(inv: Inventory, problems: list[tuple[Obj, str]] | None = None) -> list[Target]:
    """One Target per (route, parent listener, effective hostname) on HTTP(S) listeners; redirect-only routes
    on HTTP listeners become the ``redirect`` of the HTTPS targets of the hostnames they cover."""
    problems = problems if problems is not None else []
    targets: list[Target] = []
    redirects: list[tuple[str, RedirectFilter]] = []  # (effective hostname pattern, filter)
    for route in inv.http_routes:
        r_ns, r_name = _meta(route)
        hostnames = [h for h in (route.get("spec") or {}).get("hostnames") or [] if h]
        redirect_only = is_redirect_only(route)
        rules = path_rules(route)
        for parent in parents(inv, route):
            addresses = gateway_addresses(parent.gateway)
            for li in parent.listeners:
                for host in effective_hostnames(li.hostname, hostnames):
                    if li.protocol == "HTTP" and redirect_only:
                        rf = _redirect_filter(route)
                        if rf is not None:
                            redirects.append((host, rf))
                        continue
                    if "*" in host:
                        problems.append(
                            (
                                route,
                                f"has the wildcard effective hostname {host} on {li.id}: it "
                                f"matches names, it is not one; checked statically only",
                            )
                        )
                        continue
                    cert = li.certificate_refs[0] if li.protocol == "HTTPS" and li.certificate_refs else None
                    targets.append(
                        Target(
                            r_ns,
                            r_name,
                            host,
                            rules,
                            dict((route.get("metadata") or {}).get("annotations") or {}),
                            None,
                            cert[1] if cert else None,
                            addresses,
                            kind="HTTPRoute",
                            gateway=li.gateway,
                            listener=li.name,
                            listener_protocol=li.protocol,
                            listener_hostname=li.hostname,
                            tls_secret_namespace=cert[0] if cert else None,
                        )
                    )
    if not redirects:
        return targets
    out = []
    for t in targets:
        # the most specific hostname wins, as in Gateway API routing: exact first, then the longest wildcard
        found = sorted(
            ((pattern, rf) for pattern, rf in redirects if _host_matches(pattern, t.host)),
            key=lambda pr: (pr[0] != t.host, -len(pr[0])),
        )
        if found and t.listener_protocol == "HTTPS":
            t = replace(t, redirect=found[0][1])
        out.append(t)
    return out


def route_secret_refs(gateways: list[Obj], listener_sets: list[Obj]) -> set[tuple[str, str]]:
    """(namespace, name) of every certificateRef Secret of every Gateway (and ListenerSet) listener."""
    refs: set[tuple[str, str]] = set()
    for obj in list(gateways) + list(listener_sets):
        ns, _ = _meta(obj)
        for li in (obj.get("spec") or {}).get("listeners") or []:
            for ref in (li.get("tls") or {}).get("certificateRefs") or []:
                if (ref.get("group") or "") == "" and (ref.get("kind") or "Secret") == "Secret":
                    refs.add((ref.get("namespace") or ns, ref.get("name", "?")))
    return refs


def reference_granted(
    inv: Inventory,
    from_kind: str,
    from_namespace: str,
    to_kind: str,
    to_namespace: str,
    to_name: str,
    to_group: str = "",
) -> Obj | None:
    """The ReferenceGrant in ``to_namespace`` that lets a ``from_kind`` in ``from_namespace`` refer to the object."""
    for grant in inv.reference_grants:
        g_ns, _ = _meta(grant)
        if g_ns != to_namespace:
            continue
        spec: dict[str, Any] = grant.get("spec") or {}
        froms = any(
            f.get("kind") == from_kind
            and f.get("namespace") == from_namespace
            and (f.get("group") or "") == (GATEWAY_GROUP if from_kind != "Secret" else "")
            for f in spec.get("from") or []
        )
        tos = any(
            (t.get("group") or "") == to_group
            and t.get("kind") == to_kind
            and (not t.get("name") or t.get("name") == to_name)
            for t in spec.get("to") or []
        )
        if froms and tos:
            return grant
    return None


__all__ = [
    "Listener",
    "Parent",
    "backend_refs",
    "certificate_gaps",
    "effective_hostnames",
    "find_gateway",
    "gateway_addresses",
    "intersect",
    "is_redirect_only",
    "listeners_of",
    "parents",
    "path_rules",
    "reference_granted",
    "route_secret_refs",
    "route_targets",
]
