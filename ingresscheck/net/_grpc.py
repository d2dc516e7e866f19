"""gRPC unary calls over the network layer's HTTP/2 (``_h2``): the call is a POST of one length-prefixed
message with ``content-type: application/grpc`` and ``te: trailers``; the answer's messages come in DATA
frames and its status in the trailers (or, for a call that failed before any message, in the headers:
"Trailers-Only"). The messages themselves are built and read by the caller with the service's protobuf
classes (grpcio-health-checking's for ``grpc.health.v1``).

Sending gRPC over our own dial, not grpcio's channel, keeps the call on the per-address slot and the
deadline, with the SNI and Host chosen per request and the TLS facts of the connection that carried it.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING

from ._attempt import Attempt, Outcome
from ._h2 import ALPN_H2, fetch

if TYPE_CHECKING:
    from ._net import Net

HEALTH_CHECK = "/grpc.health.v1.Health/Check"


def frame(message: bytes) -> bytes:
    return struct.pack(">BI", 0, len(message)) + message


def unframe(body: bytes) -> tuple[list[bytes], bool]:
    """The messages of a gRPC response body, and whether the body was exactly a sequence of them."""
    out: list[bytes] = []
    at = 0
    while at + 5 <= len(body):
        compressed, size = struct.unpack(">BI", body[at : at + 5])
        if compressed or at + 5 + size > len(body):
            return out, False
        out.append(body[at + 5 : at + 5 + size])
        at += 5 + size
    return out, at == len(body)


async def call(
    net: Net, url: str, address: str, method: str, message: bytes, *, timeout_s: float | None = None
) -> Attempt:
    """Call ``method`` (``/package.Service/Method``) at ``url``'s host (https: h2 over TLS via ALPN; http:
    h2c). ok means an HTTP/2 exchange happened; the gRPC status is ``grpc_status(attempt)``."""
    base = url.rstrip("/")
    deadline = f"{max(1, int((timeout_s or net.timeout) * 1000))}m"
    attempt = await fetch(
        net,
        "POST",
        base + method,
        address,
        alpn=ALPN_H2,
        headers={"content-type": "application/grpc", "te": "trailers", "grpc-timeout": deadline},
        body=frame(message),
        kind="grpc",
    )
    if not attempt.ok or attempt.response is None:
        return attempt
    messages, whole = unframe(attempt.response.body)
    if not whole and grpc_status(attempt) == "0":
        return replace(
            attempt,
            outcome=Outcome.HTTP_ERROR,
            reason=f"{attempt.subject.where} answered with a body that is not gRPC messages",
            phase="transfer",
        )
    return replace(attempt, messages=tuple(messages))


def grpc_status(attempt: Attempt) -> str | None:
    """The call's ``grpc-status`` (trailers, else the headers of a Trailers-Only answer), None without one."""
    r = attempt.response
    if r is None:
        return None
    return r.trailer("grpc-status") or r.header("grpc-status") or None


def grpc_message(attempt: Attempt) -> str:
    r = attempt.response
    if r is None:
        return ""
    return r.trailer("grpc-message") or r.header("grpc-message")
