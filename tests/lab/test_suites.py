"""The pytest suites agree with `ingresscheck run`, in parallel as in serial; they are one test per
(check, target); a broken Ingress fails exactly the tests it affects, with messages that name the
cause; and the plugin finds the cluster like kubectl, refusing to be green when nothing was checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab

from .changes import check, converge, replaced, results

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert "INTERNALERROR" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def _suites(lab: Lab, tmp: Path, *args: str) -> tuple[int, dict, ET.Element]:
    out, junit = tmp / "suites.json", tmp / "junit.xml"
    done = _pytest(
        "-q",
        "--profile",
        str(lab.layout.profile),
        "--ingress-namespace",
        "demo",
        "--ingresscheck-json",
        str(out),
        "--ingresscheck-html",
        str(tmp / "suites.html"),
        f"--junitxml={junit}",
        *args,
    )
    assert out.exists(), done.stdout[-3000:]
    return done.returncode, json.loads(out.read_text()), ET.parse(junit).getroot()


def _run(lab: Lab, tmp: Path) -> dict:
    out = tmp / "run.json"
    # reload and kafka_roundtrip change the cluster: the suites skip them without --allow-mutations, so run
    # leaves them out too
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--profile",
            str(lab.layout.profile),
            "-n",
            "demo",
            "--skip",
            "reload,kafka_roundtrip",
            "--json",
            str(out),
            "--html",
            str(tmp / "run.html"),
            "--junit",
            str(tmp / "run.xml"),
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.read_text())


def _statuses(report: dict) -> Counter:
    return Counter((r["check"], r["host"], r["status"]) for r in report["results"])


def _failed_tests(junit: ET.Element) -> set[str]:
    return {
        case.get("name", "")
        for case in junit.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    }


def test_suites_agree_with_run_and_parallel_agrees_with_serial(lab: Lab, tmp_path: Path) -> None:
    """Given a healthy lab, then run, serial suites and -n 2 suites give the same statuses."""
    run_report = _run(lab, tmp_path)
    (tmp_path / "serial").mkdir()
    (tmp_path / "parallel").mkdir()
    code_serial, serial, junit = _suites(lab, tmp_path / "serial")
    code_parallel, parallel, _ = _suites(lab, tmp_path / "parallel", "-n", "2")
    assert code_serial == 0 and code_parallel == 0
    assert _failed_tests(junit) == set()
    names = {case.get("name", "") for case in junit.iter("testcase")}
    assert "tls.expiry[demo/shop/shop.apps.test]" in names and "static.endpoints[cluster]" in names
    # exposure is cluster-wide: the suites see the same Services as run with -n demo
    assert _statuses(serial) == _statuses(parallel)
    assert _statuses(serial) == _statuses(run_report)
    warned = {(c, h) for c, h, s in _statuses(serial) if s == "warn"}
    assert {c for c, _ in warned} == {"dns.wildcard"}


def test_a_broken_ingress_fails_exactly_the_affected_tests(lab: Lab, tmp_path: Path) -> None:
    """Given api-docs with no endpoints, then only routing and static of api.example.test fail, naming it."""
    empty = objects.service_with_pods("api-docs", "demo", [], 8080)[1]
    with replaced(lab, empty):
        converge(
            lambda: check(lab, ["dns", "routing"]),
            lambda rep: any(r.status.value == "fail" for r in results(rep, "routing.backend")),
        )
        code, _, junit = _suites(lab, tmp_path, "-n", "2")
    assert code == 1
    # (other hosts' verdicts do not depend on api-docs; they are compared with run in the test above)
    affected = {t for t in _failed_tests(junit) if "api.example.test" in t or t.endswith("[cluster]")}
    # app.gw.test's HTTPRoute sends /docs to api-docs too: the Gateway API check sees it; so does Envoy Gateway's
    # parity twin of the api Ingress when that data plane runs (checked at its own Gateway, 127.0.0.30)
    twin = lab.writer().get({"kind": "HTTPRoute", "metadata": {"namespace": "demo", "name": "parity-eg-api"}})
    assert affected == {
        "routing.backend[demo/api/api.example.test]",
        "static.endpoints[cluster]",
        "gateway.backend_endpoints[cluster]",
        *(["routing.backend[demo/parity-eg-api/api.example.test]"] if twin else []),
    }
    messages = " ".join(
        case.find("failure").get("message", "") + (case.find("failure").text or "")
        for case in junit.iter("testcase")
        if case.find("failure") is not None
    )
    assert "Service demo/api-docs has 0 ready endpoints" in messages


def test_the_cluster_is_found_like_kubectl_and_an_empty_scope_is_an_error(lab: Lab, tmp_path: Path) -> None:
    """Given only $KUBECONFIG (no --kubeconfig, no --profile), then the suites find the lab and run its
    static checks (not 'no cluster given' skips); given a namespace without Ingress, then a collection
    error naming it (exit 2); given no kubeconfig at all, then an error too, never a green run."""
    env = {**os.environ, "KUBECONFIG": str(lab.layout.kubeconfig)}
    found = _pytest("-q", "--ingress-namespace", "demo", "-m", "static", "-rA", env=env)
    assert found.returncode == 0, found.stdout[-3000:]
    assert "PASSED suites/test_checks.py::static.backend_service[cluster]" in found.stdout, found.stdout[-3000:]
    empty = _pytest("-q", "--ingress-namespace", "shop", env=env)
    assert empty.returncode == 2, empty.stdout[-3000:]
    assert "nothing matched: no Ingress in namespace shop, context lab" in empty.stdout, empty.stdout[-3000:]
    # the hint names the plugin's options, in one line without chained-exception noise (issue 26)
    assert "--ingress-namespace/--ingress-selector/--kube-context" in empty.stdout, empty.stdout[-3000:]
    assert "During handling" not in empty.stdout, empty.stdout[-3000:]
    allowed = _pytest("-q", "--ingress-namespace", "shop", "--allow-empty", "-m", "static", env=env)
    assert allowed.returncode in (0, 5), allowed.stdout[-3000:]
    nothing = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    none = _pytest("-q", env={**nothing, "HOME": str(tmp_path)})
    assert none.returncode != 0 and "no kubeconfig found" in none.stdout, none.stdout[-3000:]


def test_every_check_skipped_is_not_green(lab: Lab) -> None:
    """Given only the mutating reload checks selected without --allow-mutations, then pytest exits 5 and
    says nothing was checked."""
    done = _pytest("-q", "--profile", str(lab.layout.profile), "-m", "reload")
    assert done.returncode == 5, done.stdout[-3000:]
    assert "nothing was checked" in done.stdout
