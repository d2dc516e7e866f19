"""Who claims each hostname and path, on which data plane, and who wins by the implementation's rules.

A **claim** is one rule of one object for one host: an Ingress rule (by its class, resolved the way
controllers resolve it) or an HTTPRoute rule on one parent listener (by its Gateway). Claims compete
only on the same **data plane**: Ingresses of classes whose IngressClasses name the same controller,
or HTTPRoutes attached to the same Gateway. Claims on other data planes (an HTTPRoute twin of an
Ingress on another Gateway during a migration) never compete.

Class resolution for an Ingress (``ingress_classes``):

- ``spec.ingressClassName`` names an IngressClass, whose ``spec.controller`` serves it;
- the legacy annotation ``kubernetes.io/ingress.class`` names a class too (ingress-nginx reads it
  first, and a controller watching that class serves the Ingress whatever the spec says); the API
  refuses the two disagreeing on create, not on update;
- neither: every IngressClass annotated ``ingressclass.kubernetes.io/is-default-class: "true"``.

Conflict rules, per implementation:

- **ingress-nginx** (and Traefik's ``kubernetesIngressNGINX`` provider, which follows its model):
  the rules of every Ingress for one host are merged into one server, whatever their namespaces; a
  second namespace can add paths to a host or shadow one. For the same path and pathType the
  **oldest Ingress wins** (creationTimestamp, then namespace/name alphabetically).
- **Gateway API** (HTTPRoute precedence in the spec, ``HTTPRouteRule``): among matching rules of
  routes on one Gateway, the most specific match wins (Exact, then the longest prefix, then more
  header matches); between equal matches the **oldest route** (creationTimestamp) wins, then the
  route first in alphabetical ``namespace/name`` order; within one route, the first rule.

Seen on the lab (Traefik 3.7, two nodes behind HAProxy): for two Ingresses with an identical host,
path and pathType, the nodes did not agree on the winner (one served the older, one the newer). The
prediction stays ingress-nginx's rule, the one such Ingresses were written for; ``ownership.served``
says what the wire did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import Obj, PathRule, Target

if TYPE_CHECKING:
    from .inventory import Inventory

DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True)
class ClassClaim:
    """One way an Ingress names a class: ``source`` is "spec", "annotation" or "default"."""

    name: str
    source: str
    controller: str | None  # None: no IngressClass of that name


def ingress_classes(ingress: Obj, classes: list[Obj]) -> list[ClassClaim]:
    """Every class that claims ``ingress``, as controllers resolve them (see the module docstring)."""
    by_name = {(c.get("metadata") or {}).get("name"): c for c in classes}

    def controller(name: str) -> str | None:
        found = by_name.get(name)
        return ((found.get("spec") or {}).get("controller") or None) if found else None

    meta, spec = ingress.get("metadata") or {}, ingress.get("spec") or {}
    out: list[ClassClaim] = []
    if spec.get("ingressClassName"):
        out.append(ClassClaim(spec["ingressClassName"], "spec", controller(spec["ingressClassName"])))
    legacy = (meta.get("annotations") or {}).get(CLASS_ANNOTATION)
    if legacy and legacy not in [c.name for c in out]:
        out.append(ClassClaim(legacy, "annotation", controller(legacy)))
    if not out:
        for c in classes:
            cm = c.get("metadata") or {}
            if (cm.get("annotations") or {}).get(DEFAULT_CLASS, "").lower() == "true":
                out.append(ClassClaim(cm.get("name", "?"), "default", (c.get("spec") or {}).get("controller")))
    return out


@dataclass(frozen=True)
class Claim:
    """One rule of one object for one host, on one data plane."""

    kind: str  # Ingress | HTTPRoute
    namespace: str
    name: str
    host: str
    rule: PathRule
    plane: str  # "controller k8s.io/ingress-nginx", "class nginx (no IngressClass)", "Gateway demo/lab-gateway"
    created: str  # creationTimestamp (RFC 3339 sorts as text); "" when unknown (manifests)
    via: str = ""  # how it claims: "class nginx (spec)", "listener https"

    @property
    def owner(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def match(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What two claims must share to conflict: path, type and the headers they require."""
        return (self.rule.path, self.rule.path_type, tuple(sorted((k.lower(), v) for k, v in self.rule.headers)))

    @property
    def precedence(self) -> tuple[str, str, str]:
        """Sort key of the conflict rules: oldest first ("" last), then namespace/name."""
        return (self.created or "\uffff", self.namespace, self.name)

    def says(self) -> str:
        return f"{self.kind} {self.owner}"


