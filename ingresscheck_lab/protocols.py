"""The lab's protocol backends (issue 23): a gRPC pod (grpcio with the health service, h2c) behind an
Ingress with ``backend-protocol: GRPC``. The LB terminates TLS for grpc.example.test and sends gRPC
requests (content-type application/grpc) to Traefik over h2c; Traefik speaks h2c to the pod.

A dual-stack host, dual.example.test: A 127.0.0.10 and AAAA ::1 (the LB listens on both), served by the
api pods. The other hosts have no AAAA record, so the runs of the other lab tests dial IPv4 only."""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING

from . import processes
from .layout import EXAMPLE_DOMAIN, LabLayout
from .objects import Obj, Pod, demo_pods, ingress, namespace, service_with_pods

if TYPE_CHECKING:
    from .lab import Lab

PROTOCOLS_NS = "protocols"  # a namespace of its own: runs scoped to demo (most lab tests) do not see it
GRPC_PORT = 50051
GRPC_HOST = f"grpc.{EXAMPLE_DOMAIN}"
GRPC_SERVICE = "ingresscheck.lab.Echo"  # the grpc.health.v1 service name the lab's profile asks for
NGINX = "nginx.ingress.kubernetes.io/"
DUAL_HOST = f"dual.{EXAMPLE_DOMAIN}"
DUAL_STACK_HOSTS = (DUAL_HOST,)  # the hosts dnsmasq gives an AAAA record


def grpc_pods(layout: LabLayout) -> list[Pod]:
    return [Pod("grpc-health", "grpc-health-0", PROTOCOLS_NS, "127.0.0.47")]


def protocol_objects(layout: LabLayout) -> list[Obj]:
    objs = [namespace(PROTOCOLS_NS), *service_with_pods("grpc-health", PROTOCOLS_NS, grpc_pods(layout), GRPC_PORT)]
    objs.append(
        ingress(
            "grpc",
            PROTOCOLS_NS,
            GRPC_HOST,
            [("/", "Prefix", "grpc-health")],
            annotations={NGINX + "backend-protocol": "GRPC", "ingresscheck.io/grpc": "true"},
        )
    )
    api = [Pod("dual-api", p.name, PROTOCOLS_NS, p.ip) for p in demo_pods(layout) if p.service == "api"]
    objs += service_with_pods("dual-api", PROTOCOLS_NS, api, layout.pod_port)
    objs.append(ingress("dual", PROTOCOLS_NS, DUAL_HOST, [("/", "Prefix", "dual-api")]))
    return objs


def start_grpc(lab: Lab) -> None:
    pods = grpc_pods(lab.layout)
    addresses = [f"{p.ip}:{GRPC_PORT}" for p in pods]
    lab.say(f"lab: starting {len(pods)} gRPC pod")

    def ready() -> bool:
        with socket.create_connection((pods[-1].ip, GRPC_PORT), timeout=1):
            return True

    lab._spawn(
        processes.Spec(
            "grpc",
            [sys.executable, "-m", "ingresscheck_lab.grpc_backend", *addresses],
            listens=tuple((p.ip, GRPC_PORT) for p in pods),
        ),
        ready,
        60,
        f"TCP {addresses[-1]}",
    )
