"""Everyday use on the real lab (issue 26): two runs of the same lab give the same result identities (diff,
JUnit history and Prometheus series match on them), and a host that disappears is a failure when asked."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from ingresscheck_lab.lab import Lab

from .changes import replaced

ROOT = Path(__file__).resolve().parents[2]
DEMO_HOSTS = ["wordpress.example.test", "api.example.test", "shop.apps.test"]


def _ic(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "ingresscheck", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _run(profile: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = _ic("run", "--profile", str(profile), "--no-progress", "--json", str(out), *extra)
    return done.returncode, json.loads(out.read_text())


def _identities(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["check"], r["host"] or "", r["subject"] or "") for r in report["results"]}


def _testcases(junit: Path) -> list[str]:
    return sorted(tc.get("name", "") for tc in ET.parse(junit).getroot().iter("testcase"))


def _series(prom: Path) -> set[str]:
    """The label sets of every check status series (the value aside)."""
    lines = prom.read_text().splitlines()
    return {line.rsplit(" ", 1)[0] for line in lines if line.startswith("ingresscheck_check_status{")}


def test_two_runs_of_the_same_lab_give_the_same_identities_test_names_and_series(lab: Lab, tmp_path: Path) -> None:
    """Given the lab unchanged, when `run` runs twice over every namespace, then both runs report the same set of
    (check, host, subject), the same JUnit test names and the same Prometheus series, and diff sees no change."""
    runs = []
    for n in (1, 2):
        junit, prom = tmp_path / f"{n}.xml", tmp_path / f"{n}.prom"
        code, doc = _run(lab.layout.profile, tmp_path / f"{n}.json", "--junit", str(junit), "--prometheus", str(prom))
        assert code in (0, 1)
        runs.append((doc, _testcases(junit), _series(prom)))
    (first, names1, series1), (second, names2, series2) = runs
    assert len(_identities(first)) > 100  # the whole lab: every probe, every host
    assert _identities(first) == _identities(second)
    assert names1 == names2 and len(set(names1)) == len(names1)
    assert series1 == series2
    # every derived path a request was sent to carries its nonce in the evidence, never in the subject; rules left
    # to other checks (canary Ingresses, redirect annotations) are skipped without a request, so without a nonce
    path_types = [r for r in first["results"] if r["check"] == "routing.path_type" and r["status"] != "skip"]
    assert path_types and all("<nonce>" in r["subject"] and r["evidence"]["nonce"] for r in path_types)
    same = _ic("diff", str(tmp_path / "1.json"), str(tmp_path / "2.json"), "--fail-on", "removed", "-o", "json")
    assert same.returncode == 0, same.stdout
    d = json.loads(same.stdout)
    assert not d["new_failures"] and not d["vanished"] and not d["hosts_removed"] and not d["other_changes"]


def test_a_renamed_host_fails_hosts_expected_and_diff_fail_on_removed(lab: Lab, tmp_path: Path) -> None:
    """Given a profile expecting the demo's hosts, when the api Ingress's host is renamed to a typo, then run
    fails hosts.expected naming api.example.test (and the typo), and diff --fail-on removed exits 1 (0 without)."""
    profile = tmp_path / "profile.yaml"
    doc = yaml.safe_load(lab.layout.profile.read_text())  # its paths are absolute
    profile.write_text(yaml.safe_dump({**doc, "hosts": DEMO_HOSTS}))
    code, before = _run(profile, tmp_path / "before.json", "-n", "demo")
    expected = {r["host"]: r for r in before["results"] if r["check"] == "hosts.expected"}
    assert {h: r["status"] for h, r in expected.items()} == dict.fromkeys(DEMO_HOSTS, "pass")
    api = lab.writer().get(
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "api", "namespace": "demo"}}
    )
    assert api is not None
    typo = copy.deepcopy(api)
    typo.pop("status", None)
    for rule in typo["spec"]["rules"]:
        if rule.get("host") == "api.example.test":
            rule["host"] = "aip.example.test"
    # the host's HTTPRoute twins (Envoy Gateway's parity routes, left by an earlier start of the second data
    # plane such as the README's parity block) get the same typo: the host is then served by nothing at all
    twins = []
    for route in lab.writer().list("HTTPRoute", "demo"):
        if "api.example.test" in (route["spec"].get("hostnames") or []):
            twin = copy.deepcopy(route)
            twin.pop("status", None)
            twin["spec"]["hostnames"] = [h.replace("api.", "aip.") for h in twin["spec"]["hostnames"]]
            twins.append(twin)
    with ExitStack() as changes:
        for obj in (typo, *twins):
            changes.enter_context(replaced(lab, obj))
        code, after = _run(profile, tmp_path / "after.json", "-n", "demo")
    assert code == 1
    [gone] = [r for r in after["results"] if r["check"] == "hosts.expected" and r["host"] == "api.example.test"]
    assert gone["status"] == "fail" and "aip.example.test" in gone["message"], gone["message"]
    plain = _ic("diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"))
    strict = _ic("diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--fail-on", "removed")
    assert "api.example.test" in strict.stdout and strict.returncode == 1
    assert plain.returncode == 1  # hosts.expected failing is a new failure already; without hosts: see below
    no_hosts = [r for r in before["results"] if r["check"] != "hosts.expected"]
    (tmp_path / "b2.json").write_text(json.dumps({**before, "results": no_hosts}))
    (tmp_path / "a2.json").write_text(
        json.dumps({**after, "results": [r for r in after["results"] if r["check"] != "hosts.expected"]})
    )
    assert _ic("diff", str(tmp_path / "b2.json"), str(tmp_path / "a2.json")).returncode == 0
    assert _ic("diff", str(tmp_path / "b2.json"), str(tmp_path / "a2.json"), "--fail-on", "removed").returncode == 1
