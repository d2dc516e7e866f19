"""Broken request chain, on the real lab: DNS, the load balancer, a controller node, the pods, and servers
that misbehave on purpose (never answer the ClientHello, loop redirects, answer after 30 s, send 50 MB).
Each asserts the exit code, the check and its status, the cause and the address in the message, no
traceback and a bounded time. The verdict wording of the network checks is the engine's (engine v2)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingresscheck_lab import objects, pki
from ingresscheck_lab.lab import Lab

from ._helpers import CAUSE_TIMEOUT, Run, assert_no_traceback, lab_run_args, record, run_cli, stopped

pytestmark = pytest.mark.lab

FAULT_IP = "127.0.0.98"  # no lab component uses it
API = "api.example.test"
TIMEOUT = "2"  # --timeout: one network operation


def _verdict(result: dict[str, object]) -> str:
    return f"{result['check']} {result['status']}: {str(result['message'])[:80]}"


def _run(lab: Lab, tmp_path: Path, *flags: str, bound: float = 60, namespace: str | None = "demo") -> Run:
    scope = ("-n", namespace) if namespace else ()
    run = run_cli(
        *lab_run_args(lab, tmp_path, *scope, "--timeout", TIMEOUT, *flags),
        json_report=tmp_path / "report.json",
        timeout=bound,
    )
    assert_no_traceback(run)
    return run


# --- misbehaving servers on FAULT_IP ------------------------------------------------------------------


@contextmanager
def tcp_server(port: int, handle: Callable[[socket.socket], None]) -> Iterator[None]:
    srv = socket.create_server((FAULT_IP, port), reuse_port=False)
    srv.settimeout(0.2)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conns.append(conn)
            threading.Thread(target=_guarded, args=(handle, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        srv.close()
        for c in conns:
            try:
                c.close()
            except OSError:
                pass


def _guarded(handle: Callable[[socket.socket], None], conn: socket.socket) -> None:
    try:
        handle(conn)
    except OSError:
        pass


def _tls_context(lab: Lab, tmp_path: Path) -> ssl.SSLContext:
    """A certificate for api.example.test from the lab's ingress CA: TLS verifies, only the answer misbehaves."""
    issued = pki.issue(pki.load_pair(lab.layout.pki, "ingress-ca"), API, dns_names=(API,))
    (tmp_path / "fault.crt").write_bytes(issued.cert_pem)
    (tmp_path / "fault.key").write_bytes(issued.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "fault.crt", tmp_path / "fault.key")
    return ctx


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


# --- DNS ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(150)
def test_dnsmasq_stopped_is_an_error_naming_the_server_and_its_refusal(lab: Lab, tmp_path: Path) -> None:
    """The resolver's port closed: the kernel answers each query with ICMP port unreachable, so the verdict
    says the server refused, at once, not that it timed out (a timeout is not a refusal)."""
    with stopped(lab, "dnsmasq"):
        run = _run(lab, tmp_path, "--probes", "dns", bound=60)
    resolves = run.one("dns.resolves", API)
    record("dnsmasq stopped", run, _verdict(resolves))
    assert run.code == 1
    assert resolves["status"] == "error", resolves
    assert f"{lab.layout.dns_ip}:{lab.layout.dns_port} refused the query" in resolves["message"], resolves
    assert not CAUSE_TIMEOUT.search(resolves["message"]), resolves
    assert run.seconds < 30


@pytest.mark.timeout(150)
def test_static_auth_checks_need_no_dns(lab: Lab, tmp_path: Path) -> None:
    """auth.secret and auth.annotation_typos read objects only: DNS down must not skip them (probe auth_config)."""
    with stopped(lab, "dnsmasq"):
        run = _run(lab, tmp_path, "--probes", "dns,auth,auth_config", bound=90)
    secret = run.one("auth.secret", "wordpress.example.test")
    record("dnsmasq stopped (auth.secret)", run, _verdict(secret))
    assert secret["status"] == "pass", secret
    assert run.one("auth.annotation_typos", "wordpress.example.test")["status"] != "skip"