def is_canary(t: Target) -> bool:
    """A canary Ingress (``nginx.ingress.kubernetes.io/canary: "true"``): ingress-nginx pairs it with the main
    Ingress of its host and path instead of merging it as a rule."""
    return t.kind == "Ingress" and (t.annotation("canary") or "").lower() == "true"


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace", "default")), str(meta.get("name", "")))


def _created(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("creationTimestamp") or "")


def claims(inv: Inventory) -> list[Claim]:
    """Every claim of every Ingress rule host and HTTPRoute effective hostname, in precedence order."""
    ingresses, routes = object_index(inv)
    out: list[Claim] = []
    for t in inv.targets:
        if is_canary(t):
            continue  # an alternative backend of the main Ingress's rule (canary.*'s), not a claim of its own
        for plane, via, created in _planes(inv, t, ingresses, routes):
            out.extend(Claim(t.kind, t.namespace, t.name, t.host, r, plane, created, via) for r in t.paths)
    return sorted(out, key=lambda c: c.precedence)


def _planes(
    inv: Inventory, t: Target, ingresses: dict[tuple[str, str], Obj], routes: dict[tuple[str, str], Obj]
) -> list[tuple[str, str, str]]:
    if t.kind == "HTTPRoute":
        return [(f"Gateway {t.gateway}", f"listener {t.listener}", _created(routes.get((t.namespace, t.name))))]
    ing = ingresses.get((t.namespace, t.name))
    if ing is None:
        return []
    planes = []
    for c in ingress_classes(ing, inv.ingress_classes):
        plane = f"controller {c.controller}" if c.controller else f"class {c.name} (no IngressClass)"
        planes.append((plane, f"class {c.name} ({c.source})", _created(ing)))
    unique: dict[str, tuple[str, str, str]] = {}
    for p in planes:
        unique.setdefault(p[0], p)  # one claim per plane: the first way it is claimed there
    return list(unique.values())


def object_index(inv: Inventory) -> tuple[dict[tuple[str, str], Obj], dict[tuple[str, str], Obj]]:
    """Ingresses and HTTPRoutes by (namespace, name), for ``target_planes``."""
    return {_key(i): i for i in inv.ingresses}, {_key(r): r for r in inv.http_routes}


def target_planes(
    inv: Inventory, t: Target, index: tuple[dict[tuple[str, str], Obj], dict[tuple[str, str], Obj]] | None = None
) -> list[str]:
    """The data planes ``t``'s object is served on, canary Ingresses included (they claim nothing, but their
    controller serves them)."""
    ingresses, routes = index or object_index(inv)
    return [p for p, _, _ in _planes(inv, t, ingresses, routes)]


def plane_of(inv: Inventory, target: Target) -> list[str]:
    """The data planes that serve ``target``'s object (none for an Ingress no class claims)."""
    return sorted(
        {
            c.plane
            for c in inv.claims
            if c.kind == target.kind and c.owner == f"{target.namespace}/{target.name}" and c.host == target.host
        }
    )


@dataclass(frozen=True)
class Contest:
    """A host on one data plane claimed by more than one object: the claimants, in precedence order, and
    the paths two or more of them claim alike (each path's claims, the predicted winner first)."""

    host: str
    plane: str
    claimants: tuple[str, ...]  # "Kind namespace/name", oldest first
    namespaces: tuple[str, ...]
    conflicts: tuple[tuple[Claim, ...], ...]
    claims: tuple[Claim, ...]

    @property
    def cross_namespace(self) -> bool:
        return len(self.namespaces) > 1


def contests(inv: Inventory) -> list[Contest]:
    """Hosts claimed by more than one object on one data plane."""
    by: dict[tuple[str, str], list[Claim]] = {}
    for c in inv.claims:
        by.setdefault((c.host, c.plane), []).append(c)
    out = []
    for (host, plane), cs in sorted(by.items()):
        owners = list(dict.fromkeys(c.says() for c in cs))
        if len(owners) < 2:
            continue
        same: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Claim]] = {}
        for c in cs:
            same.setdefault(c.match, []).append(c)
        conflicts = tuple(tuple(v) for v in same.values() if len({c.says() for c in v}) > 1)
        namespaces = tuple(sorted({c.namespace for c in cs}))
        out.append(Contest(host, plane, tuple(owners), namespaces, conflicts, tuple(cs)))
    return out


def winning_rules(inv: Inventory, target: Target) -> list[tuple[str, PathRule]]:
    """The (namespace, rule) pairs competing with ``target``'s rules for its host on its own data plane, in
    precedence order (the predicted winner of equal matches first). Other data planes' rules are left out."""
    planes = set(plane_of(inv, target))
    return [(c.namespace, c.rule) for c in inv.claims if c.host == target.host and c.plane in planes]
