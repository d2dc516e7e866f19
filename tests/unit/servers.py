"""Small real servers for unit tests: a UDP DNS server and an HTTP server with scripted answers."""

from __future__ import annotations

import errno
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.flags
import dns.message
import dns.rcode
import dns.rrset


@dataclass
class DnsScript:
    """What a scripted DNS server saw: the UDP source of every query, and how many came over TCP."""

    ip: str
    port: int
    peers: list[tuple[str, int]] = field(default_factory=list)
    tcp_queries: int = 0


Answer = Callable[[dns.message.Message, str], list[dns.message.Message | bytes]]


def bind_udp_and_tcp(
    ip: str, *, tcp: bool = True, first_port: int = 0, tries: int = 50
) -> tuple[socket.socket, socket.socket | None]:
    """A UDP socket and (with ``tcp``) a TCP socket bound to the same free port. The kernel picks a port
    free for UDP; TCP's port space is another one, so that port may be taken for TCP (a listener, or a
    connection's local port). Then both are closed and another port is picked: never a socket left
    behind, never an EADDRINUSE escaping. ``first_port`` is the first port tried (0: the kernel's pick)."""
    port = first_port
    for _ in range(tries):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((ip, port))
        except OSError:
            udp.close()
            if port == 0:
                raise
            port = 0
            continue
        if not tcp:
            return udp, None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no owner
        try:
            listener.bind((ip, udp.getsockname()[1]))
        except OSError as exc:
            listener.close()
            udp.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            port = 0
            continue
        return udp, listener
    raise OSError(errno.EADDRINUSE, f"no port free for both UDP and TCP on {ip} in {tries} tries")


@contextmanager
def scripted_dns(answer: Answer, ip: str = "127.0.0.1", *, tcp: bool = True) -> Iterator[DnsScript]:
    """A DNS server sending, for each query, whatever ``answer(query, transport)`` returns ("udp" or
    "tcp"): several messages, raw garbage, or nothing. It listens on UDP, and with ``tcp`` on TCP at the
    same port."""
    udp, listener = bind_udp_and_tcp(ip, tcp=tcp)
    udp.settimeout(0.2)
    port = udp.getsockname()[1]
    if listener is not None:
        listener.listen(8)
        listener.settimeout(0.2)
    seen = DnsScript(ip, port)
    stop = threading.Event()

    def wire(m: dns.message.Message | bytes) -> bytes:
        return m if isinstance(m, bytes) else m.to_wire()

    def serve_udp() -> None:
        while not stop.is_set():
            try:
                data, peer = udp.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            seen.peers.append(peer)
            for m in answer(dns.message.from_wire(data), "udp"):
                udp.sendto(wire(m), peer)

    def serve_tcp() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                size = int.from_bytes(conn.recv(2), "big")
                data = b""
                while len(data) < size:
                    data += conn.recv(size - len(data))
                seen.tcp_queries += 1
                for m in answer(dns.message.from_wire(data), "tcp"):
                    raw = wire(m)
                    conn.sendall(len(raw).to_bytes(2, "big") + raw)

    threads = [threading.Thread(target=f, daemon=True) for f in ((serve_udp, serve_tcp) if listener else (serve_udp,))]
    for t in threads:
        t.start()
    try:
        yield seen
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=2)
        udp.close()
        if listener is not None:
            listener.close()


@contextmanager
def dns_server(
    records: dict[str, list[str]], wildcard: dict[str, str] | None = None, ip: str = "127.0.0.1"
) -> Iterator[tuple[str, int]]:
    """Answer A/AAAA from ``records`` (name -> addresses), ``wildcard`` (domain -> address), else NXDOMAIN."""

    def answer(query: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        q = query.question[0]
        name = q.name.to_text().rstrip(".").lower()
        addrs = records.get(name)
        if addrs is None:
            for domain, addr in (wildcard or {}).items():
                if name.endswith("." + domain):
                    addrs = [addr]
        if addrs is None:
            resp.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rdtype = dns.rdatatype.to_text(q.rdtype)
            matching = [a for a in addrs if (":" in a) == (rdtype == "AAAA")]
            if matching:
                resp.answer.append(dns.rrset.from_text(q.name, 30, "IN", rdtype, *matching))
        return [resp]

    with scripted_dns(answer, ip, tcp=False) as server:
        yield server.ip, server.port


Handler = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


@contextmanager
def http_server(
    handler: Handler,
    ip: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
    keep_alive: bool = False,
    port: int = 0,
    *,
    answer_before_continue: bool = False,
) -> Iterator[tuple[str, int]]:
    """Serve every request with ``handler(request) -> (status, headers, body)``; over TLS with ``tls``.
    ``keep_alive``: speak HTTP/1.1 and keep connections open between requests. ``answer_before_continue``:
    to ``Expect: 100-continue`` the handler answers at once, reading the body only if it wants it (nginx
    refusing a body too large); otherwise "100 Continue" comes first, as http.server does."""

    class _H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def handle_expect_100(self) -> bool:
            return True if answer_before_continue else super().handle_expect_100()

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            status, headers, body = handler(self)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815 - the handler reads the body if it wants it (``self.rfile``)

        def log_message(self, *args: object) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (ConnectionError, ssl.SSLError, TimeoutError):
                pass  # the client gave up (a probe's timeout or bounded read): nothing to serve

    server = ThreadingHTTPServer((ip, port), _H)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[:2]  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server(ip: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Accepts TCP connections and never says a word (no ClientHello answer, no HTTP response); yields the port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ip, port))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()
