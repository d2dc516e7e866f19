"""Distributed background load through the lab's chain: a locust master and two workers (separate
processes) spread requests over three hosts via the VIP with each host's Host and SNI, verified
against the lab CA; the master's aggregated stats are consistent and show no failures.

Bounded read traffic: 10 users, about 3 requests/s each, for 6 s (plus hard caps in the locustfile).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
# (host, path, statuses that count as success): wordpress answers 401 without credentials
HOSTS = [("api.example.test", "/v1/x", [200]), ("shop.apps.test", "/", [200]), ("wordpress.example.test", "/", [401])]


def write_targets(
    path: Path, address: str, port: int, ca_bundle: str | None, hosts: Sequence[tuple[str, str, list[int]]] = HOSTS
) -> Path:
    """The targets file format of loadtests/common.py: dial ``address:port`` for every host."""
    doc = {
        "ca_bundle": ca_bundle,
        "targets": [
            {"url": f"https://{host}{p}", "address": address, "port": port, "sni": host, "expect_status": statuses}
            for host, p, statuses in hosts
        ],
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_distributed(
    workdir: Path,
    targets: Path,
    *,
    workers: int = 2,
    users: int = 10,
    spawn_rate: int = 5,
    run_time: str = "6s",
    timeout: float = 120,
) -> tuple[int, list[dict[str, str]], str]:
    """Run ``locust --master`` and ``workers`` x ``locust --worker`` (headless, no RampShape) and return
    (master exit code, rows of the master's stats CSV, master log). Every process is killed in the end."""
    env = {
        **os.environ,
        "INGRESSCHECK_TARGETS": str(targets),
        "INGRESSCHECK_SHAPE": "none",
        "INGRESSCHECK_MAX_SECONDS": "60",
        "PYTHONUNBUFFERED": "1",
    }
    port = _free_port()
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    master_cmd = [
        *locust,
        "--master",
        "--headless",
        "--expect-workers",
        str(workers),
        "--expect-workers-max-wait",
        "60",
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        run_time,
        "--stop-timeout",
        "5",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--csv",
        str(workdir / "stats"),
        "--html",
        str(workdir / "stats.html"),
    ]
    worker_cmd = [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    procs: list[subprocess.Popen[bytes]] = []
    logs = [workdir / "master.log", *(workdir / f"worker-{i}.log" for i in range(workers))]
    try:
        with logs[0].open("wb") as out:
            procs.append(subprocess.Popen(master_cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        for log in logs[1:]:
            with log.open("wb") as out:
                procs.append(subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        code = procs[0].wait(timeout=timeout)
        for w in procs[1:]:
            w.wait(timeout=30)  # workers quit when the master does
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    master_log = logs[0].read_text(errors="replace")
    stats = workdir / "stats_stats.csv"
    rows: list[dict[str, str]] = []
    if stats.exists():
        with stats.open() as f:
            rows = list(csv.DictReader(f))
    return code, rows, master_log


def check_stats(rows: list[dict[str, str]], hosts: Sequence[str], log: str) -> None:
    assert rows, f"no stats CSV written; master log:\n{log[-3000:]}"
    named = [r for r in rows if r["Name"] != "Aggregated"]
    (total,) = [r for r in rows if r["Name"] == "Aggregated"]
    for host in hosts:
        requests = sum(int(r["Request Count"]) for r in named if f"//{host}/" in r["Name"])
        assert requests > 0, f"no requests to {host}: {[r['Name'] for r in named]}"
    failures = {r["Name"]: int(r["Failure Count"]) for r in named if int(r["Failure Count"])}
    assert not failures, f"failures {failures}; master log:\n{log[-3000:]}"
    assert int(total["Failure Count"]) == 0
    assert int(total["Request Count"]) == sum(int(r["Request Count"]) for r in named)
    assert int(total["Failure Count"]) == sum(int(r["Failure Count"]) for r in named)


# find_spec, not importorskip: importing locust here would monkey-patch this pytest process with gevent
@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust not installed (pip install .[load])")
def test_distributed_background_load_through_the_chain(lab: Lab, tmp_path: Path) -> None:
    """Given the lab, when a master and 2 workers run 10 users for 6 s over three hosts through the VIP,
    then every host got requests, none failed (401 is expected on wordpress), and the master's
    Aggregated row is the sum of its per-name rows."""
    L = lab.layout
    targets = write_targets(tmp_path / "targets.json", L.vip, L.lb_https_port, str(L.pki / "ingress-ca.crt"))
    code, rows, log = run_distributed(tmp_path, targets)
    check_stats(rows, [h for h, _, _ in HOSTS], log)
    assert code == 0, log[-3000:]
    assert (tmp_path / "stats.html").stat().st_size > 0
    assert "2 workers connected" in log or log.count("reported as ready") >= 2, log[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust not installed (pip install .[load])")
def test_reload_under_load_prints_its_figures_and_keeps_locust_stats_in_the_reports_dir(
    lab: Lab, tmp_path: Path
) -> None:
    """Given the lab, when reload runs 1 round with 3 locust users and --reports-dir, then the terminal shows
    p50/p95 per phase and the load, and the locust CSV and HTML the JSON report names exist in that
    directory (nothing under ./reports)."""
    reports = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "reload",
            "--profile",
            str(lab.layout.profile),
            "--allow-mutations",
            "--rounds",
            "1",
            "--rate",
            "20",
            "--under-load",
            "3",
            "--reports-dir",
            str(reports),
            "--no-progress",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "reload create p50" in done.stdout and "p95" in done.stdout, done.stdout
    assert "background load: 3 users" in done.stdout, done.stdout
    (report,) = reports.glob("ingresscheck-*.json")
    load = json.loads(report.read_text())["sections"]["reload"]["load"]
    assert Path(load["csv"]).parent == reports and Path(load["csv"]).stat().st_size > 0
    assert Path(load["html"]).parent == reports and Path(load["html"]).stat().st_size > 0
    assert not (tmp_path / "reports").exists()
