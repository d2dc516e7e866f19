"""The hosts of each side: Ingresses and HTTPRoutes, with the address each is published on.

A host belongs to a side when its object is of the side's kind (if one is given) and, if the side names
an address, when the object is published there (Ingress status, or the status addresses of the
Gateway an HTTPRoute is attached to) or nowhere yet. A side without an address sends each host to its
published one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubernetes.client.exceptions import ApiException

from ..discovery.model import Obj, PathRule, Target, targets_of
from ..errors import UsageError
from ..kube import Cluster, Resources
from ._model import Side

_MATCH_TYPES = {"PathPrefix": "Prefix", "Exact": "Exact", "RegularExpression": "ImplementationSpecific"}


@dataclass(frozen=True)
class SideHosts:
    targets: dict[str, Target]  # host -> the first object naming it
    addresses: dict[str, str]  # host -> where to send its requests
    controllers: dict[str, str]  # host -> controller name (IngressClass or GatewayClass)


def httproute_targets(routes: list[Obj], gateways: list[Obj]) -> list[Target]:
    """One Target per hostname of each HTTPRoute, its published addresses from its parent Gateways."""
    addresses = {
        (g["metadata"].get("namespace", "default"), g["metadata"]["name"]): tuple(
            a.get("value", "") for a in (g.get("status") or {}).get("addresses") or []
        )
        for g in gateways
    }
    out = []
    for route in routes:
        meta, spec = route.get("metadata", {}), route.get("spec") or {}
        ns = meta.get("namespace", "default")
        published: tuple[str, ...] = ()
        for ref in spec.get("parentRefs") or []:
            published += addresses.get((ref.get("namespace") or ns, ref.get("name", "")), ())
        paths = []
        for rule in spec.get("rules") or []:
            backends = rule.get("backendRefs") or []
            if not backends:
                continue  # a redirect-only rule (the http listener's https redirect) serves no backend
            backend = backends[0]
            for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                path = match.get("path") or {"type": "PathPrefix", "value": "/"}
                paths.append(
                    PathRule(
                        path.get("value", "/"),
                        _MATCH_TYPES.get(path.get("type", "PathPrefix"), "ImplementationSpecific"),
                        backend.get("name"),
                        backend.get("port"),
                    )
                )
        for hostname in spec.get("hostnames") or []:
            if "*" in hostname or not paths:
                continue  # a wildcard names no host to probe
            out.append(
                Target(
                    namespace=ns,
                    ingress=meta.get("name", "?"),
                    host=hostname.lower(),
                    paths=tuple(paths),
                    annotations=dict(meta.get("annotations") or {}),
                    status_addresses=published,
                    kind="HTTPRoute",
                )
            )
    return out


def _list(res: Resources, kind: str, namespace: str | None) -> list[Obj]:
    try:
        items = res.list(kind, namespace if kind not in ("GatewayClass", "IngressClass") else None)
    except ApiException as exc:
        if exc.status == 404:
            return []  # Gateway API CRDs not installed: no routes
        raise UsageError(f"listing {kind}s failed: HTTP {exc.status} {exc.reason}") from None
    return items


def side_hosts(cluster: Cluster, side: Side, namespace: str | None) -> SideHosts:
    res = Resources(cluster.api)
    targets: list[Target] = []
    controllers: dict[str, str] = {}
    if side.kind in (None, "Ingress"):
        classes = {
            c["metadata"]["name"]: (c.get("spec") or {}).get("controller", "") for c in _list(res, "IngressClass", None)
        }
        for t in targets_of(_list(res, "Ingress", namespace)):
            targets.append(t)
            controllers.setdefault(t.host, classes.get(t.ingress_class or "", ""))
    if side.kind in (None, "HTTPRoute"):
        gateways = _list(res, "Gateway", None)
        gw_class = {
            (g["metadata"].get("namespace"), g["metadata"]["name"]): g["spec"].get("gatewayClassName", "")
            for g in gateways
        }
        class_ctl = {
            c["metadata"]["name"]: (c.get("spec") or {}).get("controllerName", "")
            for c in _list(res, "GatewayClass", None)
        }
        routes = _list(res, "HTTPRoute", namespace)
        for t in httproute_targets(routes, gateways):
            targets.append(t)
            route = next(
                r for r in routes if r["metadata"]["name"] == t.name and r["metadata"].get("namespace") == t.namespace
            )
            refs = (route.get("spec") or {}).get("parentRefs") or [{}]
            cls = gw_class.get((refs[0].get("namespace") or t.namespace, refs[0].get("name", "")), "")
            controllers.setdefault(t.host, class_ctl.get(cls, ""))
    chosen: dict[str, Target] = {}
    addresses: dict[str, str] = {}
    for t in targets:
        if side.address is not None and t.status_addresses and side.address not in t.status_addresses:
            continue  # published elsewhere (an object without a published address goes where the side says)
        address = side.address or (t.status_addresses[0] if t.status_addresses else None)
        if address is None:
            continue
        if t.host in chosen:
            # several objects name one host: controllers merge their rules, and so do the requests
            chosen[t.host] = replace(chosen[t.host], paths=chosen[t.host].paths + t.paths)
            continue
        chosen[t.host] = t
        addresses[t.host] = address
    return SideHosts(chosen, addresses, {h: controllers.get(h, "") for h in chosen})
