"""The fault matrix's tools: run the real CLI with a time bound and measure it, break a lab component
for real (stop it, freeze it) and always put it back, and make tokens with exactly the rights a row
needs.

Every lab fault is a context manager whose ``finally`` restores the lab (restarts the process with
its own argv and environment, SIGCONT for a frozen one) and waits until the component is healthy.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from ingresscheck_lab import processes
from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
MATRIX: list[dict[str, Any]] = []  # one row per fault run; written to reports/fault-matrix.md at the end


class Result(dict[str, Any]):
    """A result of the JSON report that shows as `check status: message` in assertion output."""

    def __repr__(self) -> str:
        return f"<{self.get('check')} {self.get('status')}: {self.get('message')}>"


CAUSE_TIMEOUT = re.compile(r"timeout|timed out|within \d+(\.\d+)? s")


@dataclass
class Run:
    argv: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    report: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def results(self, check: str, host: str | None = None) -> list[dict[str, Any]]:
        assert self.report is not None, f"no JSON report: {self.stderr[-2000:]}"
        return [
            Result(r) for r in self.report["results"] if r["check"] == check and (host is None or r["host"] == host)
        ]

    def one(self, check: str, host: str | None = None) -> dict[str, Any]:
        found = self.results(check, host)
        assert found, f"no {check} result for {host}: " + ", ".join(
            f"{r['check']}={r['status']}" for r in (self.report or {}).get("results", [])
        )
        return found[0]


def run_cli(
    *args: str,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    json_report: Path | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ``ingresscheck ARGS`` for real; its wall time and its own peak RSS (wait4) are measured."""
    argv = [sys.executable, "-m", "ingresscheck", *args]
    rss_file = Path(tempfile.mkstemp(prefix="ic-rss-")[1])
    # a small parent that waits for ingresscheck and writes the peak RSS of that one child
    wrapper = [sys.executable, "-c", _RSS_WRAPPER, str(rss_file), *argv]
    started = time.monotonic()
    proc = subprocess.Popen(
        wrapper,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    killer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    killer.start()
    try:
        out, err = proc.communicate()
    finally:
        killer.cancel()
    seconds = time.monotonic() - started
    try:
        rss = int(rss_file.read_text() or 0) / 1024
    except (OSError, ValueError):
        rss = 0.0
    finally:
        rss_file.unlink(missing_ok=True)
    report = None
    if json_report is not None and json_report.exists():
        report = json.loads(json_report.read_text())
    assert seconds < timeout, f"`ingresscheck {' '.join(args)}` did not end within {timeout} s"
    return Run(argv, proc.returncode, out, err, seconds, rss, report)


_RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def assert_no_traceback(run: Run) -> None:
    __tracebackhide__ = True
    for stream in (run.stdout, run.stderr):
        assert "Traceback (most recent call last)" not in stream, stream[-3000:]


def assert_one_line_exit_2(run: Run, *needles: str) -> str:
    """Exit 2, exactly one line on stderr that names every needle, no traceback."""
    __tracebackhide__ = True
    assert_no_traceback(run)
    assert run.code == 2, (run.code, run.stdout[-2000:], run.stderr[-2000:])
    lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def record(fault: str, run: Run, verdict: str) -> None:
    MATRIX.append({"fault": fault, "exit": run.code, "verdict": verdict, "seconds": round(run.seconds, 1)})


def write_matrix(path: Path) -> None:
    if not MATRIX:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| fault | exit | verdict | time (s) |", "|---|---|---|---|"]
    lines += [f"| {r['fault']} | {r['exit']} | {r['verdict'].replace('|', '/')} | {r['seconds']} |" for r in MATRIX]
    path.write_text("\n".join(lines) + "\n")


def lab_run_args(lab: Lab, tmp_path: Path, *extra: str, profile: Path | None = None) -> list[str]:
    return [
        "run",
        "--profile",
        str(profile or lab.layout.profile),
        "--no-progress",
        "--reports-dir",
        str(tmp_path),
        "--json",
        str(tmp_path / "report.json"),
        *extra,
    ]


# --- breaking lab processes for real, and putting them back ------------------------------------------


def _cmdline_and_env(pid: int) -> tuple[list[str], dict[str, str]]:
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    env = {}
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            env[key] = value
    return argv, env


def healthy_check(lab: Lab, name: str, argv: list[str] | None = None) -> Callable[[], bool]:
    """What `lab up` waits for, per component."""
    L = lab.layout
    if name == "kube-apiserver":
        ctx = ssl.create_default_context(cafile=str(L.pki / "cluster-ca.crt"))
        return lambda: httpx.get(f"{L.apiserver_url}/readyz", verify=ctx, timeout=2).text == "ok"
    if name == "dnsmasq":
        import dns.message
        import dns.query

        def dns_ok() -> bool:
            q = dns.message.make_query("ready.example.test", "A")
            return bool(dns.query.udp(q, L.dns_ip, port=L.dns_port, timeout=0.5).answer)

        return dns_ok
    if name == "haproxy":
        return lab._nodes_up
    if name.startswith("traefik-"):
        node = next(n for n in L.nodes if name.endswith(n.name))
        return lambda: (
            httpx.get(f"http://{node.ip}:{L.node_ping_port}/ping", timeout=1).status_code == 200 and lab._nodes_up()
        )
    if name == "echo":
        # the pods the restarted process serves: the file its argv names
        pods = json.loads(Path(argv[-1] if argv else L.conf / "echo-pods.json").read_text())

        def all_pods() -> bool:
            for address in pods:
                host, port = address.rsplit(":", 1)
                with socket.create_connection((host, int(port)), timeout=1):
                    pass
            return True

        return all_pods
    raise ValueError(name)


@contextmanager
def stopped(lab: Lab, name: str, argv_change: Callable[[list[str]], list[str]] | None = None) -> Iterator[None]:
    """Stop the lab's ``name`` process (SIGTERM, then SIGKILL), and start it again afterwards with the
    same argv and environment; wait until it is healthy. ``argv_change`` runs a changed process during
    the fault instead of none (e.g. the echo pods without one pod)."""
    running = processes.find(lab.layout, name)
    assert running is not None and processes.alive(running), f"lab component {name} is not running"
    argv, env = _cmdline_and_env(running.pid)
    # HAProxy's master exports HAPROXY_* for its workers; a new master that inherits them thinks it is
    # being reloaded and exits
    env = {k: v for k, v in env.items() if not k.startswith("HAPROXY_")}
    processes.stop(lab.layout, running)
    during = None
    try:
        if argv_change is not None:
            during = processes.start(lab.layout, processes.Spec(name, argv_change(argv), env))
            time.sleep(1.0)
        yield
    finally:
        if during is not None:
            processes.stop(lab.layout, during)
        back = processes.start(lab.layout, processes.Spec(name, argv, env))
        try:
            processes.wait_ready(back, healthy_check(lab, name, argv), 90, f"{name} healthy again after the fault")
        except Exception:
            # never leave the shared lab broken: a full restart, then say what went wrong
            lab.down(quiet=True)
            lab.up()
            raise


@contextmanager
def frozen(lab: Lab, name: str) -> Iterator[None]:
    """SIGSTOP the process (it keeps its sockets: connections are accepted by the kernel, never answered)."""
    running = processes.find(lab.layout, name)
    assert running is not None and processes.alive(running)
    os.kill(running.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(running.pid, signal.SIGCONT)
        processes.wait_ready(running, healthy_check(lab, name), 60, f"{name} healthy again after SIGCONT")


# --- tokens with exactly the rights a row needs (ServiceAccount + TokenRequest, removed afterwards) ---


@contextmanager
def token_kubeconfig(lab: Lab, directory: Path, name: str, rules: list[dict[str, Any]]) -> Iterator[Path]:
    """A kubeconfig for a fresh ServiceAccount bound to a ClusterRole with ``rules`` only."""
    res = lab.writer()
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "default"}}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}],
    }
    sa_path = "/api/v1/namespaces/default/serviceaccounts"
    res._call("POST", sa_path, sa)
    try:
        res.create(role, exist_ok=True)
        res.create(binding, exist_ok=True)
        token = res._call(
            "POST",
            f"{sa_path}/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
        )["status"]["token"]
        doc = yaml.safe_load(lab.layout.kubeconfig.read_text())
        for user in doc["users"]:
            user["user"] = {"token": token}
        path = directory / f"kubeconfig-{name}"
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        _wait_authorized(lab, token)
        yield path
    finally:
        res.delete(binding)
        res.delete(role)
        res._call("DELETE", f"{sa_path}/{name}")


