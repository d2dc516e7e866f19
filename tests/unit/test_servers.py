"""The unit tests' own servers: a scripted DNS server's UDP and TCP sockets share a port without racing."""

from __future__ import annotations

import os
import socket

import dns.message

from .servers import bind_udp_and_tcp, scripted_dns


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_port_taken_for_tcp_is_given_up_for_another_without_leaking_a_socket() -> None:
    """Given a TCP listener on a port free for UDP, when the DNS server's sockets are bound starting at that
    port, then both land on another port and the failed try left no socket open (issue 26: EADDRINUSE and
    a leaked socket broke the next test)."""
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(1)
    taken = squatter.getsockname()[1]
    try:
        before = _open_fds()
        udp, tcp = bind_udp_and_tcp("127.0.0.1", first_port=taken)
        assert tcp is not None
        try:
            assert udp.getsockname()[1] == tcp.getsockname()[1] != taken
            assert _open_fds() == before + 2  # the two it returned, nothing of the failed try
        finally:
            udp.close()
            tcp.close()
        assert _open_fds() == before
    finally:
        squatter.close()


def test_the_scripted_server_answers_over_udp_and_tcp_on_one_port() -> None:
    """Given a scripted DNS server, then one query over UDP and one over TCP reach it at the same port."""
    import dns.query

    def answer(q: dns.message.Message, transport: str) -> list[dns.message.Message | bytes]:
        return [dns.message.make_response(q)]

    with scripted_dns(answer) as server:
        q = dns.message.make_query("a.example.test", "A")
        assert dns.query.udp(q, server.ip, port=server.port, timeout=2).id == q.id
        assert dns.query.tcp(q, server.ip, port=server.port, timeout=2).id == q.id
        assert server.tcp_queries == 1 and len(server.peers) == 1
