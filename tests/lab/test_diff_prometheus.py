"""`ingresscheck diff` and the Prometheus output on real runs of the lab: a healthy run, then a run
with the load balancer's redirect broken and an Ingress whose host is not in DNS; the metrics checked
by the real `promtool` and pushed to a real Pushgateway process on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

from .changes import lb_faults, temporary

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool")
PUSHGATEWAY = shutil.which("prometheus-pushgateway")
BROKEN_REDIRECT = {"api.example.test", "wordpress.example.test", "shop.apps.test"}


def run(lab: Lab, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--profile",
            str(lab.layout.profile),
            "-n",
            "demo",
            "--no-progress",
            "--json",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(out.read_text()), done.stdout + done.stderr


def diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingresscheck", "diff", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


@pytest.fixture(scope="module")
def runs(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real runs: healthy, then broken (the LB drops the query on redirect; a ghost host)."""
    d = tmp_path_factory.mktemp("runs")
    # "healthy": whatever the lab serves now (other work may leave a finding or two); the diff is relative
    code, _, output = run(lab, d / "healthy.json", "--prometheus", str(d / "healthy.prom"))
    assert code in (0, 1), output
    ghost = objects.ingress("ghost", "demo", "ghost.apps.test", [("/", "Prefix", "shop")])
    with temporary(lab, ghost), lb_faults(lab, LbFaults(redirect_drops_query=True)):
        code, _, output = run(lab, d / "broken.json", "--prometheus", str(d / "broken.prom"))
    assert code == 1, output
    return {
        "healthy": d / "healthy.json",
        "broken": d / "broken.json",
        "healthy.prom": d / "healthy.prom",
        "broken.prom": d / "broken.prom",
        "dir": d,
    }


def _section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{title}:"))
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        out.append(line.strip())
    assert int(lines[start].split(":")[1]) == len(out)
    return out


def test_diff_names_the_new_failures_and_the_new_host(runs: dict[str, Path]) -> None:
    """Given healthy then broken, when diffed, then exit 1 and the new failures are the redirect (on the
    demo hosts at least) and the ghost's checks; the ghost is a new host."""
    html = runs["dir"] / "diff.html"
    done = diff(str(runs["healthy"]), str(runs["broken"]), "--html", str(html))

    assert done.returncode == 1, done.stdout + done.stderr
    new = _section(done.stdout, "new failures")
    redirect = [line.split()[4].rstrip(":") for line in new if " redirect.https " in line]
    assert BROKEN_REDIRECT <= set(redirect), new
    assert any(line.startswith("absent -> fail  dns.resolves  ghost.apps.test") for line in new), new
    assert all(" redirect.https " in line or "ghost.apps.test" in line for line in new), new
    assert _section(done.stdout, "hosts added") == ["ghost.apps.test"]
    assert _section(done.stdout, "hosts removed") == []
    assert not [line for line in _section(done.stdout, "fixed") if " redirect.https " in line]
    page = html.read_text()
    assert page.count('data-check="redirect.https"') == len(redirect) and "ghost.apps.test" in page


def test_diff_the_other_way_is_the_fix(runs: dict[str, Path]) -> None:
    """Given broken then healthy, then no redirect failure is new, the redirect failures are fixed and the
    ghost removed."""
    done = diff(str(runs["broken"]), str(runs["healthy"]))

    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert not [line for line in _section(done.stdout, "new failures") if " redirect.https " in line]
    fixed = _section(done.stdout, "fixed")
    assert BROKEN_REDIRECT <= {line.split()[4].rstrip(":") for line in fixed if " redirect.https " in line}
    assert _section(done.stdout, "hosts removed") == ["ghost.apps.test"]


def test_diff_of_a_run_with_itself_is_empty(runs: dict[str, Path]) -> None:
    done = diff(str(runs["healthy"]), str(runs["healthy"]))
    assert done.returncode == 0
    for title in ("new failures", "fixed", "other status changes", "hosts added", "certificates changed"):
        assert _section(done.stdout, title) == []


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)")
@pytest.mark.parametrize("which", ["healthy.prom", "broken.prom"])
def test_textfile_passes_promtool(runs: dict[str, Path], which: str) -> None:
    """Given a real run's metrics file, then `promtool check metrics` finds no problem."""
    text = runs[which].read_text()
    done = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def _samples(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def test_textfile_holds_the_verdicts_certificates_and_phases(runs: dict[str, Path]) -> None:
    """Given the broken run, then each failing verdict is a status="fail" series, the served certificates'
    notAfter are there per host, address and SNI, and counts match the JSON summary."""
    report = json.loads(runs["broken"].read_text())
    samples = _samples(runs["broken.prom"].read_text())

    failing = {
        (s.labels["check"], s.labels["host"])
        for s in samples["ingresscheck_check_status"]
        if s.labels["status"] == "fail"
    }
    assert failing == {(r["check"], r["host"] or "") for r in report["results"] if r["status"] == "fail"}
    assert BROKEN_REDIRECT <= {h for c, h in failing if c == "redirect.https"}
    results = {s.labels["status"]: s.value for s in samples["ingresscheck_results"]}
    assert results == {k: float(v) for k, v in report["summary"].items()}
    certs = samples["ingresscheck_certificate_not_after_timestamp_seconds"]
    assert "api.example.test" in {s.labels["host"] for s in certs}
    assert all(s.value > time.time() and s.labels["address"] and s.labels["sni"] for s in certs)
    phases = {s.labels["phase"] for s in samples["ingresscheck_phase_duration_seconds"]}
    assert phases, "no phase timings were found in the evidence"
    assert samples["ingresscheck_run_duration_seconds"][0].value > 0


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    if PUSHGATEWAY is None:
        pytest.skip("prometheus-pushgateway is not installed (Debian package prometheus-pushgateway)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pushgateway.log").open("w")
    proc = subprocess.Popen([PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the Pushgateway did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_run_pushes_to_a_real_pushgateway(lab: Lab, pushgateway: str, tmp_path: Path) -> None:
    """Given a Pushgateway on loopback, when a run pushes, then the gateway serves the run's verdicts
    under job="ingresscheck" and the run's context."""
    code, report, output = run(lab, tmp_path / "r.json", "--pushgateway", pushgateway)
    assert code in (0, 1), output

    with urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5) as answer:
        served = answer.read().decode()
    mine = [s for s in _samples(served).get("ingresscheck_check_status", []) if s.labels.get("job") == "ingresscheck"]
    assert {s.labels["context"] for s in mine} == {report["cluster"]["context"]}
    assert {(s.labels["check"], s.labels["host"], s.labels["subject"]) for s in mine} == {
        (r["check"], r["host"] or "", r.get("subject") or "") for r in report["results"]
    }


def test_unreachable_pushgateway_is_one_line(lab: Lab, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--profile",
            str(lab.layout.profile),
            "-n",
            "demo",
            "--no-progress",
            "--no-reports",
            "--pushgateway",
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ingresscheck:")]
    assert errors == [
        f"ingresscheck: cannot push metrics to the Pushgateway http://127.0.0.1:{port}: [Errno 111] Connection refused"
    ]