def _wait_authorized(lab: Lab, token: str) -> None:
    """RBAC objects reach the authorizer's cache asynchronously: wait until /version answers the token."""
    ctx = ssl.create_default_context(cafile=str(lab.layout.pki / "cluster-ca.crt"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{lab.layout.apiserver_url}/version", headers={"Authorization": f"Bearer {token}"}, verify=ctx, timeout=2
        )
        if r.status_code == 200:
            time.sleep(1.0)  # and give the RBAC informer a moment for the new binding
            return
        time.sleep(0.2)


def known_secrets(lab: Lab) -> dict[str, str]:
    """Every secret value the lab holds, by what it is: none may appear in any report or stream."""
    L = lab.layout
    out: dict[str, str] = {}
    kc = yaml.safe_load(L.kubeconfig.read_text())
    out["admin token"] = kc["users"][0]["user"]["token"]
    out["traefik token"] = (L.secrets / "traefik.token").read_text().strip()
    password = (L.secrets / "wordpress.password").read_text().strip()
    out["wordpress password"] = password
    out["basic credentials (base64)"] = base64.b64encode(f"admin:{password}".encode()).decode()
    res = lab.writer()
    auth = res.get({"kind": "Secret", "metadata": {"namespace": "demo", "name": "wordpress-basic-auth"}})
    if auth:
        for key, value in (auth.get("data") or {}).items():
            plain = base64.b64decode(value).decode(errors="replace")
            for line in plain.splitlines():
                if ":" in line:
                    out[f"htpasswd hash ({key})"] = line.split(":", 1)[1].strip()
    for pem in (L.pki).glob("*.key"):
        body = [line for line in pem.read_text().splitlines() if line and not line.startswith("-----")]
        if body:
            out[f"private key {pem.name}"] = body[1] if len(body) > 1 else body[0]
    return out


# --- certificates no library would issue ----------------------------------------------------------


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + body


def _der_end(data: bytes, at: int) -> int:
    """Where the DER element that starts at ``at`` ends."""
    first = data[at + 1]
    if first < 0x80:
        return at + 2 + first
    n = first & 0x7F
    return at + 2 + n + int.from_bytes(data[at + 2 : at + 2 + n], "big")


def two_san_certificate(ca: Any, host: str, second: str) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a leaf signed by ``ca`` with TWO subjectAltName extensions (``host``,
    then ``second``). cryptography refuses to build one, so the second is built under a placeholder OID
    of the same length (2.5.29.99), renamed to 2.5.29.17 in the TBS bytes, and the TBS signed again."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from ingresscheck_lab import pki

    base = pki.issue(ca, host, dns_names=(host,))
    builder = (
        x509.CertificateBuilder()
        .subject_name(base.cert.subject)
        .issuer_name(base.cert.issuer)
        .public_key(base.key.public_key())
        .serial_number(base.cert.serial_number)
        .not_valid_before(base.cert.not_valid_before_utc)
        .not_valid_after(base.cert.not_valid_after_utc)
    )
    for ext in base.cert.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    twin = x509.SubjectAlternativeName([x509.DNSName(second)]).public_bytes()
    builder = builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), twin), False)
    cert = builder.sign(ca.key, hashes.SHA256())
    placeholder, san = bytes.fromhex("0603551d63"), bytes.fromhex("0603551d11")
    assert cert.tbs_certificate_bytes.count(placeholder) == 1
    tbs = cert.tbs_certificate_bytes.replace(placeholder, san)
    der = cert.public_bytes(serialization.Encoding.DER)
    start = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # past the outer SEQUENCE header
    algorithm_at = _der_end(der, start)
    algorithm = der[algorithm_at : _der_end(der, algorithm_at)]
    signature = ca.key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    out = _der(0x30, tbs + algorithm + _der(0x03, b"\0" + signature))
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(out) + b"-----END CERTIFICATE-----\n"
    return pem, base.key_pem
