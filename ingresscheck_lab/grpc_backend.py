"""The lab's gRPC backend: grpcio with the standard health service (grpc.health.v1), cleartext h2c, as
gRPC pods behind an ingress usually are. The server as a whole ("") and ``ingresscheck.lab.Echo`` are
SERVING.

Run: ``python -m ingresscheck_lab.grpc_backend ADDRESS:PORT [...]``.
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE = "ingresscheck.lab.Echo"


def main(argv: list[str] | None = None) -> int:
    addresses = sys.argv[1:] if argv is None else argv
    if not addresses:
        print("usage: python -m ingresscheck_lab.grpc_backend ADDRESS:PORT [...]", file=sys.stderr)
        return 2
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = health.HealthServicer()
    for name in ("", SERVICE):
        servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for address in addresses:
        server.add_insecure_port(address)
    server.start()
    print(f"grpc: health service on {', '.join(addresses)}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
