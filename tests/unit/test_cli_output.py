"""`ingresscheck run`'s terminal output scales: findings sharing one cause are one finding listing its
hosts, `-q` shows failures and the summary only, `--no-progress` prints no line per host, a summary by
check, `--host` checks one host, `-o wide` one line per finding, and the progress counts what runs.

Offline (--manifests) on real manifests, the real command in a subprocess (issue 26)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOSTS = 40

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: shop}}
spec:
  ingressClassName: {klass}
  rules:
  - host: {host}
    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}]}}
"""
SERVICE = (
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec: {selector: {app: web}, ports: [{port: 80}]}\n"
)
CLASS = (
    "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\n"
    "spec: {controller: k8s.io/ingress-nginx}\n"
)
TERMINAL_80 = {"COLUMNS": "80", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0"}


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingresscheck", "run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def _without_class(doc: str) -> str:
    return doc.replace("  ingressClassName: \n", "")


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """40 Ingresses whose rules name the same missing Service (one cause), and one healthy Ingress whose
    class is unknown (a warning of its own)."""
    m = tmp_path / "m"
    m.mkdir()
    docs = [
        INGRESS.format(name=f"app{i:02d}", host=f"app{i:02d}.shop.test", service="gone", klass="nginx")
        for i in range(HOSTS)
    ]
    docs.append(INGRESS.format(name="web", host="web.shop.test", service="web", klass="nginx"))
    (m / "all.yaml").write_text("---\n".join([*docs, SERVICE, CLASS]))
    return m


def test_one_cause_over_many_hosts_is_one_finding_listing_them_at_80_columns(many: Path, tmp_path: Path) -> None:
    """Given 40 hosts with the same missing Service, when run prints to an 80-column terminal, then the
    finding appears once, says 40 hosts, lists the first ones and how many more, and no line exceeds 80."""
    out = _run("--manifests", str(many), "--no-reports", "--no-progress", cwd=tmp_path, env=TERMINAL_80)
    plain = _plain(out.stdout)
    assert out.returncode == 1, out
    assert plain.count("static.backend_service") == 2, plain  # the finding, and its line in the summary by check
    assert f"static.backend_service {HOSTS} hosts" in plain, plain
    assert "Service shop/gone does not exist" in plain
    assert re.search(r"on app00\.shop\.test, app01\.shop\.test, .*and \d+ more", plain), plain
    assert max(len(line) for line in plain.splitlines()) <= 80, plain
    # a wrapped message keeps its indent: no line of a finding starts at column 0 mid-sentence
    body = plain.split("by check:")[0].split("fail ", 1)[1].splitlines()[1:]
    assert all(line.startswith(("fail ", "warn ", "error", "      ")) for line in body), body


def test_logs_get_one_greppable_line_per_cause(many: Path, tmp_path: Path) -> None:
    """Given the same run with output to a pipe, then one line for the 40 hosts' cause, naming the count."""
    out = _run("--manifests", str(many), "--no-reports", "--no-progress", cwd=tmp_path)
    lines = [line for line in out.stdout.splitlines() if line.startswith("fail ")]
    assert len(lines) == 1 and f"{HOSTS} hosts" in lines[0] and "Service shop/gone" in lines[0], out.stdout


def test_summary_by_check_counts_each_check(many: Path, tmp_path: Path) -> None:
    out = _run("--manifests", str(many), "--no-reports", "--no-progress", cwd=tmp_path)
    summary = out.stdout.split("by check:\n")[1].splitlines()
    assert re.fullmatch(rf"\s+static\.backend_service\s+fail {HOSTS}\s+pass 1", summary[0]), summary
    assert re.search(r"\d+ other checks?: pass or skip", out.stdout), out.stdout


def test_no_progress_prints_no_line_per_host(many: Path, tmp_path: Path) -> None:
    """Given a pipe (where progress would be plain lines), when --no-progress, then stderr has none."""
    with_lines = _run("--manifests", str(many), "--no-reports", cwd=tmp_path)
    assert "[1/" in with_lines.stderr, with_lines.stderr
    out = _run("--manifests", str(many), "--no-reports", "--no-progress", cwd=tmp_path)
    assert out.stderr == "", out.stderr


def test_quiet_shows_failures_and_the_summary_only(tmp_path: Path) -> None:
    """Given one failing Ingress and one with a warning (no class, no default class), when -q, then the failure and the
    counts are printed, the warning is not listed, and no progress line."""
    m = tmp_path / "m"
    m.mkdir()
    (m / "a.yaml").write_text(
        _without_class(INGRESS.format(name="bad", host="bad.shop.test", service="gone", klass=""))
        + "---\n"
        + _without_class(INGRESS.format(name="web", host="web.shop.test", service="web", klass=""))
        + "---\n"
        + SERVICE
    )
    loud = _run("--manifests", str(m), "--no-reports", "--no-progress", cwd=tmp_path)
    assert "static.ingress_class" in loud.stdout, loud.stdout
    out = _run("--manifests", str(m), "--no-reports", "-q", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr == "", out
    assert "fail  static.backend_service shop/bad/bad.shop.test" in out.stdout, out.stdout
    assert "static.ingress_class" not in out.stdout and "warn 2" in out.stdout, out.stdout


def test_host_checks_that_host_only_and_an_unknown_host_is_one_line(many: Path, tmp_path: Path) -> None:
    out = _run("--manifests", str(many), "--no-reports", "--no-progress", "--host", "APP07.shop.test", cwd=tmp_path)
    assert out.returncode == 1, out
    assert "shop/app07/app07.shop.test" in out.stdout and "app08" not in out.stdout, out.stdout
    assert "hosts" not in out.stdout.split("by check:")[0], out.stdout
    missing = _run("--manifests", str(many), "--no-reports", "--host", "nope.shop.test", cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1, missing
    assert "--host nope.shop.test" in missing.stderr and "Traceback" not in missing.stderr


def test_wide_output_is_one_line_per_finding_with_severity_and_remedy(many: Path, tmp_path: Path) -> None:
    out = _run("--manifests", str(many), "--no-reports", "--no-progress", "-o", "wide", cwd=tmp_path, env=TERMINAL_80)
    lines = [line for line in _plain(out.stdout).splitlines() if line.startswith("fail ")]
    assert len(lines) == HOSTS, out.stdout
    assert all("critical" in line and "(remedy: " in line for line in lines), lines[0]


def test_progress_counts_only_what_runs_with_probes_dns(tmp_path: Path) -> None:
    """Given --probes dns (no cluster-wide probe) on two hosts, then the progress runs [1/2], [2/2]."""
    m = tmp_path / "m"
    m.mkdir()
    (m / "a.yaml").write_text(
        "---\n".join(INGRESS.format(name=n, host=f"{n}.shop.test", service="web", klass="nginx") for n in ("a", "b"))
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:  # a port nothing answers on
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
    out = _run(
        "--manifests",
        str(m),
        "--no-reports",
        "--probes",
        "dns",
        "--dns-server",
        f"127.0.0.1:{port}",
        "--timeout",
        "0.5",
        cwd=tmp_path,
    )
    steps = re.findall(r"^\[(\d+)/(\d+)\]", out.stderr, re.M)
    assert steps == [("1", "2"), ("2", "2")], out.stderr


def test_progress_does_not_say_warn_for_a_warning_skip_removed(tmp_path: Path) -> None:
    """Given a healthy Ingress whose only warning is that it names no class, when --skip static.ingress_class,
    then the cluster-wide progress line does not say warn."""
    m = tmp_path / "m"
    m.mkdir()
    (m / "a.yaml").write_text(
        _without_class(INGRESS.format(name="web", host="web.shop.test", service="web", klass="")) + "---\n" + SERVICE
    )
    plain = _run("--manifests", str(m), "--no-reports", cwd=tmp_path)
    assert re.search(r"^\[\d/\d\] warn\s+cluster-wide", plain.stderr, re.M), plain.stderr
    out = _run("--manifests", str(m), "--no-reports", "--skip", "static.ingress_class", cwd=tmp_path)
    line = next(x for x in out.stderr.splitlines() if "cluster-wide" in x)
    assert " warn " not in line, out.stderr


def test_progress_counts_one_line_when_only_cluster_wide_probes_run(tmp_path: Path) -> None:
    """Given --probes static (cluster-wide only) on two hosts, then the progress is one line, [1/1], and no host's
    request-chain line (none runs): it used to count a line per host too, [2/1] and [3/1]."""
    m = tmp_path / "m"
    m.mkdir()
    (m / "a.yaml").write_text(
        "---\n".join(INGRESS.format(name=n, host=f"{n}.shop.test", service="web", klass="nginx") for n in ("a", "b"))
    )
    out = _run("--manifests", str(m), "--no-reports", "--probes", "static", cwd=tmp_path)
    steps = re.findall(r"^\[(\d+)/(\d+)\].*$", out.stderr, re.M)
    assert steps == [("1", "1")], out.stderr
    assert "cluster-wide checks" in out.stderr and "request chain" not in out.stderr, out.stderr
