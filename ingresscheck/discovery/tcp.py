"""TCP services reachable from outside (issue 25): the targets the TCP, TLS-passthrough and Kafka checks dial.

A ``StreamTarget`` is one published (address set, port, SNI) of one object:

- a TLSRoute on a Gateway listener of protocol TLS: one per effective hostname (the SNI a client sends),
  in the listener's ``tls.mode`` (Passthrough: the backend's own certificate answers; Terminate: the
  Gateway's);
- a TCPRoute on a listener of protocol TCP (or TLS in Terminate mode): one per listener, no SNI;
- an Ingress host with ``nginx.ingress.kubernetes.io/ssl-passthrough: "true"``: the controller hands
  the TLS stream to the backend, so the host's certificate must be the backend's.

LoadBalancer Services with TCP ports are dialled by ``exposure.lb_reachable`` (one fact, one check).

A TLSRoute or TCPRoute labelled ``ingresscheck.io/kafka: bootstrap`` names a Kafka bootstrap address;
``ingresscheck.io/kafka-brokers: "3"`` (label or annotation) says how many brokers to expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .gateway import effective_hostnames, gateway_addresses, parents
from .model import NGINX_PREFIX, BackendRef, Obj

if TYPE_CHECKING:
    from .inventory import Inventory

KAFKA_LABEL = "ingresscheck.io/kafka"
KAFKA_BROKERS = "ingresscheck.io/kafka-brokers"


@dataclass(frozen=True)
class StreamTarget:
    kind: str  # TLSRoute | TCPRoute | Ingress
    namespace: str
    name: str
    port: int
    addresses: tuple[str, ...]  # the Gateway's (or Ingress's) status addresses; empty: DNS of ``sni`` decides
    sni: str | None = None  # the hostname a client sends (None for TCPRoutes)
    mode: str | None = None  # Passthrough | Terminate for TLS listeners; None for TCP
    gateway: str | None = None  # "namespace/name"
    listener: str | None = None
    backends: tuple[BackendRef, ...] = ()
    kafka: str | None = None  # "bootstrap" when the object is labelled as a Kafka bootstrap address
    kafka_brokers: int | None = None

    @property
    def label(self) -> str:
        """Names the object and what it publishes: stable across runs (a result subject)."""
        what = f"{self.kind} {self.namespace}/{self.name}"
        return f"{what} {self.sni}:{self.port}" if self.sni else f"{what} port {self.port}"


def _meta(obj: Obj) -> tuple[str, str, dict[str, str], dict[str, str]]:
    meta = obj.get("metadata") or {}
    return (
        meta.get("namespace", "default"),
        meta.get("name", "?"),
        dict(meta.get("labels") or {}),
        dict(meta.get("annotations") or {}),
    )


def _backends(route: Obj, namespace: str) -> tuple[BackendRef, ...]:
    return tuple(
        BackendRef(ref.get("namespace") or namespace, ref.get("name", "?"), ref.get("port"), int(ref.get("weight", 1)))
        for rule in (route.get("spec") or {}).get("rules") or []
        for ref in rule.get("backendRefs") or []
        if (ref.get("group") or "") == "" and (ref.get("kind") or "Service") == "Service"
    )


def _brokers(labels: dict[str, str], annotations: dict[str, str]) -> int | None:
    text = labels.get(KAFKA_BROKERS) or annotations.get(KAFKA_BROKERS)
    return int(text) if text and text.isdigit() and int(text) > 0 else None


def stream_targets(inv: Inventory) -> list[StreamTarget]:
    out: list[StreamTarget] = []
    for kind, routes in (("TLSRoute", inv.tls_routes), ("TCPRoute", inv.tcp_routes)):
        for route in routes:
            ns, name, labels, annotations = _meta(route)
            hostnames = [h for h in (route.get("spec") or {}).get("hostnames") or [] if h]
            backends = _backends(route, ns)
            kafka = labels.get(KAFKA_LABEL) or annotations.get(KAFKA_LABEL)
            for parent in parents(inv, route, kind):
                addresses = gateway_addresses(parent.gateway)
                for li in parent.listeners:
                    if li.port is None:
                        continue
                    mode = ((li.spec.get("tls") or {}).get("mode") or "Terminate") if li.protocol == "TLS" else None
                    common = dict(
                        kind=kind,
                        namespace=ns,
                        name=name,
                        port=int(li.port),
                        addresses=addresses,
                        mode=mode,
                        gateway=li.gateway,
                        listener=li.name,
                        backends=backends,
                        kafka=kafka,
                        kafka_brokers=_brokers(labels, annotations),
                    )
                    if kind == "TCPRoute":
                        out.append(StreamTarget(**common))  # type: ignore[arg-type]
                        continue
                    for host in effective_hostnames(li.hostname, hostnames):
                        if "*" not in host:  # a wildcard matches names; it is no SNI to send
                            out.append(StreamTarget(sni=host, **common))  # type: ignore[arg-type]
    for ing in inv.ingresses:
        ns, name, labels, annotations = _meta(ing)
        if (annotations.get(NGINX_PREFIX + "ssl-passthrough") or "").lower() != "true":
            continue
        status = tuple(
            a.get("ip") or a.get("hostname")
            for a in ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            if a.get("ip") or a.get("hostname")
        )
        for rule in (ing.get("spec") or {}).get("rules") or []:
            host = (rule.get("host") or "").lower()
            if not host or "*" in host:
                continue
            backends = tuple(
                BackendRef(ns, svc.get("name", "?"), (svc.get("port") or {}).get("number"))
                for p in (rule.get("http") or {}).get("paths") or []
                if (svc := (p.get("backend") or {}).get("service") or {})
            )
            out.append(
                StreamTarget(
                    "Ingress",
                    ns,
                    name,
                    443,  # the controller's HTTPS port; probes dial the profile's ports.https
                    status,
                    sni=host,
                    mode="Passthrough",
                    backends=backends,
                    kafka=labels.get(KAFKA_LABEL) or annotations.get(KAFKA_LABEL),
                    kafka_brokers=_brokers(labels, annotations),
                )
            )
    return out


__all__ = ["KAFKA_BROKERS", "KAFKA_LABEL", "StreamTarget", "stream_targets"]
