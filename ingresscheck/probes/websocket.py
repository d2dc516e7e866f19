"""websocket: hosts with a WebSocket endpoint upgrade and carry messages, at every address.

A host is marked by the profile (``protocols.websocket: {host: path}``) or by its object's annotation
``ingresscheck.io/websocket-path``. Each address gets a WebSocket opening handshake over TLS (SNI =
host, ALPN http/1.1) on that path, one text message carrying a nonce, and must answer 101 Switching
Protocols and echo the message back (the endpoint is expected to be an echo, or to answer the first
message with it; ``ingresscheck.io/websocket-echo: "false"`` asks for the 101 only).
"""

from __future__ import annotations

from .. import hostname
from ..net import where
from ..results import Severity, Step, nonce
from ._contract import CheckSpec, Probe, ProbeContext, Scope

PATH_ANNOTATION = "ingresscheck.io/websocket-path"
ECHO_ANNOTATION = "ingresscheck.io/websocket-echo"


class WebSocketProbe(Probe):
    name = "websocket"
    needs = ("tls",)
    scope = Scope.TARGET
    checks = (
        CheckSpec(
            "websocket.upgrade",
            Step.BACKEND,
            Severity.MAJOR,
            "a host marked for WebSocket answers the upgrade with 101 and echoes a message, at every address",
            "Let the Upgrade and Connection headers through every hop (a WAF or LB rule, an HTTP/1.0 hop, or a "
            "proxy timeout below the connection's life breaks it); ingress-nginx and Traefik pass upgrades by "
            "default, some LBs need WebSocket enabled per listener.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        path = ctx.profile.protocols.websocket.get(target.host.lower()) or target.annotations.get(PATH_ANNOTATION)
        if not path:
            ctx.skipped(
                "websocket.upgrade",
                f"{target.host} is not marked as a WebSocket host (profile protocols.websocket, or the "
                f"annotation {PATH_ANNOTATION})",
            )
            return
        if target.listener_protocol == "HTTP" or hostname.to_alabels(target.request_host) is None:
            ctx.skipped("websocket.upgrade", f"{target.host} has no TLS listener for wss://")
            return
        port = ctx.profile.https_port
        addresses, source = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("websocket.upgrade", f"no address to connect to for {target.host}")
            return
        echo = (target.annotations.get(ECHO_ANNOTATION) or "true").lower() != "false"
        url = f"wss://{target.request_host}{'' if port == 443 else f':{port}'}{path}"
        for address in addresses:
            subject = where(address, port)
            message = nonce()
            attempt = await ctx.net.websocket(url, address, message=message)
            evidence = {**attempt.evidence(), "sent": message, "echo_expected": echo, "addresses_from": source}
            if not attempt.ok or attempt.response is None:
                ctx.not_completed("websocket.upgrade", attempt, subject=subject, what=f"WebSocket upgrade of {url}")
                continue
            status = attempt.response.status
            if status != 101:
                ctx.failed(
                    "websocket.upgrade",
                    f"{url} at {subject} answers the WebSocket upgrade with {status} {attempt.response.reason}, "
                    f"not 101 Switching Protocols",
                    evidence=evidence,
                    subject=subject,
                )
            elif echo and message.encode() not in attempt.messages:
                got = f"got {attempt.messages[0][:60]!r}" if attempt.messages else (attempt.reason or "got nothing")
                ctx.failed(
                    "websocket.upgrade",
                    f"{url} at {subject} upgrades (101) but does not echo the message: {got}",
                    evidence=evidence,
                    subject=subject,
                )
            else:
                done = "and echoes a message" if echo else "(no echo asked for)"
                ctx.passed(
                    "websocket.upgrade",
                    f"{url} at {subject} upgrades to WebSocket (101) {done}",
                    evidence=evidence,
                    subject=subject,
                )
