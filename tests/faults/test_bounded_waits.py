"""Waits that must end: `--timeout` bounds each exchange as a whole, not each read, so a peer that
trickles its answer a byte at a time is a timeout naming its address, in `run`; an exec
credential plugin that hangs is killed and named. Each test asserts its own time bound."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from ingresscheck_lab import pki
from ingresscheck_lab.lab import Lab

from ._helpers import CAUSE_TIMEOUT, assert_no_traceback, assert_one_line_exit_2, lab_run_args, record, run_cli
from .test_chain import FAULT_IP, _read_request, tcp_server

API = "api.example.test"
RESPONSE = b"HTTP/1.1 302 Found\r\nLocation: https://api.example.test/\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100


def _trickle(conn: socket.socket, stop: threading.Event, every: float = 0.25) -> None:
    """A valid answer, one byte per ``every`` seconds: each read gets something, the exchange never ends."""
    _read_request(conn)
    for byte in RESPONSE:
        if stop.wait(every):
            return
        conn.sendall(bytes([byte]))


def _tls(lab: Lab, tmp_path: Path) -> ssl.SSLContext:
    issued = pki.issue(pki.load_pair(lab.layout.pki, "ingress-ca"), API, dns_names=(API,))
    (tmp_path / "t.crt").write_bytes(issued.cert_pem)
    (tmp_path / "t.key").write_bytes(issued.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "t.crt", tmp_path / "t.key")
    return ctx


@pytest.mark.lab
@pytest.mark.timeout(90)
def test_a_trickling_response_is_a_timeout_of_one_exchange_naming_the_address(lab: Lab, tmp_path: Path) -> None:
    """Given a backend that sends a byte every 0.25 s (every read succeeds, the answer never completes),
    when routing probes it at --timeout 2, then each exchange ends at 2 s with a timeout naming the address,
    and the whole run stays far from the probe deadline."""
    stop = threading.Event()
    ctx = _tls(lab, tmp_path)

    def handle(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            _trickle(tls, stop)

    with tcp_server(443, handle):
        run = run_cli(
            *lab_run_args(
                lab, tmp_path, "-n", "demo", "--probes", "routing", "--skip", "dns",
                "--resolve", f"{API}:443:{FAULT_IP}", "--timeout", "2",
            ),
            json_report=tmp_path / "report.json",
            timeout=60,
        )  # fmt: skip
        stop.set()
    assert_no_traceback(run)
    backend = run.one("routing.backend", API)
    record(
        "trickling response (1 byte / 0.25 s)", run, f"routing.backend {backend['status']}: {backend['message'][:70]}"
    )
    assert backend["status"] == "error" and CAUSE_TIMEOUT.search(backend["message"]), backend
    assert f"{FAULT_IP}:443" in backend["message"], backend
    assert "incomplete response" in backend["message"], backend
    # every exchange that ran ended at its own 2 s, naming the address (none held the probe's deadline alone)
    results = [r for r in run.results("routing.backend", API) + run.results("routing.path_type", API) if r["subject"]]
    cut = [r for r in results if "was reached" in r["message"]]  # rules the probe deadline cut off: named too
    exchanges = [r for r in results if r not in cut]
    assert len(exchanges) >= 3, exchanges
    for r in exchanges:
        assert "within 2 s" in r["message"] and f"{FAULT_IP}:443" in r["message"], r
    for r in cut:
        assert r["status"] == "error" and f"{FAULT_IP}:443" in r["message"], r
    assert run.seconds < 17 + 5 + 5, run.seconds  # the probe deadline (timeout x 6 + 5) plus start-up


def test_an_exec_credential_plugin_that_hangs_is_killed_and_named(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: sleep,"
        " args: ['600'], interactiveMode: Never}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    run = run_cli("run", "--kubeconfig", str(kc), "--no-progress", "--no-reports", timeout=30, cwd=tmp_path)
    line = assert_one_line_exit_2(run, f"kubeconfig {kc}", "credential plugin sleep did not finish within 10 s")
    record("exec credential plugin hangs", run, "exit 2: " + line[14:110])
    assert run.seconds < 10 + 5 + 3, run.seconds  # the plugin's bound, plus the process start-up on a busy machine


def test_an_exec_credential_plugin_that_fails_is_one_line_not_anonymous(tmp_path: Path) -> None:
    """The client used to log the failure and go on as system:anonymous (a 403 that blamed RBAC)."""
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: 'false',"
        " interactiveMode: Never}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    run = run_cli("run", "--kubeconfig", str(kc), "--no-progress", "--no-reports", timeout=20, cwd=tmp_path)
    line = assert_one_line_exit_2(run, f"kubeconfig {kc}", "credential plugin failed", "returned 1")
    record("exec credential plugin exits 1", run, "exit 2: " + line[14:110])


@pytest.mark.timeout(60)
def test_a_deadline_gives_every_rule_not_reached_an_error_naming_it(lab: Lab, tmp_path: Path) -> None:
    """Given an Ingress with 30 paths whose server answers each request after 0.8 s, when routing runs at
    --timeout 1 (probe deadline 11 s), then every rule has a routing.backend result: those reached are
    judged, those the deadline cut off are errors naming the rule (1,267 of 2,000 rules had none)."""
    from ingresscheck_lab import objects

    from .test_chain import _tls_context

    host = "api.example.test"  # the fault server's certificate names it
    paths = [(f"/many-{i}", "Prefix", "api") for i in range(30)]
    ing = objects.ingress("fault-many", "demo", host, paths)
    ctx = _tls_context(lab, tmp_path)
    stop = threading.Event()

    def slow(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            while not stop.is_set() and _read_request(tls):
                time.sleep(0.8)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    res = lab.writer()
    res.create(ing)
    try:
        with tcp_server(443, slow):
            run = run_cli(
                *lab_run_args(lab, tmp_path, "-n", "demo", "--probes", "routing", "--skip", "dns", "--timeout", "1",
                              "--resolve", f"{host}:443:{FAULT_IP}"),
                json_report=tmp_path / "report.json",
                timeout=45,
            )  # fmt: skip
            stop.set()
    finally:
        res.delete(ing)
    assert_no_traceback(run)
    backend = {r["subject"]: r for r in run.results("routing.backend", host)}
    missing = [p for p, _, _ in paths if f"{p} (Prefix) via {FAULT_IP}:443" not in backend]
    cut = [r for r in backend.values() if "before" in r["message"] and "was reached" in r["message"]]
    record("30 rules at 0.8 s each, deadline 11 s", run, f"{len(backend)} routing.backend results, {len(cut)} cut off")
    assert missing == [], missing
    assert cut, "the deadline (11 s) cannot have let 60 requests of 0.8 s finish"
    assert all(r["status"] == "error" and "did not finish within" in r["message"] for r in cut), cut[:3]
    assert run.seconds < 11 + 10
