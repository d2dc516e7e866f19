"""The Inventory: every object discovery found, and what is derived from them once (targets, who claims
each host and path, which data plane publishes which address). It imports the builders of those
(``gateway``, ``ownership``, ``planes``), which import only the value types of ``model``: no cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..identity import Endpoint, ServiceEndpoints, index_endpoints
from .gateway import route_targets
from .model import Obj, PathRule, SecretInfo, Target, Unreadable, targets_of
from .ownership import claims as ownership_claims
from .planes import Planes

if TYPE_CHECKING:
    from .tcp import StreamTarget


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
    tls_routes: list[Obj] = field(default_factory=list)  # TLSRoutes: SNI passthrough (or terminate) to TCP
    tcp_routes: list[Obj] = field(default_factory=list)

    # Derived once, on first use: discovery fills the object lists before anything reads them.
    @cached_property
    def _derived(self) -> tuple[list[Target], list[tuple[Obj, str]], list[tuple[Obj, str]]]:
        problems: list[tuple[Obj, str]] = []
        route_problems: list[tuple[Obj, str]] = []
        return (targets_of(self.ingresses, problems) + route_targets(self, route_problems), problems, route_problems)

    @property
    def targets(self) -> list[Target]:
        """One per Ingress rule host, then one per HTTPRoute effective hostname on each parent listener."""
        return self._derived[0]

    @cached_property
    def stream_targets(self) -> list[StreamTarget]:
        """TCP services exposed from outside (TLSRoutes, TCPRoutes, ssl-passthrough Ingresses): ``discovery.tcp``."""
        from .tcp import stream_targets

        return stream_targets(self)

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
        return ownership_claims(self)

    @cached_property
    def planes(self) -> Planes:
        """Which data plane publishes which address, and where each target is checked (``discovery.planes``)."""
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


GATEWAY_FIELDS = (
    "gateway_classes",
    "gateways",
    "listener_sets",
    "http_routes",
    "reference_grants",
    "tls_routes",
    "tcp_routes",
)
