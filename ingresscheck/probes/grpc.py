"""grpc: a gRPC host answers the standard health check (grpc.health.v1.Health/Check) with SERVING
through the whole chain, at every address.

Targets: Ingresses whose ``backend-protocol`` annotation is GRPC or GRPCS (the controller speaks gRPC to
the pods) or that carry ``ingresscheck.io/grpc: "true"`` (a gRPC host whatever its annotations say: the one
that lost backend-protocol in a migration is the one to catch), and GRPCRoute targets. The call goes over
h2 (ALPN) with SNI and :authority = host, asking for
the profile's ``protocols.grpc_service`` ("" is the server as a whole). gRPC needs HTTP/2 on every hop:
an LB or controller speaking HTTP/1.1 to the backend answers with an HTTP error (502) or a gRPC status
such as UNAVAILABLE or UNIMPLEMENTED, each named in the message.
"""

from __future__ import annotations

from grpc_health.v1 import health_pb2

from .. import hostname
from ..net import HEALTH_CHECK, grpc_message, grpc_status, where
from ..results import Severity, Step
from ._contract import CheckSpec, Probe, ProbeContext, Scope
from ._ingress_annotations import GRPC_MARK as MARK
from ._ingress_annotations import grpc_backend

# https://grpc.github.io/grpc/core/md_doc_statuscodes.html
GRPC_CODES = {
    "0": "OK",
    "1": "CANCELLED",
    "2": "UNKNOWN",
    "3": "INVALID_ARGUMENT",
    "4": "DEADLINE_EXCEEDED",
    "5": "NOT_FOUND",
    "6": "ALREADY_EXISTS",
    "7": "PERMISSION_DENIED",
    "8": "RESOURCE_EXHAUSTED",
    "9": "FAILED_PRECONDITION",
    "10": "ABORTED",
    "11": "OUT_OF_RANGE",
    "12": "UNIMPLEMENTED",
    "13": "INTERNAL",
    "14": "UNAVAILABLE",
    "15": "DATA_LOSS",
    "16": "UNAUTHENTICATED",
}


def is_grpc(ctx: ProbeContext) -> bool:
    return grpc_backend(ctx.require_target)


class GrpcProbe(Probe):
    name = "grpc"
    needs = ("tls",)
    scope = Scope.TARGET
    checks = (
        CheckSpec(
            "grpc.health",
            Step.BACKEND,
            Severity.CRITICAL,
            "a gRPC host (GRPCRoute, or backend-protocol GRPC/GRPCS) answers grpc.health.v1 Check with SERVING",
            "Speak HTTP/2 on every hop (the LB to the controller too), set backend-protocol: GRPC (or GRPCS for "
            "TLS to the pods) or use a GRPCRoute, and register the health service in the server "
            "(grpc_health.v1.HealthServicer) with the service name the profile asks for.",
        ),
    )

    async def run(self, ctx: ProbeContext) -> None:
        target = ctx.require_target
        if not is_grpc(ctx):
            ctx.skipped(
                "grpc.health",
                f"{target.host} is no gRPC host (no GRPCRoute, no backend-protocol GRPC/GRPCS, no {MARK})",
            )
            return
        if target.listener_protocol == "HTTP" or hostname.to_alabels(target.request_host) is None:
            ctx.skipped("grpc.health", f"{target.host} has no TLS listener for gRPC over h2")
            return
        port = ctx.profile.https_port
        addresses, source = await ctx.addresses(port, target.request_host)
        if not addresses:
            ctx.skipped("grpc.health", f"no address to connect to for {target.host}")
            return
        service = ctx.profile.protocols.grpc_service
        named = f"service {service!r}" if service else "the server as a whole (service '')"
        request = health_pb2.HealthCheckRequest(service=service).SerializeToString()
        url = f"https://{target.request_host}{'' if port == 443 else f':{port}'}"
        for address in addresses:
            subject = where(address, port)
            attempt = await ctx.net.grpc(url, address, HEALTH_CHECK, request)
            evidence = {**attempt.evidence(), "grpc_service": service, "addresses_from": source}
            said = f"grpc.health.v1 Check for {named} at {subject}"
            if not attempt.ok or attempt.response is None:
                ctx.not_completed("grpc.health", attempt, subject=subject, what=said)
                continue
            status = grpc_status(attempt)
            evidence["grpc_status"] = status
            evidence["grpc_message"] = grpc_message(attempt)
            http = attempt.response.status
            if status is None:
                ctx.failed(
                    "grpc.health",
                    f"{said}: HTTP {http} without a gRPC status: the chain does not carry gRPC to a gRPC server "
                    f"(content-type {attempt.response.header('content-type') or 'none'})",
                    evidence=evidence,
                    subject=subject,
                )
                continue
            if status != "0":
                code = GRPC_CODES.get(status, "?")
                why = f": {grpc_message(attempt)}" if grpc_message(attempt) else ""
                ctx.failed(
                    "grpc.health",
                    f"{said}: gRPC status {status} {code}{why} (HTTP {http})",
                    evidence=evidence,
                    subject=subject,
                )
                continue
            if not attempt.messages:
                ctx.failed(
                    "grpc.health", f"{said}: status OK but no HealthCheckResponse", evidence=evidence, subject=subject
                )
                continue
            try:
                answer = health_pb2.HealthCheckResponse.FromString(attempt.messages[0])
            except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends: the answer is not the message
                ctx.failed(
                    "grpc.health",
                    f"{said}: the answer is not a HealthCheckResponse",
                    evidence=evidence,
                    subject=subject,
                )
                continue
            state = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            evidence["serving_status"] = state
            if answer.status == health_pb2.HealthCheckResponse.SERVING:
                ctx.passed(
                    "grpc.health",
                    f"{said}: SERVING, over h2 through the whole chain",
                    evidence=evidence,
                    subject=subject,
                )
            else:
                ctx.failed("grpc.health", f"{said}: {state}", evidence=evidence, subject=subject)