def test_nxdomain_fails_dns_resolves_with_the_name(lab: Lab, tmp_path: Path) -> None:
    host = "fault-nx.apps.test"  # an Ingress whose record was never written (no `lab sync`)
    ing = objects.ingress("fault-nx", "demo", host, [("/", "Prefix", "api")])
    res = lab.writer()
    res.create(ing)
    try:
        run = _run(lab, tmp_path, "--probes", "dns")
    finally:
        res.delete(ing)
    resolves = run.one("dns.resolves", host)
    record("NXDOMAIN", run, _verdict(resolves))
    assert run.code == 1
    assert resolves["status"] == "fail" and "NXDOMAIN" in resolves["message"], resolves


# --- the load balancer and the controller ------------------------------------------------------------


@pytest.mark.timeout(150)
def test_haproxy_stopped_is_connection_refused_at_the_vip(lab: Lab, tmp_path: Path) -> None:
    with stopped(lab, "haproxy"):
        run = _run(lab, tmp_path, "--probes", "dns,redirect,tls", bound=60)
    redirect = run.one("redirect.https", API)
    handshake = run.one("tls.handshake", API)
    record("HAProxy stopped", run, _verdict(handshake))
    assert run.code == 1
    for result, port in ((redirect, lab.layout.lb_http_port), (handshake, lab.layout.lb_https_port)):
        assert result["status"] in ("fail", "error"), result
        assert "refused" in result["message"] and f"{lab.layout.vip}:{port}" in result["message"], result
    assert run.seconds < 30


@pytest.mark.timeout(150)
def test_one_traefik_node_stopped_traffic_goes_on_and_the_node_is_named(lab: Lab, tmp_path: Path) -> None:
    node = lab.layout.nodes[1]
    with stopped(lab, f"traefik-{node.name}"):
        time.sleep(3)  # HAProxy's health check marks the node DOWN
        # every namespace: the controller's NodePort Service is not in demo
        run = _run(lab, tmp_path, "--probes", "dns,tls,routing,exposure", bound=120, namespace=None)
    backend = run.one("routing.backend", API)
    record("one Traefik node stopped", run, _verdict(backend))
    assert backend["status"] == "pass", backend  # the LB routes around the dead node
    results = (run.report or {}).get("results", [])
    named = [r for r in results if node.ip in r["message"] and r["status"] in ("fail", "error")]
    assert named and any("refused" in r["message"] for r in named), [_verdict(r) for r in results]


# --- the pods -----------------------------------------------------------------------------------------


def _without_pod(lab: Lab, tmp_path: Path, pod_ip: str) -> Callable[[list[str]], list[str]]:
    pods = json.loads((lab.layout.conf / "echo-pods.json").read_text())
    fewer = {a: p for a, p in pods.items() if not a.startswith(pod_ip + ":")}
    path = tmp_path / "echo-pods-fewer.json"
    path.write_text(json.dumps(fewer))
    return lambda argv: [*argv[:-1], str(path)]


@pytest.mark.timeout(150)
def test_one_backend_pod_stopped(lab: Lab, tmp_path: Path) -> None:
    with stopped(lab, "echo", argv_change=_without_pod(lab, tmp_path, "127.0.0.12")):
        run = _run(lab, tmp_path, "--probes", "dns,tls,routing", bound=90)
    backend = run.one("routing.backend", API)
    record("one backend pod stopped (api-0)", run, _verdict(backend))
    # the controller retries on the other pod: the route still works, and what answered is named
    assert backend["status"] in ("pass", "warn"), backend
    assert run.seconds < 60


