"""Which data plane publishes which address, and where each target is checked (issue 17, case 4).

A **data plane** is what ``discovery.ownership`` calls one: the controller of an Ingress's class
("controller k8s.io/ingress-nginx"), or the Gateway an HTTPRoute is attached to ("Gateway eg/parity").
Each publishes the addresses it serves at in its objects' status (``status.loadBalancer.ingress`` of
an Ingress, ``status.addresses`` of a Gateway).

A target is checked at the addresses clients get (DNS, or ``--resolve``) and at its own published
addresses, each address its own subject:

- DNS gives only the target's own addresses (the usual case): those.
- DNS gives an address that **only other data planes publish** (a migration twin on a second Gateway whose
  hostname still resolves to the first controller): the target is checked at its own addresses instead;
  what clients get there is the other data plane's, checked under the objects that plane serves the host
  with, and ``dns.lb_address`` says whose address it is. Checking this object's rules there would judge
  it on what another data plane serves.
- DNS gives an address no data plane publishes (a stale record, a load balancer the status does not
  name): both, that address (what clients get) and the target's own (what the object serves).
- ``--resolve`` pins the addresses (curl semantics): only those.

Only IP literals of a status count (a hostname status is what DNS should answer, not an address).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .gateway import gateway_addresses
from .ownership import object_index, target_planes

if TYPE_CHECKING:
    from .inventory import Inventory
    from .model import Target


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _covers(claimed: str, host: str) -> bool:
    """A claimed host covers ``host``: the same name, or a wildcard one label above it."""
    if claimed == host:
        return True
    return claimed.startswith("*.") and "." in host and host.split(".", 1)[1] == claimed[2:]


@dataclass(frozen=True)
class Elsewhere:
    """A DNS address of a target that only other data planes publish: whose it is, and who serves the
    target's host there (``serving``: "Ingress demo/api" ..., empty when nothing there claims it)."""

    address: str
    planes: tuple[str, ...]
    serving: tuple[str, ...]

    def says(self) -> str:
        whose = " and ".join(self.planes)
        if self.serving:
            return f"{self.address}, the address of {whose} (serving this host with {', '.join(self.serving)})"
        return f"{self.address}, the address of {whose}, where nothing claims this host"


@dataclass(frozen=True)
class Where:
    """Where one target is checked: ``addresses`` (each its own subject), ``source`` in words, ``own`` (the
    addresses its own objects publish), ``elsewhere`` (DNS addresses of other data planes, not checked for it)."""

    addresses: tuple[str, ...]
    source: str
    own: tuple[str, ...] = ()
    elsewhere: tuple[Elsewhere, ...] = field(default=())


class Planes:
    """The index, built once per inventory (``Inventory.planes``)."""

    def __init__(self, inv: Inventory) -> None:
        index = object_index(inv)
        self._of: dict[tuple[str, str, str, str], tuple[str, ...]] = {}
        self.published: dict[str, set[str]] = {}  # address -> the data planes publishing it
        for t in inv.targets:
            planes = tuple(target_planes(inv, t, index))
            self._of[(t.kind, t.namespace, t.name, t.host)] = planes
            for a in t.status_addresses:
                if _ip(a):
                    self.published.setdefault(a, set()).update(planes)
        for gw in inv.gateways:
            meta = gw.get("metadata") or {}
            plane = f"Gateway {meta.get('namespace', 'default')}/{meta.get('name', '?')}"
            for a in gateway_addresses(gw):
                if _ip(a):
                    self.published.setdefault(a, set()).add(plane)
        self._claims: dict[str, list[tuple[str, str]]] = {}  # plane -> (host, "Kind ns/name")
        for c in inv.claims:
            self._claims.setdefault(c.plane, []).append((c.host, c.says()))

    def of(self, t: Target) -> tuple[str, ...]:
        return self._of.get((t.kind, t.namespace, t.name, t.host), ())

    def serving(self, plane: str, host: str) -> list[str]:
        """Who claims ``host`` on ``plane`` (one entry per object)."""
        return list(dict.fromkeys(who for claimed, who in self._claims.get(plane, []) if _covers(claimed, host)))

    def elsewhere(self, t: Target, address: str) -> Elsewhere | None:
        """``address`` is published by other data planes only (not by ``t``'s own): whose, and who serves there."""
        publishers = self.published.get(address, set())
        mine = set(self.of(t))
        if not publishers or publishers & mine or address in t.status_addresses:
            return None
        planes = tuple(sorted(publishers))
        serving = tuple(dict.fromkeys(who for p in planes for who in self.serving(p, t.host)))
        return Elsewhere(address, planes, serving)

    def where(self, t: Target, found: list[str], source: str, *, pinned: bool, family: int | None) -> Where:
        """Where ``t`` is checked, given the addresses clients get (``found``, from ``source``)."""
        own = tuple(a for a in t.status_addresses if _ip(a) and (family is None or _family(a) == family))
        if pinned or not own or all(a in own for a in found):
            return Where(tuple(found), source, own)
        elsewhere = tuple(e for a in found if (e := self.elsewhere(t, a)) is not None)
        away = {e.address for e in elsewhere}
        addresses = tuple(dict.fromkeys([*(a for a in found if a not in away), *own]))
        mine = " and ".join(self.of(t)) or "its own objects"
        said = f"{source}, and {', '.join(own)} published by {mine}"
        if elsewhere:
            said += f" (DNS's {', '.join(sorted(away))} is another data plane's, not checked for this object)"
        return Where(addresses, said, own, elsewhere)


def _family(address: str) -> int:
    return 6 if ":" in address else 4
