"""Small real servers speaking HTTP/2 (the h2 library's server side over real sockets, TLS with ALPN),
WebSocket (the websockets library's server) and gRPC (grpcio with its health service), for unit tests."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import h2.config
import h2.connection
import h2.events

# (headers of the request, pseudo-headers included) -> (status, headers, body)
H2Handler = Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]


def _serve_h2(sock: socket.socket, handler: H2Handler) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    sock.settimeout(3)
    heads: dict[int, dict[str, str]] = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    heads[event.stream_id] = {str(k): str(v) for k, v in event.headers or []}
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    status, headers, body = handler(heads.pop(event.stream_id, {}))
                    out = [(":status", str(status)), *headers.items(), ("content-length", str(len(body)))]
                    conn.send_headers(event.stream_id, out, end_stream=not body)
                    if body:
                        conn.send_data(event.stream_id, body, end_stream=True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError):
        return
    finally:
        sock.close()


@contextmanager
def h2_server(
    handler: H2Handler, tls: ssl.SSLContext | None = None, *, alpn: tuple[str, ...] = ("h2",)
) -> Iterator[int]:
    """An HTTP/2 server on 127.0.0.1 (h2c without ``tls``); ``alpn`` is what its TLS side may select.
    A connection whose ALPN is not h2 is answered in HTTP/1.1 (one request, "h1 <Host>")."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    if tls is not None:
        tls.set_alpn_protocols(list(alpn))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=_one, args=(raw,), daemon=True).start()

    def _one(raw: socket.socket) -> None:
        sock: socket.socket = raw
        if tls is not None:
            try:
                raw.settimeout(3)
                sock = tls.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                raw.close()
                return
            if sock.selected_alpn_protocol() != "h2":
                _answer_h1(sock)
                return
        _serve_h2(sock, handler)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _answer_h1(sock: socket.socket) -> None:
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        host = next(
            (line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"host:")), b""
        )
        body = b"h1 " + host
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    except (OSError, ssl.SSLError):
        pass
    finally:
        sock.close()


@contextmanager
def websocket_server(tls: ssl.SSLContext | None = None, *, refuse: bool = False) -> Iterator[int]:
    """A WebSocket echo server (websockets) on 127.0.0.1; ``refuse``: every upgrade gets 403."""
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.http11 import Request, Response

    ready = threading.Event()
    port: list[int] = []
    stopping: list[asyncio.AbstractEventLoop | asyncio.Event] = []

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    def gate(ws: ServerConnection, request: Request) -> Response | None:
        return ws.respond(403, "no upgrades here\n") if refuse else None

    async def main() -> None:
        stop = asyncio.Event()
        stopping.extend([asyncio.get_running_loop(), stop])
        async with serve(echo, "127.0.0.1", 0, ssl=tls, process_request=gate) as server:
            port.append(next(iter(server.sockets)).getsockname()[1])
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield port[0]
    finally:
        loop, stop = stopping
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)


@contextmanager
def grpc_health_server(statuses: dict[str, str], tls: tuple[bytes, bytes] | None = None) -> Iterator[int]:
    """grpcio with the standard health service on 127.0.0.1 (h2c, or TLS with ``tls`` = (cert, key) PEM);
    ``statuses`` maps service names to SERVING / NOT_SERVING."""
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    for name, status in statuses.items():
        servicer.set(name, health_pb2.HealthCheckResponse.ServingStatus.Value(status))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    if tls is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(tls[1], tls[0])]))
    server.start()
    try:
        yield port
    finally:
        server.stop(0)
