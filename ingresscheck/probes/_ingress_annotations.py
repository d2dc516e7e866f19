"""ingress-nginx annotations that take a request away from the Ingress's backend, as every probe meeting them
must know: canary Ingresses (``canary: "true"``) and the weighted ones that take a share of a main rule's
traffic, and redirects answered instead of the backend. Kept apart from the probes judging them
(canary_annotations, redirect_annotations) so that routing can ask without importing them."""

from __future__ import annotations

from ..discovery.inventory import Inventory
from ..discovery.model import Target


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def is_canary(t: Target) -> bool:
    return t.kind == "Ingress" and _truthy(t.annotation("canary"))


def weight_of(t: Target) -> tuple[int, int] | None:
    """(canary-weight, canary-weight-total) when a weight is set; total defaults to 100 as in ingress-nginx."""
    raw = t.annotation("canary-weight")
    if raw is None:
        return None
    try:
        weight = int(raw)
        total = int(t.annotation("canary-weight-total") or 100)
    except ValueError:
        return None
    return max(0, min(weight, total)), max(total, 1)


def weighted_canary_services(inventory: Inventory, host: str, path: str) -> list[tuple[str, str, int | str | None]]:
    """(namespace, Service, port) of canary Ingresses that take a share of ``host``+``path``'s plain traffic by weight:
    their pods may answer a request to the main rule."""
    out: list[tuple[str, str, int | str | None]] = []
    for t in inventory.targets:
        if t.host != host or not is_canary(t):
            continue
        w = weight_of(t)
        if w is None or w[0] == 0:
            continue
        out += [(t.namespace, r.service, r.port) for r in t.paths if r.path == path and r.service]
    return out


def redirected_instead(t: Target, path: str) -> str | None:
    """The annotation that makes the controller answer ``path`` with a redirect instead of the backend, if any:
    permanent-redirect and temporal-redirect for every path, app-root for ``/``."""
    if t.kind != "Ingress":
        return None
    for name in ("temporal-redirect", "permanent-redirect"):
        if t.annotation(name):
            return name
    if t.annotation("app-root") and path == "/":
        return "app-root"
    return None


__all__ = ["is_canary", "redirected_instead", "weight_of", "weighted_canary_services"]


GRPC_MARK = "ingresscheck.io/grpc"  # "true": the host serves gRPC whatever the controller's annotations say


def grpc_backend(t: Target) -> bool:
    """A gRPC host (a GRPCRoute, ``backend-protocol: GRPC``/``GRPCS``, or marked ``ingresscheck.io/grpc``): a
    plain GET tells nothing about it (the server answers it with an error), so routing and reload's prober
    leave it to grpc.health."""
    if t.kind == "GRPCRoute" or _truthy(t.annotations.get(GRPC_MARK)):
        return True
    return (t.annotation("backend-protocol") or "").strip().upper() in ("GRPC", "GRPCS")
