"""The pytest suites agree with `ingresscheck run`, in parallel as in serial, and a broken Ingress
fails exactly the tests it affects, with messages that name the cause."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from ingresscheck.lab import objects
from ingresscheck.lab.lab import Lab

from .changes import check, converge, replaced, results

ROOT = Path(__file__).resolve().parents[2]


def _suites(lab: Lab, tmp: Path, *args: str) -> tuple[int, dict, ET.Element]:
    out, junit = tmp / "suites.json", tmp / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q",
                           "--profile", str(lab.layout.profile), "--ingress-namespace", "demo",
                           "--ingresscheck-json", str(out), "--ingresscheck-html", str(tmp / "suites.html"),
                           f"--junitxml={junit}", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "INTERNALERROR" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.returncode, json.loads(out.read_text()), ET.parse(junit).getroot()


def _run(lab: Lab, tmp: Path) -> dict:
    out = tmp / "run.json"
    # reload changes the cluster: the suites skip it without --allow-mutations, so run leaves it out too
    subprocess.run([sys.executable, "-m", "ingresscheck", "run", "--profile", str(lab.layout.profile), "-n", "demo",
                    "--skip", "reload",
                    "--json", str(out), "--html", str(tmp / "run.html"), "--junit", str(tmp / "run.xml"),
                    "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return json.loads(out.read_text())


def _statuses(report: dict) -> Counter:
    return Counter((r["check"], r["host"], r["status"]) for r in report["results"])


def _failed_tests(junit: ET.Element) -> set[str]:
    return {case.get("name", "") for case in junit.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None}


def test_suites_agree_with_run_and_parallel_agrees_with_serial(lab: Lab, tmp_path: Path) -> None:
    """Given a healthy lab, then run, serial suites and -n 2 suites give the same statuses."""
    run_report = _run(lab, tmp_path)
    (tmp_path / "serial").mkdir()
    (tmp_path / "parallel").mkdir()
    code_serial, serial, junit = _suites(lab, tmp_path / "serial")
    code_parallel, parallel, _ = _suites(lab, tmp_path / "parallel", "-n", "2")
    assert code_serial == 0 and code_parallel == 0
    assert _failed_tests(junit) == set()
    # exposure is cluster-wide: the suites see the same Services as run with -n demo
    assert _statuses(serial) == _statuses(parallel)
    assert _statuses(serial) == _statuses(run_report)
    warned = {(c, h) for c, h, s in _statuses(serial) if s == "warn"}
    assert {c for c, _ in warned} == {"dns.wildcard"}


def test_a_broken_ingress_fails_exactly_the_affected_tests(lab: Lab, tmp_path: Path) -> None:
    """Given api-docs with no endpoints, then only routing and static of api.example.test fail, naming it."""
    empty = objects.service_with_pods("api-docs", "demo", [], 8080)[1]
    with replaced(lab, empty):
        converge(lambda: check(lab, ["dns", "routing"]), lambda rep: any(
            r.status.value == "fail" for r in results(rep, "routing.backend")))
        code, _, junit = _suites(lab, tmp_path, "-n", "2")
    assert code == 1
    assert _failed_tests(junit) == {"test_routing[demo/api/api.example.test]", "test_static[demo/api/api.example.test]"}
    messages = " ".join(case.find("failure").get("message", "") + (case.find("failure").text or "")
                        for case in junit.iter("testcase") if case.find("failure") is not None)
    assert "Service demo/api-docs has 0 ready endpoints" in messages
