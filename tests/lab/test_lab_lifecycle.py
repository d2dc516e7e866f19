"""`lab up | status | sync | down` behave as promised: idempotent, observable, and leaving nothing."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.resolver

from ingresscheck_lab import objects, processes
from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingresscheck", "lab", *args], capture_output=True, text=True, timeout=180, cwd=ROOT
    )


def test_up_again_says_it_is_already_up(lab: Lab) -> None:
    """Given a running lab, when `lab up` runs again, then it says so and exits 0."""
    out = _cli("up")
    assert out.returncode == 0, out.stderr
    assert "already up" in out.stdout


def test_status_shows_every_component(lab: Lab) -> None:
    """Given a running lab, then status lists each component as up, with both LB nodes UP."""
    out = _cli("status")
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("etcd", "kube-apiserver", "echo", "dnsmasq", "traefik-lab-node-1", "traefik-lab-node-2", "haproxy"):
        assert any(line.startswith("up") and name in line for line in out.stdout.splitlines()), name
    assert "http_nodes 2/2" in out.stdout


def test_status_lists_envoy_gateway_whether_or_not_it_runs(lab: Lab) -> None:
    """Given a running lab, then status has an envoy-gateway line (up, or off saying how to start it), and
    an optional data plane not started does not make status fail (issue 26)."""
    out = _cli("status")
    line = next((x for x in out.stdout.splitlines() if "envoy-gateway" in x), "")
    assert line.startswith(("up", "off")), out.stdout
    if line.startswith("off"):
        assert "--data-planes traefik,envoy-gateway" in line and out.returncode == 0, out.stdout


def test_up_with_other_extra_hosts_on_a_running_lab_says_it_cannot(lab: Lab) -> None:
    """Given a running lab, when `lab up --extra-hosts N` asks for another N, then exit 2 with one line saying
    what the lab has and what to run; the lab is untouched (issue 26)."""
    have = int(lab.state().get("extra_hosts", 0))
    out = _cli("up", "--extra-hosts", str(have + 3))
    assert out.returncode == 2, out
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"has {have} extra hosts, not {have + 3}" in out.stderr and "lab down" in out.stderr, out.stderr
    assert lab.is_up()
    same = _cli("up", "--extra-hosts", str(have)) if have else _cli("up")
    assert same.returncode == 0 and "already up" in same.stdout, same


def test_sync_publishes_new_apps_hosts(lab: Lab) -> None:
    """Given a new Ingress under apps.test, when synced, then it resolves; deleted and synced, NXDOMAIN."""
    r = dns.resolver.Resolver(configure=False)
    r.nameservers, r.port = [lab.layout.dns_ip], lab.layout.dns_port
    blog = objects.ingress("blog", "demo", "blog.apps.test", [("/", "Prefix", "shop")])
    w = lab.writer()
    w.create(blog)
    try:
        assert _cli("sync").returncode == 0
        assert _eventually(lambda: [a.to_text() for a in r.resolve("blog.apps.test", "A")]) == [lab.layout.vip]
    finally:
        w.delete(blog)
    lab.sync(quiet=True)

    def gone() -> bool:
        try:
            r.resolve("blog.apps.test", "A")
        except dns.resolver.NXDOMAIN:
            return True
        return False

    assert _eventually(lambda: gone() or None)


def _eventually(fn, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
            if value:
                return value
        except dns.resolver.NXDOMAIN:
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def test_down_leaves_nothing_and_a_taken_port_fails_cleanly(lab: Lab) -> None:
    """Given a lab, when it goes down, then no process or listener remains; when a port is taken,
    then up fails in one line naming the component and its log, and stops what it started."""
    before = [r for r in processes.recorded(lab.layout)]
    out = _cli("down")
    assert out.returncode == 0, out.stderr
    for r in before:
        assert not processes.alive(r), r.name
    assert processes.listeners(lab.lab_addresses()) == []
    try:
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((lab.layout.vip, lab.layout.lb_https_port))
            squatter.listen()
            failed = _cli("up")
        assert failed.returncode == 2
        lines = failed.stderr.strip().splitlines()
        assert len(lines) == 1, failed.stderr
        assert "haproxy" in lines[0] and "already in use" in lines[0] and "haproxy.log" in lines[0]
        assert "Traceback" not in failed.stderr
        assert processes.recorded(lab.layout) == []
        assert processes.listeners(lab.lab_addresses()) == []
    finally:
        lab.up()  # leave the lab as the session found it
    assert lab.is_up()
