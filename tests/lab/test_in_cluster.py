"""deploy/cronjob/ against the lab's real kube-apiserver: every manifest passes a server-side dry run,
and the ClusterRole is enough: `ingresscheck run --in-cluster` with a service-account token bound to
exactly that role gives the same verdicts as the admin, while an unbound token is refused (exit 2).

The lab has no kubelet to mount a token into a pod, so the test does what the kubelet does: it asks
the apiserver for a bound token (TokenRequest) and writes it, with the cluster CA, into a directory
that stands for /var/run/secrets/kubernetes.io/serviceaccount.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from ingresscheck import kube
from ingresscheck.cli import main
from ingresscheck.kube import Resources
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
CRONJOB = ROOT / "deploy" / "cronjob"
NS = objects.DEMO_NS  # the lab has no namespace controller: namespaced objects go to an existing one
SUFFIX = "-it"

PATHS: dict[str, tuple[str, str, bool]] = {  # kind -> (prefix, plural, namespaced)
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "CronJob": ("/apis/batch/v1", "cronjobs", True),
}


def _documents() -> list[Obj]:
    return [d for p in sorted(CRONJOB.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]


def _path(obj: Obj, *, named: bool) -> str:
    prefix, plural, namespaced = PATHS[obj["kind"]]
    assert obj["apiVersion"] == prefix.removeprefix("/apis/").removeprefix("/api/"), obj["apiVersion"]
    meta = obj["metadata"]
    path = prefix + (f"/namespaces/{meta['namespace']}" if namespaced else "") + f"/{plural}"
    return path + (f"/{meta['name']}" if named else "")


def _moved(obj: Obj) -> Obj:
    """The object under a test name, namespaced objects in the lab's namespace, bindings following."""
    out = copy.deepcopy(obj)
    out["metadata"]["name"] += SUFFIX
    if PATHS[out["kind"]][2]:
        out["metadata"]["namespace"] = NS
    if out["kind"] == "ClusterRoleBinding":
        out["roleRef"]["name"] += SUFFIX
        for subject in out["subjects"]:
            subject["name"] += SUFFIX
            subject["namespace"] = NS
    return out


def test_the_recipe_has_what_a_cronjob_needs() -> None:
    kinds = sorted(d["kind"] for d in _documents())
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob", "Namespace", "ServiceAccount"]
    (role,) = [d for d in _documents() if d["kind"] == "ClusterRole"]
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert verbs == {"list", "get"}, "read-only, and no watch"
    secrets = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert [r["verbs"] for r in secrets] == [["get"]], "Secrets are read by name, never listed"
    (job,) = [d for d in _documents() if d["kind"] == "CronJob"]
    args = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--in-cluster" in args and any(a.startswith("--pushgateway=") for a in args)
    assert (CRONJOB / "Containerfile").is_file()


@pytest.mark.parametrize("obj", _documents(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_manifest_passes_a_server_side_dry_run(lab: Lab, obj: Obj) -> None:
    """Given a manifest of the recipe, when dry-run created (strict field validation), then the
    apiserver accepts it and stores nothing."""
    res = lab.writer()
    sent = _moved(obj)
    query = urlencode({"dryRun": "All", "fieldValidation": "Strict"})
    got = res._call("POST", f"{_path(sent, named=False)}?{query}", sent)
    assert (got["kind"], got["metadata"]["name"]) == (sent["kind"], sent["metadata"]["name"])
    with pytest.raises(ApiException) as missing:
        res._call("GET", _path(sent, named=True))
    assert missing.value.status == 404


def _token(res: Resources, account: str) -> str:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 900}}
    answer = res._call("POST", f"/api/v1/namespaces/{NS}/serviceaccounts/{account}/token", request)
    token: str = answer["status"]["token"]
    return token


@pytest.fixture
def reader(lab: Lab) -> Iterator[tuple[str, str]]:
    """The recipe's ServiceAccount, ClusterRole and binding, created for real; plus an unbound account.
    Yields (bound token, unbound token); everything is deleted afterwards."""
    res = lab.writer()
    docs = {
        d["kind"]: _moved(d)
        for d in _documents()
        if d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    }
    unbound = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "ingresscheck-unbound", "namespace": NS},
    }
    created: list[Obj] = []
    try:
        for obj in (*docs.values(), unbound):
            res._call("POST", _path(obj, named=False), obj)
            created.append(obj)
        yield _token(res, docs["ServiceAccount"]["metadata"]["name"]), _token(res, "ingresscheck-unbound")
    finally:
        for obj in reversed(created):
            try:
                res._call("DELETE", _path(obj, named=True))
            except ApiException as exc:
                if exc.status != 404:
                    raise


