"""The hosts of each side, from discovery's targets: the same Ingress and HTTPRoute translation ``run`` uses
(listener-hostname intersection, routes without hostnames, RegularExpression matches, redirect routes).

A host belongs to a side when its object is of the side's kind (if one is given) and, if the side names
an address, when the object is published there (Ingress status, or the status addresses of the
Gateway an HTTPRoute is attached to) or nowhere yet. A side without an address sends each host to its
published one. Several objects naming one host are merged, as controllers merge their rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..discovery.inventory import Inventory
from ..discovery.model import Target
from ._model import Side


@dataclass(frozen=True)
class SideHosts:
    targets: dict[str, Target]  # host -> its target (rules of every object naming it, merged)
    addresses: dict[str, str]  # host -> where to send its requests
    controllers: dict[str, str]  # host -> controller name (IngressClass or GatewayClass)


def _controllers(inv: Inventory) -> tuple[dict[str, str], dict[str, str]]:
    """IngressClass name -> controller, Gateway "namespace/name" -> its GatewayClass's controllerName."""
    ingress = {
        c["metadata"]["name"]: (c.get("spec") or {}).get("controller", "")
        for c in inv.ingress_classes
        if c.get("metadata")
    }
    gw_classes = {
        c["metadata"]["name"]: (c.get("spec") or {}).get("controllerName", "")
        for c in inv.gateway_classes
        if c.get("metadata")
    }
    gateways = {
        f"{g['metadata'].get('namespace', 'default')}/{g['metadata']['name']}": gw_classes.get(
            (g.get("spec") or {}).get("gatewayClassName", ""), ""
        )
        for g in inv.gateways
        if g.get("metadata")
    }
    return ingress, gateways


def side_hosts(inv: Inventory, side: Side) -> SideHosts:
    """The hosts ``side`` serves among discovery's targets of ``inv``."""
    ingress_ctl, gateway_ctl = _controllers(inv)
    chosen: dict[str, Target] = {}
    addresses: dict[str, str] = {}
    controllers: dict[str, str] = {}
    # an HTTPS listener's target first: its HTTP twin (same route, plain listener) adds no rule of its own
    ordered = sorted(inv.targets, key=lambda t: t.kind == "HTTPRoute" and t.listener_protocol != "HTTPS")
    for t in ordered:
        if side.kind is not None and t.kind != side.kind:
            continue
        if side.address is not None and t.status_addresses and side.address not in t.status_addresses:
            continue  # published elsewhere (an object without a published address goes where the side says)
        address = side.address or (t.status_addresses[0] if t.status_addresses else None)
        if address is None:
            continue
        if t.host in chosen:
            merged = tuple(dict.fromkeys(chosen[t.host].paths + t.paths))
            chosen[t.host] = replace(chosen[t.host], paths=merged)
            continue
        chosen[t.host] = t
        addresses[t.host] = address
        controllers[t.host] = (
            gateway_ctl.get(t.gateway or "", "")
            if t.kind == "HTTPRoute"
            else ingress_ctl.get(t.ingress_class or "", "")
        )
    return SideHosts(chosen, addresses, controllers)
