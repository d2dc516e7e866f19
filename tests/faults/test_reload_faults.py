"""reload against a hostile environment, on the real lab: a canary domain that does not resolve or is no
domain at all, a token that may not create canaries, a token that loses the right to delete them in the
middle of the campaign, and two campaigns at once. Each is one classified line (exit 2) before anything
is created, or classified errors naming the canaries left, never "ingresscheck defect"."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingresscheck.reload.canary import LABEL
from ingresscheck_lab.lab import Lab

from ._helpers import ROOT, assert_no_traceback, assert_one_line_exit_2, record, run_cli, token_kubeconfig

pytestmark = pytest.mark.lab

READ = ["get", "list", "watch"]
DISCOVERY = [
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"], "verbs": READ},
    {"apiGroups": [""], "resources": ["services", "nodes", "endpoints", "namespaces", "secrets"], "verbs": READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["*"], "verbs": READ},
]
CHANGE = {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["create", "patch"]}
DELETE = {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["delete"]}


def _reload(lab: Lab, tmp_path: Path, *flags: str, kubeconfig: Path | None = None) -> list[str]:
    return [
        "reload", "--profile", str(lab.layout.profile), "--allow-mutations", "--no-progress",
        "--reports-dir", str(tmp_path), "--json", str(tmp_path / "report.json"),
        *(("--kubeconfig", str(kubeconfig)) if kubeconfig else ()), *flags,
    ]  # fmt: skip


def _canaries(lab: Lab) -> list[str]:
    return sorted(i["metadata"]["name"] for i in lab.writer().list("Ingress", label_selector=LABEL))


def _remove_canaries(lab: Lab) -> None:
    for name in _canaries(lab):
        lab.writer().delete({"kind": "Ingress", "metadata": {"namespace": "demo", "name": name}})


@pytest.mark.parametrize(
    "domain, needle",
    [("nowhere.invalid", "do not resolve"), ("bad domain", "is not a DNS domain")],
    ids=["does not resolve", "not a domain"],
)
def test_a_canary_domain_that_cannot_work_is_one_line_before_any_canary(
    lab: Lab, tmp_path: Path, domain: str, needle: str
) -> None:
    """Given --domain whose names do not resolve (or no domain at all), when reload starts, then it exits 2
    naming the domain and the cause at once (it waited 184 s per round and blamed the data plane)."""
    run = run_cli(*_reload(lab, tmp_path, "--rounds", "10", "--domain", domain), timeout=30)
    line = assert_one_line_exit_2(run, needle, domain)
    record(f"reload --domain {domain!r}", run, line[:90])
    assert _canaries(lab) == []
    assert run.seconds < 15


def test_run_with_a_profile_domain_that_does_not_resolve_errors_before_the_first_round(
    lab: Lab, tmp_path: Path
) -> None:
    """Given a profile whose reload.domain does not resolve, when `run --allow-mutations` runs reload, then
    reload.propagation is an error naming the domain, within seconds, and no canary is created."""
    profile = yaml.safe_load(lab.layout.profile.read_text())
    profile["reload"] = {"domain": "nowhere.invalid"}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    run = run_cli(
        "run", "--profile", str(path), "--allow-mutations", "--probes", "reload", "--no-progress",
        "--reports-dir", str(tmp_path), "--json", str(tmp_path / "report.json"),
        json_report=tmp_path / "report.json", timeout=40,
    )  # fmt: skip
    assert_no_traceback(run)
    prop = run.one("reload.propagation")
    record(
        "profile reload.domain does not resolve", run, f"reload.propagation {prop['status']}: {prop['message'][:60]}"
    )
    assert prop["status"] == "error" and "nowhere.invalid" in prop["message"], prop
    assert "do not resolve" in prop["message"] and "defect" not in prop["message"], prop
    assert run.one("reload.cleanup")["status"] == "pass"
    assert run.seconds < 30


def test_a_token_that_may_not_create_ingresses_is_one_line_naming_the_verb(lab: Lab, tmp_path: Path) -> None:
    """Given a token that may read everything but create no Ingress, when reload starts, then exit 2 with
    one line naming the verb, the resource and the namespace (it was a 'defect' error per check)."""
    with token_kubeconfig(lab, tmp_path, "fault-reload-readonly", DISCOVERY) as kubeconfig:
        run = run_cli(*_reload(lab, tmp_path, "--rounds", "3", kubeconfig=kubeconfig), timeout=40)
    line = assert_one_line_exit_2(run, "may not create ingresses.networking.k8s.io", "forbidden")
    record("reload token may not create Ingresses", run, line[:90])
    assert _canaries(lab) == []


@pytest.mark.timeout(120)
def test_the_right_to_delete_revoked_mid_campaign_names_the_canary_left(lab: Lab, tmp_path: Path) -> None:
    """Given a token that may create, change and delete canaries, when its delete right is revoked in the
    middle of the campaign, then the rounds stop with a classified refusal (forbidden), reload.cleanup fails
    naming the canary left and says `ingresscheck cleanup`, and nothing is an 'ingresscheck defect'."""
    res = lab.writer()
    with token_kubeconfig(lab, tmp_path, "fault-reload-revoked", [*DISCOVERY, CHANGE]) as kubeconfig:
        name = "fault-reload-revoked-delete"
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
                "rules": [DELETE]}  # fmt: skip
        binding: dict[str, Any] = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": "fault-reload-revoked", "namespace": "default"}],
        }
        res.create(role, exist_ok=True)
        res.create(binding, exist_ok=True)
        time.sleep(1.5)  # the authorizer's cache sees the new binding
        argv = [sys.executable, "-m", "ingresscheck", *_reload(lab, tmp_path, "--rounds", "20", "--rate", "10",
                                                               kubeconfig=kubeconfig)]  # fmt: skip
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 40
            while not _canaries(lab):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "no canary within 40 s"
                time.sleep(0.05)
            res.delete(binding)  # the token may no longer delete: this round's delete is refused
            out, err = proc.communicate(timeout=70)
            left = _canaries(lab)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            res.delete(binding)
            res.delete(role)
            _remove_canaries(lab)
    assert "Traceback (most recent call last)" not in out + err, err[-3000:]
    import json

    report = json.loads((tmp_path / "report.json").read_text())
    by_check = {r["check"]: r for r in report["results"]}
    prop, cleanup = by_check["reload.propagation"], by_check["reload.cleanup"]
    record("delete right revoked mid-reload", _Fake(proc.returncode), f"reload.cleanup {cleanup['status']}: "
           f"{cleanup['message'][:60]}")  # fmt: skip
    assert all("defect" not in r["message"] for r in report["results"]), report["results"]
    assert prop["status"] == "error" and "forbidden" in prop["message"] and "delete" in prop["message"], prop
    assert left, "the token could not delete its canary, so one must be left"
    assert cleanup["status"] == "fail" and "ingresscheck cleanup" in cleanup["message"], cleanup
    for canary in left:
        assert f"demo/{canary}" in cleanup["message"], (canary, cleanup)


class _Fake:
    """record() for a run that was not started through run_cli."""

    def __init__(self, code: int) -> None:
        self.code, self.seconds = code, 0.0


@pytest.mark.timeout(150)
def test_two_campaigns_at_once_ignore_each_others_canaries(lab: Lab, tmp_path: Path) -> None:
    """Given a reload campaign under way, when a second campaign runs meanwhile, then the second neither
    probes the first's canary as an existing route (reload.traffic failed) nor counts it as its own leftover
    (reload.cleanup): canaries are per campaign."""
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    argv = [sys.executable, "-m", "ingresscheck", *_reload(lab, first_dir, "--rounds", "30", "--rate", "5")]
    first = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 40
        while not _canaries(lab):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no canary of the first campaign within 40 s"
            time.sleep(0.05)
        second = run_cli(*_reload(lab, tmp_path, "--rounds", "2", "--rate", "20"),
                         json_report=tmp_path / "report.json", timeout=90)  # fmt: skip
        first_running = first.poll() is None
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGINT)
            try:
                first.wait(30)
            except subprocess.TimeoutExpired:
                first.kill()
                first.wait()
        _remove_canaries(lab)
    assert_no_traceback(second)
    traffic, cleanup = second.one("reload.traffic"), second.one("reload.cleanup")
    record("two reload campaigns at once", second, f"reload.traffic {traffic['status']}, cleanup {cleanup['status']}")
    assert first_running, "the first campaign ended before the second did: nothing overlapped"
    assert traffic["status"] == "pass", traffic
    assert not any("ingresscheck-canary" in route for route in traffic["evidence"]["routes"]), traffic
    assert cleanup["status"] == "pass", cleanup
    assert second.code == 0, second.stderr[-2000:]


@pytest.mark.timeout(150)
def test_an_api_server_that_hangs_mid_campaign_is_a_timeout_naming_the_canary_left(lab: Lab, tmp_path: Path) -> None:
    """Given a campaign under way, when the API server stops answering (SIGSTOP: connections accepted, never
    answered), then the rounds stop with a classified timeout, the delete that could not happen leaves the
    canary named in reload.cleanup with `ingresscheck cleanup`, and nothing is an 'ingresscheck defect'."""
    import json

    from ._helpers import frozen

    argv = [sys.executable, "-m", "ingresscheck", *_reload(lab, tmp_path, "--rounds", "20", "--rate", "5")]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 40
        while not _canaries(lab):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no canary within 40 s"
            time.sleep(0.05)
        with frozen(lab, "kube-apiserver"):
            try:
                out, err = proc.communicate(timeout=100)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        left = _canaries(lab)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _remove_canaries(lab)
    assert "Traceback (most recent call last)" not in out + err, err[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    by_check = {r["check"]: r for r in report["results"]}
    prop, cleanup = by_check["reload.propagation"], by_check["reload.cleanup"]
    record("API server hangs mid-reload", _Fake(proc.returncode), f"reload.cleanup {cleanup['status']}: "
           f"{cleanup['message'][:60]}")  # fmt: skip
    assert all("defect" not in r["message"] for r in report["results"]), report["results"]
    assert prop["status"] == "error" and "timeout" in prop["message"], prop
    assert left, "the API server hung before the canary's delete"
    assert cleanup["status"] == "fail" and "ingresscheck cleanup" in cleanup["message"], cleanup
    for canary in left:
        assert f"demo/{canary}" in cleanup["message"], (canary, cleanup)