def _mount(lab: Lab, directory: Path, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the kubelet gives a pod: the token and CA files, and the service's address in the environment."""
    directory.mkdir()
    (directory / "token").write_text(token)
    (directory / "ca.crt").write_bytes((lab.layout.pki / "cluster-ca.crt").read_bytes())
    server = urlsplit(lab.layout.apiserver_url)
    monkeypatch.setattr(kube, "SERVICE_ACCOUNT_DIR", directory)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", server.hostname or "")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port or 443))


def _verdicts(report: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(r["check"], r["host"] or "", r.get("subject") or "", r["status"]) for r in report["results"]}


def test_cluster_role_is_enough_for_the_same_verdicts_as_the_admin(
    lab: Lab,
    reader: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Given a token bound to exactly the recipe's ClusterRole, when ingresscheck runs --in-cluster,
    then every verdict equals the admin's; given an unbound token, then the run is refused in one line."""
    bound, unbound = reader

    def as_admin(name: str) -> dict[str, Any]:
        out = tmp_path / name
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ingresscheck",
                "run",
                "--profile",
                str(lab.layout.profile),
                "-n",
                NS,
                "--no-progress",
                "--json",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )
        assert done.returncode in (0, 1), done.stderr
        report: dict[str, Any] = json.loads(out.read_text())
        return report

    before = as_admin("admin-before.json")
    _mount(lab, tmp_path / "sa", bound, monkeypatch)
    readers: list[dict[str, Any]] = []

    def as_reader() -> dict[str, Any]:
        out = tmp_path / f"reader-{len(readers)}.json"
        code = main(
            ["run", "--in-cluster", "--profile", str(lab.layout.profile), "-n", NS, "--no-progress", "--json", str(out)]
        )
        assert code in (0, 1), capsys.readouterr().err
        readers.append(json.loads(out.read_text()))
        return readers[-1]

    mine = as_reader()
    after = as_admin("admin-after.json")
    assert mine["cluster"]["context"] == "in-cluster"
    # the same verdicts: every one the admin gave in both of its runs, and nothing the admin did not
    # judge. A verdict that flips from run to run (a weighted canary route answers from either backend)
    # is the lab's randomness, not a matter of rights: up to two more reader runs may give it.
    stable = _verdicts(before) & _verdicts(after)
    assert stable, "the admin runs agree on nothing"
    while not stable <= set().union(*map(_verdicts, readers)) and len(readers) < 3:
        as_reader()
    seen = set().union(*map(_verdicts, readers))
    assert stable <= seen, sorted(stable - seen)
    assert {v[:3] for v in _verdicts(mine)} == {v[:3] for v in _verdicts(before)}
    assert not [r["message"] for r in mine["results"] if "forbidden" in r["message"].lower()]
    capsys.readouterr()

    _mount(lab, tmp_path / "sa-unbound", unbound, monkeypatch)
    code = main(
        ["run", "--in-cluster", "--profile", str(lab.layout.profile), "-n", NS, "--no-progress", "--no-reports"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "forbidden" in err.lower() and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_service_proxy_fallback_says_why_the_api_server_gave_no_answer(
    lab: Lab, reader: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the API server's service proxy as the last way to a Service's own answer (routing.backend, for
    backends that do not say who they are), then each way it can give none is its own one-line reason, from
    the real API server, never an exception: the recipe's ClusterRole does not grant services/proxy (403);
    the admin may, but the lab's Endpoints cannot hold loopback pod addresses, so nothing is proxied (404);
    an API server that is not there is unreachable, the refusal named."""
    bound, _ = reader
    admin = kube.connect(lab.layout.kubeconfig)
    nothing = kube.service_proxy_get(admin, NS, "site", "http", "/", 5)
    assert isinstance(nothing, str) and f"no answer from {NS}/site (HTTP 404" in nothing

    _mount(lab, tmp_path / "sa", bound, monkeypatch)
    as_reader = kube.connect(kube.IN_CLUSTER)
    forbidden = kube.service_proxy_get(as_reader, NS, "site", "http", "/", 5)
    assert isinstance(forbidden, str) and f"may not get services/proxy in namespace {NS} (HTTP 403" in forbidden

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(closed))
    gone = kube.service_proxy_get(kube.connect(kube.IN_CLUSTER), NS, "site", "http", "/", 5)
    assert isinstance(gone, str)
    assert f"the API server's service proxy for {NS}/site: unreachable: cannot connect: connection refused" in gone
