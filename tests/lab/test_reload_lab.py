"""Reload latency on the lab: figures, report section, and no canary left behind, also when the
run is interrupted with Ctrl-C or SIGTERM mid-round, or killed (then `ingresscheck cleanup`)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingresscheck.reload.canary import LABEL
from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


def _reload(lab: Lab, tmp: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ingresscheck",
        "reload",
        "--profile",
        str(lab.layout.profile),
        "--no-progress",
        "--json",
        str(tmp / "r.json"),
        "--html",
        str(tmp / "r.html"),
        "--junit",
        str(tmp / "r.xml"),
        *args,
    ]


def _canaries(lab: Lab) -> list[str]:
    return [i["metadata"]["name"] for i in lab.writer().list("Ingress", label_selector=LABEL)]


def test_reload_needs_allow_mutations(lab: Lab, tmp_path: Path) -> None:
    done = subprocess.run(_reload(lab, tmp_path), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "ingresscheck: reload creates, changes and deletes canary Ingresses: run it with --allow-mutations"
    )


def test_reload_measures_rounds_and_reports_them(lab: Lab, tmp_path: Path) -> None:
    """Given 2 rounds, then create/update/delete propagation figures, traffic figures and a clean cluster."""
    done = subprocess.run(
        _reload(lab, tmp_path, "--allow-mutations", "--rounds", "2", "--rate", "50"),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert {r["check"]: r["status"] for r in report["results"]} == {
        "reload.propagation": "pass",
        "reload.traffic": "pass",
        "reload.cleanup": "pass",
    }
    section = report["sections"]["reload"]
    for phase in ("create", "update", "delete"):
        figures = section["propagation"][phase]
        assert figures["n"] == 2 and figures["failed"] == 0
        assert 0 <= figures["p50"] <= figures["p95"] <= figures["max"] < 60_000
    traffic = section["traffic"]
    assert traffic["counts"]["ok"] == traffic["sent"] > 50
    assert [e["label"] for e in traffic["events"]][:3] == ["round 1 create", "round 1 update", "round 1 delete"]
    html = (tmp_path / "r.html").read_text()
    assert 'id="reload"' in html and 'data-phase="create"' in html and "<svg" in html
    assert _canaries(lab) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_mid_round_leaves_no_canary(lab: Lab, tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        _reload(lab, tmp_path, "--allow-mutations", "--rounds", "50"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _canaries(lab):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no canary appeared"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, out + err  # 130 for SIGINT, 143 for SIGTERM
    assert f"interrupted by {sig.name}; objects it created were removed" in err
    assert "Traceback" not in err
    assert _canaries(lab) == []


def test_cleanup_removes_leftovers_of_a_killed_run(lab: Lab) -> None:
    from ingresscheck_lab import objects

    leftover = objects.ingress(
        "ingresscheck-canary-dead-1", "demo", "ingresscheck-canary-dead-1.example.test", [("/x", "Prefix", "api")]
    )
    leftover["metadata"]["labels"][LABEL] = "dead"
    lab.writer().create(leftover)
    done = subprocess.run(
        [sys.executable, "-m", "ingresscheck", "cleanup", "--profile", str(lab.layout.profile)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "removed Ingress demo/ingresscheck-canary-dead-1" in done.stdout
    assert _canaries(lab) == []


def test_run_skips_reload_without_allow_mutations(lab: Lab, tmp_path: Path) -> None:
    """Given only the reload probe and no --allow-mutations, then nothing is checked: not green (exit 2), saying
    why; with --allow-empty the skips are accepted and reported."""
    args = [
        sys.executable,
        "-m",
        "ingresscheck",
        "run",
        "--profile",
        str(lab.layout.profile),
        "--probes",
        "reload",
        "--json",
        str(tmp_path / "r.json"),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "--allow-mutations" in done.stderr, done.stderr
    done = subprocess.run([*args, "--allow-empty"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert {r["status"] for r in results} == {"skip"}
    assert "--allow-mutations" in results[0]["message"]


def test_load_targets_file_covers_every_rule(lab: Lab, tmp_path: Path) -> None:
    """Given the demo, then every rule is a locust target; auth hosts expect their 401."""
    out = tmp_path / "targets.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "load-targets",
            "--profile",
            str(lab.layout.profile),
            "-n",
            "demo",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    by_url = {t["url"]: t for t in doc["targets"]}
    assert set(by_url) == {
        "https://api.example.test/v1",
        "https://api.example.test/healthz",
        "https://api.example.test/docs",
        "https://api.example.test/v2",
        "https://www.example.test/",
        "https://shop.apps.test/",
        "https://wordpress.example.test/",
        # the demo's HTTPRoutes are routes too
        "https://app.gw.test/v1",
        "https://app.gw.test/healthz",
        "https://app.gw.test/docs",
        "https://canary.gw.test/",
    }
    assert by_url["https://wordpress.example.test/"]["expect_status"] == [401]
    assert {t["address"] for t in doc["targets"]} == {lab.layout.vip}
    assert doc["ca_bundle"] == str(lab.layout.pki / "ingress-ca.crt")
