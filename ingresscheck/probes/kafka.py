"""kafka: a Kafka cluster reachable from outside, checked broker by broker (the seed's unsolved problem).

A client first connects to a bootstrap address, asks for the cluster's metadata, and then connects to
every broker by the name and port the broker *advertises*. The classic failure: bootstrap works, and the
brokers advertise internal addresses no outside client can reach. So, per bootstrap address:

- ``kafka.bootstrap``: ApiVersions and Metadata answered through the exposed address (and the broker count
  the profile expects);
- ``kafka.advertised``: every advertised broker is a name that resolves to an exposed address (a Gateway's
  or the bootstrap's) and a TLSRoute/TCPRoute publishes that name and port;
- ``kafka.broker_route``: a connection to each advertised broker (its name as SNI) reaches the broker with
  that node id (DescribeConfigs of the broker resource "", which a broker answers for itself);

Targets: the profile's ``kafka:`` entries and TLSRoutes/TCPRoutes labelled ``ingresscheck.io/kafka:
bootstrap``. Without targets, nothing is reported. The protocol is kafka-python's protocol classes
(encoding and decoding only), sent over the network layer (``Net.framed``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from kafka.protocol.admin import DescribeConfigsRequest, DescribeConfigsResponse
from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse

from ..discovery.tcp import StreamTarget
from ..net import Attempt, Outcome, family_of, where
from ..results import Severity, Status, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope
from ._stream import not_completed

CLIENT_ID = "ingresscheck"
API_VERSIONS_V = 3
METADATA_V = 12  # served by Kafka 2.8 to 4.x (4.0 dropped v0-v3)
DESCRIBE_CONFIGS_V = 4
BROKER_RESOURCE = 4  # ConfigResource.Type.BROKER


@dataclass(frozen=True)
class Bootstrap:
    host: str
    port: int
    tls: bool
    brokers: int | None
    source: str  # "profile" or the route that names it

    @property
    def label(self) -> str:
        return f"Kafka {self.host}:{self.port}"


@dataclass(frozen=True)
class Broker:
    node_id: int
    host: str
    port: int

    @property
    def label(self) -> str:
        return f"broker {self.node_id} ({self.host}:{self.port})"


def _encode(message: Any, correlation_id: int) -> bytes:
    message.with_header(correlation_id=correlation_id, client_id=CLIENT_ID)
    return bytes(message.encode(header=True))


def api_versions_request() -> bytes:
    return _encode(ApiVersionsRequest[API_VERSIONS_V](client_software_name=CLIENT_ID, client_software_version="1"), 1)


def metadata_request() -> bytes:
    return _encode(
        MetadataRequest[METADATA_V](
            topics=[], allow_auto_topic_creation=False, include_topic_authorized_operations=False
        ),
        2,
    )


def describe_broker_request(node_id: int) -> bytes:
    """DescribeConfigs of broker ``node_id``'s node.id: a broker answers it only for its own id, and for
    another id says which it is ("Unexpected broker id, expected N ..."), so the answer names the broker
    the connection reached."""
    resource = DescribeConfigsRequest.DescribeConfigsResource(
        resource_type=BROKER_RESOURCE, resource_name=str(node_id), configuration_keys=["node.id", "broker.id"]
    )
    return _encode(
        DescribeConfigsRequest[DESCRIBE_CONFIGS_V](
            resources=[resource], include_synonyms=False, include_documentation=False
        ),
        3,
    )


class KafkaProbe(Probe):
    name = "kafka"
    scope = Scope.CLUSTER
    checks = (
        CheckSpec(
            "kafka.bootstrap",
            Step.BACKEND,
            Severity.CRITICAL,
            "ApiVersions and Metadata are answered through the exposed bootstrap address (with the expected brokers)",
            "The bootstrap address does not speak Kafka: check the route's listener (Passthrough for a TLS "
            "listener of the brokers), its backend Service and the broker's listener.",
        ),
        CheckSpec(
            "kafka.advertised",
            Step.DNS,
            Severity.CRITICAL,
            "every advertised broker is a name that resolves to an exposed address and a route publishes it",
            "Set the broker's advertised.listeners to its external name (one DNS record and one TLSRoute per "
            "broker); an internal address lets clients bootstrap and then fail on every broker.",
        ),
        CheckSpec(
            "kafka.broker_route",
            Step.BACKEND,
            Severity.CRITICAL,
            "a connection to each advertised broker reaches the broker with that node id",
            "Each broker's route (TLSRoute hostname / SNI) must lead to that broker's own Service: check the "
            "route's hostnames and backendRefs.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        targets = bootstraps(ctx)
        if not targets:
            return  # no Kafka here: nothing to report (a healthy cluster without Kafka shows no Kafka rows)
        await asyncio.gather(*(self._cluster(ctx, b) for b in targets))

    async def _cluster(self, ctx: ProbeContext, b: Bootstrap) -> None:
        addresses, source = await ctx.net.addresses_for(b.host, b.port)
        if not addresses:
            lookup = await ctx.net.lookup(b.host)
            status = Status.FAIL if lookup.outcome is Outcome.NXDOMAIN else Status.ERROR
            ctx.report(
                "kafka.bootstrap",
                status,
                f"{b.label}: {lookup.reason or 'the name has no address'} ({source})",
                subject=b.label,
                evidence=lookup.evidence(),
            )
            return
        attempt = await ctx.net.framed(
            addresses[0], b.port, [api_versions_request(), metadata_request()], tls=b.tls, sni=b.host
        )
        subject = f"{b.label} at {where(addresses[0], b.port)}"
        if not attempt.ok:
            not_completed(ctx, "kafka.bootstrap", attempt, subject=subject, what=f"{b.label} (SNI {b.host})")
            return
        try:
            versions = ApiVersionsResponse.decode(attempt.messages[0], version=API_VERSIONS_V, header=True)
            metadata = MetadataResponse.decode(attempt.messages[1], version=METADATA_V, header=True)
        except Exception as exc:  # noqa: BLE001 - any decoding failure means "not Kafka's answer"
            ctx.failed(
                "kafka.bootstrap",
                f"{subject}: the answer is not Kafka's ApiVersions/Metadata ({type(exc).__name__}: {exc})",
                evidence=attempt.evidence(),
                subject=subject,
            )
            return
        brokers = sorted((Broker(x.node_id, x.host.lower(), x.port) for x in metadata.brokers), key=lambda x: x.node_id)
        evidence: dict[str, Any] = {
            **attempt.evidence(),
            "source": b.source,
            "api_versions_error": versions.error_code,
            "apis": len(versions.api_keys),
            "cluster_id": metadata.cluster_id,
            "controller_id": metadata.controller_id,
            "advertised": [f"{x.node_id}={x.host}:{x.port}" for x in brokers],
        }
        if versions.error_code != 0 or not brokers:
            ctx.failed(
                "kafka.bootstrap",
                f"{subject}: ApiVersions error {versions.error_code}, {len(brokers)} broker(s) in the metadata",
                evidence=evidence,
                subject=subject,
            )
        elif b.brokers is not None and len(brokers) != b.brokers:
            ctx.failed(
                "kafka.bootstrap",
                f"{subject}: the metadata lists {len(brokers)} broker(s), {b.brokers} expected "
                f"({', '.join(x.label for x in brokers)})",
                evidence=evidence,
                subject=subject,
            )
        else:
            ctx.passed(
                "kafka.bootstrap",
                f"{subject}: cluster {metadata.cluster_id} answers ApiVersions ({len(versions.api_keys)} APIs) "
                f"and Metadata: {', '.join(x.label for x in brokers)}",
                evidence=evidence,
                subject=subject,
            )
        exposed = exposed_addresses(ctx, addresses)
        await asyncio.gather(*(self._broker(ctx, b, x, exposed) for x in brokers))

    async def _broker(self, ctx: ProbeContext, b: Bootstrap, x: Broker, exposed: set[str]) -> None:
        subject = f"{b.label} {x.label}"
        evidence: dict[str, Any] = {"node_id": x.node_id, "advertised": f"{x.host}:{x.port}"}
        if family_of(x.host) is not None:
            addresses, source = [x.host], "an IP literal"
        else:
            addresses, source = await ctx.net.addresses_for(x.host, x.port)
        evidence["resolves_to"], evidence["addresses_from"] = addresses, source
        routes = [t for t in ctx.inventory.stream_targets if _publishes(t, x, ctx)]
        evidence["routes"] = sorted({t.label for t in routes})
        problem = ""
        if not addresses:
            lookup = await ctx.net.lookup(x.host)
            problem = f"advertises {x.host}:{x.port}, which does not resolve ({lookup.reason or 'no address'})"
        elif not set(addresses) <= exposed:
            inside = sorted(set(addresses) - exposed)
            problem = (
                f"advertises {x.host}:{x.port}, which resolves to {', '.join(inside)}: not an exposed address "
                f"(exposed: {', '.join(sorted(exposed))})"
            )
        elif _routes_known(ctx) and not routes:
            problem = f"advertises {x.host}:{x.port}, and no TLSRoute or TCPRoute publishes that name and port"
        if problem:
            ctx.failed("kafka.advertised", f"{b.label}: {x.label} {problem}", evidence=evidence, subject=subject)
        else:
            ctx.passed(
                "kafka.advertised",
                f"{b.label}: {x.label} resolves to exposed {', '.join(addresses)}"
                + (f", published by {', '.join(evidence['routes'])}" if routes else ""),
                evidence=evidence,
                subject=subject,
            )
        if not addresses:
            ctx.skipped(
                "kafka.broker_route",
                f"{b.label}: {x.label} does not resolve; nothing to connect to",
                evidence=evidence,
                subject=subject,
            )
            return
        for address in addresses:
            at = f"{subject} at {where(address, x.port)}"
            attempt = await ctx.net.framed(address, x.port, [describe_broker_request(x.node_id)], tls=b.tls, sni=x.host)
            if not attempt.ok:
                not_completed(
                    ctx,
                    "kafka.broker_route",
                    attempt,
                    subject=at,
                    what=f"{b.label}: {x.label} at {where(address, x.port)}",
                    evidence=evidence,
                )
                continue
            node = _node_id(attempt)
            ev = {**attempt.evidence(), **evidence, "reached_node_id": node}
            if node == x.node_id:
                ctx.passed(
                    "kafka.broker_route",
                    f"{b.label}: {x.label} at {where(address, x.port)} is broker {node}",
                    evidence=ev,
                    subject=at,
                )
            elif node is None:
                ctx.failed(
                    "kafka.broker_route",
                    f"{b.label}: {x.label} at {where(address, x.port)} did not say which broker it is "
                    f"(no node.id in its DescribeConfigs answer)",
                    evidence=ev,
                    subject=at,
                )
            else:
                ctx.failed(
                    "kafka.broker_route",
                    f"{b.label}: {x.label} at {where(address, x.port)} reaches broker {node}, not broker "
                    f"{x.node_id}: the route for {x.host} leads to another broker",
                    evidence=ev,
                    subject=at,
                )


def bootstraps(ctx: ProbeContext) -> list[Bootstrap]:
    out: dict[tuple[str, int], Bootstrap] = {}
    for k in ctx.profile.kafka:
        out[(k.host, k.port)] = Bootstrap(k.host, k.port, k.tls, k.brokers, "profile")
    for t in ctx.inventory.stream_targets:
        if t.kafka == "bootstrap" and t.sni and (t.sni, t.port) not in out:
            out[(t.sni, t.port)] = Bootstrap(t.sni, t.port, t.kind != "TCPRoute", t.kafka_brokers, t.label)
    return list(out.values())


def exposed_addresses(ctx: ProbeContext, bootstrap: list[str]) -> set[str]:
    """Where an outside client may connect: the bootstrap's addresses, every Gateway's status addresses,
    the profile's load balancers."""
    found = set(bootstrap) | set(ctx.profile.load_balancers)
    for gw in ctx.inventory.gateways:
        found |= {a.get("value") for a in (gw.get("status") or {}).get("addresses") or [] if a.get("value")}
    return found


def _routes_known(ctx: ProbeContext) -> bool:
    """Whether the inventory shows how TCP is published here (else the DNS answer is all there is to judge)."""
    return bool(ctx.inventory.tls_routes or ctx.inventory.tcp_routes)


def _publishes(t: StreamTarget, x: Broker, ctx: ProbeContext) -> bool:
    if t.kind == "TCPRoute":
        return t.port == x.port
    return t.sni == x.host and (ctx.profile.https_port if t.kind == "Ingress" else t.port) == x.port


def _node_id(attempt: Attempt) -> int | None:
    try:
        answer = DescribeConfigsResponse.decode(attempt.messages[0], version=DESCRIBE_CONFIGS_V, header=True)
    except Exception:  # noqa: BLE001 - not Kafka's answer: no node id
        return None
    for result in answer.results:
        if result.error_code != 0:
            said = _EXPECTED.search(result.error_message or "")
            if said:
                return int(said.group(1))
            continue
        for config in result.configs:
            if config.name in ("node.id", "broker.id") and config.value and config.value.lstrip("-").isdigit():
                return int(config.value)
    return None


_EXPECTED = re.compile(r"expected (-?\d+)")
