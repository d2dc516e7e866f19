"""`ingresscheck run` against the lab: healthy is exit 0 with only the wildcard warning; each
deliberately broken piece is exit 1 with the right check failing; the lab is restored after."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.render import LbFaults

ROOT = Path(__file__).resolve().parents[2]


def run(lab: Lab, tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    out = tmp_path / "r.json"
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
            "--json",
            str(out),
            "--html",
            str(tmp_path / "r.html"),
            "--junit",
            str(tmp_path / "r.xml"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(out.read_text()), done.stdout + done.stderr


def statuses(report: dict, status: str) -> set[tuple[str, str | None]]:
    return {(r["check"], r["host"]) for r in report["results"] if r["status"] == status}


def test_healthy_lab_passes_with_only_the_wildcard_warning(lab: Lab, tmp_path: Path) -> None:
    code, report, output = run(lab, tmp_path)
    assert code == 0, output
    assert statuses(report, "fail") == set() and statuses(report, "error") == set()
    assert {c for c, _ in statuses(report, "warn")} == {"dns.wildcard"}
    assert {h for _, h in statuses(report, "warn")} == {
        "api.example.test",
        "wordpress.example.test",
        "www.example.test",
    }
    probes = {r["probe"] for r in report["results"]}
    assert {"dns", "redirect"} <= probes
    assert "shop.apps.test" in {h for _, h in statuses(report, "pass")}


def test_backends_are_known_by_membership_and_by_comparison(lab: Lab, tmp_path: Path) -> None:
    """Given api-v2 (a second Service over the api pods, which say they serve "api") and www.example.test (a
    static site that says nothing about itself), then both pass: by endpoint membership, by comparison."""
    code, report, output = run(lab, tmp_path, "--probes", "dns,tls,routing")
    backend = {
        (r["host"], (r["subject"] or "").split(" ")[0]): r for r in report["results"] if r["check"] == "routing.backend"
    }
    shared = backend[("api.example.test", "/v2")]
    assert shared["status"] == "pass", shared["message"]
    assert "a ready endpoint of demo/api-v2" in shared["message"] and "it says it serves api" in shared["message"]
    site = backend[("www.example.test", "/")]
    assert site["status"] == "pass", site["message"]
    assert site["evidence"]["identified_by"] == "comparison" and "site-0" in site["message"]


@pytest.fixture
def ghost_ingress(lab: Lab) -> Iterator[None]:
    """An Ingress under apps.test whose host was never published in DNS."""
    ghost = objects.ingress("ghost", "demo", "ghost.apps.test", [("/", "Prefix", "shop")])
    w = lab.writer()
    w.create(ghost)
    yield
    w.delete(ghost)
    lab.sync(quiet=True)


def test_unresolvable_host_fails_dns_resolves(lab: Lab, tmp_path: Path, ghost_ingress: None) -> None:
    code, report, output = run(lab, tmp_path)
    assert code == 1
    assert ("dns.resolves", "ghost.apps.test") in statuses(report, "fail")
    assert "ghost.apps.test has an Ingress but does not resolve: ghost.apps.test does not exist (NXDOMAIN" in output
    assert ("redirect.https", "ghost.apps.test") in statuses(report, "skip")
    assert statuses(report, "fail") == {("dns.resolves", "ghost.apps.test")}


@pytest.fixture
def lb_drops_query(lab: Lab) -> Iterator[None]:
    lab.reconfigure_lb(LbFaults(redirect_drops_query=True))
    yield
    lab.reconfigure_lb()


def test_lb_redirect_dropping_the_query_fails_redirect_https(lab: Lab, tmp_path: Path, lb_drops_query: None) -> None:
    code, report, output = run(lab, tmp_path)
    assert code == 1
    failed = statuses(report, "fail")
    assert {c for c, _ in failed} == {"redirect.https"}
    assert {h for _, h in failed} == {
        "api.example.test",
        "wordpress.example.test",
        "www.example.test",
        "shop.apps.test",
    }
    msg = next(r["message"] for r in report["results"] if r["check"] == "redirect.https")
    assert msg.startswith("Location drops the query string: expected https://")