@pytest.mark.timeout(150)
def test_all_backend_pods_stopped(lab: Lab, tmp_path: Path) -> None:
    with stopped(lab, "echo"):
        run = _run(lab, tmp_path, "--probes", "dns,tls,routing", bound=90)
    backend = run.one("routing.backend", API)
    record("all backend pods stopped", run, _verdict(backend))
    assert run.code == 1
    assert backend["status"] == "fail", backend
    assert any(code in backend["message"] for code in ("502", "503", "504")), backend
    assert run.seconds < 60


# --- servers that misbehave --------------------------------------------------------------------------


def test_server_that_never_answers_the_client_hello(lab: Lab, tmp_path: Path) -> None:
    hold = threading.Event()
    with tcp_server(443, lambda conn: None if hold.wait(40) else None):
        run = _run(lab, tmp_path, "--probes", "tls", "--resolve", f"{API}:443:{FAULT_IP}", "--skip", "dns", bound=60)
        hold.set()
    handshake = run.one("tls.handshake", API)
    record("ClientHello never answered", run, _verdict(handshake))
    assert run.code == 1
    assert handshake["status"] == "error", handshake
    assert CAUSE_TIMEOUT.search(handshake["message"]) and f"{FAULT_IP}:443" in handshake["message"], handshake
    assert run.seconds < 30


def test_redirect_loop(lab: Lab, tmp_path: Path) -> None:
    def loop(conn: socket.socket) -> None:
        request = _read_request(conn)
        path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
        target = b"/b" if path != b"/b" else b"/a"
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: https://"
            + API.encode()
            + target
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        conn.close()

    def tls_loop(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            loop(tls)

    ctx = _tls_context(lab, tmp_path)
    with tcp_server(80, loop), tcp_server(443, tls_loop):
        run = _run(
            lab,
            tmp_path,
            "--probes",
            "redirect",
            "--skip",
            "dns",
            "--resolve",
            f"{API}:80:{FAULT_IP}",
            "--resolve",
            f"{API}:443:{FAULT_IP}",
            bound=60,
        )
    loop_result = run.one("redirect.loop", API)
    record("redirect loop", run, _verdict(loop_result))
    assert run.code == 1
    assert loop_result["status"] == "fail" and "loop" in loop_result["message"], loop_result
    assert f"{FAULT_IP}:80" in loop_result["message"], loop_result
    assert run.seconds < 30


def test_backend_that_answers_after_30_s(lab: Lab, tmp_path: Path) -> None:
    release = threading.Event()
    ctx = _tls_context(lab, tmp_path)

    def slow(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            _read_request(tls)
            release.wait(30)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    with tcp_server(443, slow):
        run = _run(
            lab, tmp_path, "--probes", "routing", "--skip", "dns", "--resolve", f"{API}:443:{FAULT_IP}", bound=60
        )
        release.set()
    backend = run.one("routing.backend", API)
    record("backend answers after 30 s", run, _verdict(backend))
    assert run.code == 1
    assert backend["status"] == "error" and CAUSE_TIMEOUT.search(backend["message"]), backend
    assert f"{FAULT_IP}:443" in backend["message"], backend
    assert run.seconds < 25  # bounded by --timeout, not by the server


def test_50_mb_body_is_read_with_bounded_memory(lab: Lab, tmp_path: Path) -> None:
    ctx = _tls_context(lab, tmp_path)
    chunk = b"x" * (1 << 20)

    def huge(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            _read_request(tls)
            tls.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(50 << 20).encode()
                + b"\r\n\r\n"
            )
            for _ in range(50):
                tls.sendall(chunk)

    with tcp_server(443, huge):
        run = _run(
            lab, tmp_path, "--probes", "routing", "--skip", "dns", "--resolve", f"{API}:443:{FAULT_IP}", bound=60
        )
    backend = run.one("routing.backend", API)
    record("50 MB body", run, _verdict(backend) + f" (peak RSS <= {run.max_rss_mb:.0f} MB)")
    assert run.code == 1
    assert backend["status"] in ("fail", "error"), backend
    assert run.max_rss_mb < 400, run.max_rss_mb
    assert run.seconds < 30
