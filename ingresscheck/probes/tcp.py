"""tcp: every published address and port of a TCP service reachable from outside accepts a connection.

The targets are ``inventory.stream_targets`` (TLSRoutes and TCPRoutes on Gateway listeners of protocol TLS
or TCP, Ingress hosts with ``ssl-passthrough``). One result per address and port, naming the objects that
publish it; an address several routes share is dialled once. LoadBalancer Services are
``exposure.lb_reachable``'s (one fact, one check).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..discovery.tcp import StreamTarget
from ..net import where
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope
from ._stream import described, located, not_completed, published_addresses, published_port


class TcpProbe(Probe):
    name = "tcp"
    scope = Scope.CLUSTER
    checks = (
        CheckSpec(
            "tcp.connect",
            Step.LB,
            Severity.CRITICAL,
            "every published address and port of a TLSRoute, TCPRoute or ssl-passthrough Ingress accepts TCP",
            "Nothing accepts connections where the route is published: check the Gateway's listener port, the "
            "load balancer in front of it (a TCP frontend per port) and firewalls.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        targets = ctx.inventory.stream_targets
        if not targets:
            ctx.skipped("tcp.connect", "no TLSRoute, TCPRoute or ssl-passthrough Ingress in scope")
            return
        published: dict[tuple[str, int], list[StreamTarget]] = {}
        for t, (addresses, source) in zip(
            targets, await asyncio.gather(*(published_addresses(ctx, t) for t in targets)), strict=True
        ):
            port = published_port(ctx, t)
            if not addresses:
                ctx.failed(
                    "tcp.connect",
                    f"{t.label}: no address to connect to ({source})",
                    evidence={"target": described(t)},
                    subject=t.label,
                    **located(t),
                )
            for a in addresses:
                published.setdefault((a, port), []).append(t)
        keys = sorted(published)
        attempts = await asyncio.gather(*(ctx.net.connect(a, p) for a, p in keys))
        for (address, port), attempt in zip(keys, attempts, strict=True):
            ts = published[(address, port)]
            first = ts[0]
            names = sorted({t.label for t in ts})
            subject = where(address, port)
            evidence: dict[str, Any] = {"published_by": names}
            kw = located(first)
            if attempt.ok:
                ctx.passed(
                    "tcp.connect",
                    f"{subject} accepts connections (published by {', '.join(names)})",
                    evidence={**attempt.evidence(), **evidence},
                    subject=subject,
                    **kw,
                )
            else:
                not_completed(
                    ctx, "tcp.connect", attempt, subject=subject, what=", ".join(names), evidence=evidence, **kw
                )
