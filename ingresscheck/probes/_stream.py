"""What the TCP, TLS-passthrough and Kafka probes share: where a stream target is published, and how an
attempt that did not complete is reported against the object that publishes it."""

from __future__ import annotations

from typing import Any

from ..discovery.tcp import StreamTarget
from ..net import Attempt
from ..results import Result, Status
from ._contract import ProbeContext, established


def published_port(ctx: ProbeContext, t: StreamTarget) -> int:
    """The port a client dials: the listener's, or for an ssl-passthrough Ingress the profile's https port."""
    return ctx.profile.https_port if t.kind == "Ingress" else t.port


async def published_addresses(ctx: ProbeContext, t: StreamTarget) -> tuple[list[str], str]:
    """The addresses the object publishes (Gateway or Ingress status), else where its SNI resolves."""
    if t.addresses:
        return list(t.addresses), f"{t.gateway or t.kind} status"
    if t.sni:
        return await ctx.net.addresses_for(t.sni, published_port(ctx, t))
    return [], "no status address and no hostname"


def located(t: StreamTarget) -> dict[str, Any]:
    return {"namespace": t.namespace, "kind": t.kind, "name": t.name}


def described(t: StreamTarget) -> dict[str, Any]:
    return {
        "kind": t.kind,
        "object": f"{t.namespace}/{t.name}",
        "port": t.port,
        **({"sni": t.sni} if t.sni else {}),
        **({"mode": t.mode} if t.mode else {}),
        **({"gateway": t.gateway, "listener": t.listener} if t.gateway else {}),
        "backends": [f"{b.namespace}/{b.service}:{b.port}" for b in t.backends],
    }


def not_completed(
    ctx: ProbeContext,
    check: str,
    attempt: Attempt,
    *,
    subject: str,
    what: str,
    evidence: dict[str, Any] | None = None,
    **where: Any,
) -> Result:
    """As ``ProbeContext.not_completed`` (refused, reset, failed handshake: fail; timeout, unreachable: error),
    located on the object (namespace, kind, name) that publishes the address."""
    status = Status.FAIL if established(attempt) else Status.ERROR
    prefix = "" if status is Status.FAIL else "could not decide: "
    return ctx.report(
        check,
        status,
        f"{prefix}{what}: {attempt.reason}",
        subject=subject,
        evidence={**attempt.evidence(), **(evidence or {})},
        **where,
    )
