"""exposure: the Service side of the story (the seed's NodePort, LoadBalancer and TCP services).

NodePort (and LoadBalancer, which has node ports too) Services: every node port is inside the
node-port range and TCP-reachable on every Node address, reported per node. LoadBalancer
Services: an address is assigned in status.loadBalancer.ingress, and each address:port answers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..discovery.model import Obj
from ..results import Severity, Status, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope


class ExposureProbe(Probe):
    name = "exposure"
    scope = Scope.CLUSTER
    checks = (
        CheckSpec(
            "exposure.node_port_range",
            Step.LB,
            Severity.MAJOR,
            "every node port is inside the cluster's node-port range",
            "Pick a nodePort inside --service-node-port-range (default 30000-32767), or fix the profile's "
            "node_port_range to match the cluster.",
        ),
        CheckSpec(
            "exposure.node_port_reachable",
            Step.LB,
            Severity.CRITICAL,
            "the node port accepts TCP connections on every node",
            "A node that does not answer on the node port drops the LB's traffic: check kube-proxy (or "
            "the controller's hostPort/DaemonSet) and firewalls on the failing nodes.",
        ),
        CheckSpec(
            "exposure.lb_assigned",
            Step.LB,
            Severity.CRITICAL,
            "a LoadBalancer Service has an address in its status",
            "No load-balancer controller assigned an address: check the cloud/MetalLB controller and its "
            "events on the Service.",
        ),
        CheckSpec(
            "exposure.lb_reachable",
            Step.LB,
            Severity.CRITICAL,
            "every load-balancer address answers on every Service port",
            "The LB address does not accept connections: check the LB's listeners and health checks.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        services = [
            s for s in ctx.inventory.services if (s.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")
        ]
        nodes = _node_addresses(ctx.inventory.nodes)
        timeout = ctx.profile.thresholds.timeout
        lo, hi = ctx.profile.node_port_range
        jobs = []
        for svc in services:
            meta, spec = svc["metadata"], svc.get("spec") or {}
            name = f"{meta.get('namespace')}/{meta['name']}"
            for port in spec.get("ports") or []:
                node_port = port.get("nodePort")
                label = f"{name} port {port.get('name') or port.get('port')}"
                if node_port is None:
                    continue
                ev = {"service": name, "port": port, "node_port_range": f"{lo}-{hi}"}
                if lo <= node_port <= hi:
                    ctx.report(
                        "exposure.node_port_range",
                        Status.PASS,
                        f"{label}: node port {node_port} is inside {lo}-{hi}",
                        namespace=meta.get("namespace"),
                        subject=label,
                        evidence=ev,
                    )
                else:
                    ctx.report(
                        "exposure.node_port_range",
                        Status.FAIL,
                        f"{label}: node port {node_port} is outside {lo}-{hi}",
                        namespace=meta.get("namespace"),
                        subject=label,
                        evidence=ev,
                    )
                jobs.append(self._node_port(ctx, meta, label, node_port, port.get("protocol", "TCP"), nodes, timeout))
            if spec.get("type") == "LoadBalancer":
                jobs.append(self._load_balancer(ctx, svc, name, timeout))
        if not services:
            ctx.skipped("exposure.node_port_reachable", "no NodePort or LoadBalancer Service in scope")
        await asyncio.gather(*jobs)

    async def _node_port(
        self,
        ctx: ProbeContext,
        meta: dict[str, Any],
        label: str,
        node_port: int,
        protocol: str,
        nodes: list[tuple[str, str]],
        timeout: float,
    ) -> None:
        ns = meta.get("namespace")
        if protocol != "TCP":
            ctx.skipped(
                "exposure.node_port_reachable",
                f"{label}: {protocol} node ports are not probed",
                namespace=ns,
                subject=label,
            )
            return
        if not nodes:
            ctx.skipped(
                "exposure.node_port_reachable",
                f"{label}: no Node addresses known (no permission to list Nodes?)",
                namespace=ns,
                subject=label,
            )
            return
        attempts = await asyncio.gather(*(ctx.net.connect(ip, node_port) for _, ip in nodes))
        for (node, ip), attempt in zip(nodes, attempts, strict=True):
            subject = f"{label} on node {node} ({attempt.subject.where})"
            if attempt.ok:
                ctx.report(
                    "exposure.node_port_reachable",
                    Status.PASS,
                    f"{label}: node port {node_port} answers on node {node} ({ip})",
                    namespace=ns,
                    subject=subject,
                    evidence={"node": node, **attempt.evidence()},
                )
            else:
                ctx.not_completed(
                    "exposure.node_port_reachable",
                    attempt,
                    subject=subject,
                    what=f"{label}: node port {node_port} on node {node}",
                    evidence={"node": node},
                )

    async def _load_balancer(self, ctx: ProbeContext, svc: Obj, name: str, timeout: float) -> None:
        ns = svc["metadata"].get("namespace")
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addresses = [a.get("ip") or a.get("hostname") for a in ingress if a.get("ip") or a.get("hostname")]
        if not addresses:
            ctx.report(
                "exposure.lb_assigned",
                Status.FAIL,
                f"{name}: LoadBalancer has no address yet (pending)",
                namespace=ns,
                subject=name,
            )
            return
        ctx.report(
            "exposure.lb_assigned",
            Status.PASS,
            f"{name}: LoadBalancer address {', '.join(addresses)}",
            namespace=ns,
            subject=name,
            evidence={"addresses": addresses},
        )
        ports = [p for p in (svc.get("spec") or {}).get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
        checks = [(a, p["port"]) for a in addresses for p in ports]
        attempts = await asyncio.gather(*(ctx.net.connect(a, port) for a, port in checks))
        for attempt in attempts:
            subject = f"{name} at {attempt.subject.where}"
            if attempt.ok:
                ctx.report(
                    "exposure.lb_reachable",
                    Status.PASS,
                    f"{name}: {attempt.subject.where} accepts connections",
                    namespace=ns,
                    subject=subject,
                    evidence=attempt.evidence(),
                )
            else:
                ctx.not_completed("exposure.lb_reachable", attempt, subject=subject, what=name)


def _node_addresses(nodes: list[Obj]) -> list[tuple[str, str]]:
    out = []
    for node in nodes:
        addrs = (node.get("status") or {}).get("addresses") or []
        ip = next((a["address"] for a in addrs if a.get("type") == "InternalIP"), None) or next(
            (a["address"] for a in addrs if a.get("type") == "ExternalIP"), None
        )
        if ip:
            out.append((node["metadata"]["name"], ip))
    return out
