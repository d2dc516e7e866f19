"""Broken Kubernetes side, on the real lab: the API server stopped or frozen, tokens with too few rights.
Each is one classified line (exit 2) naming the server or the verb and resource, or, for a Secret
the token may not read, an `error` of the checks that needed it: forbidden is never "does not exist"."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingresscheck_lab.lab import Lab

from ._helpers import (
    assert_no_traceback,
    assert_one_line_exit_2,
    frozen,
    lab_run_args,
    record,
    run_cli,
    stopped,
    token_kubeconfig,
)

pytestmark = pytest.mark.lab

READ = ["get", "list", "watch"]
# everything discovery reads, except Secrets
NO_SECRETS = [
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"], "verbs": READ},
    {"apiGroups": [""], "resources": ["services", "nodes", "endpoints", "namespaces"], "verbs": READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": READ},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["*"], "verbs": READ},
]


def test_apiserver_stopped_is_unreachable_in_one_line(lab: Lab, tmp_path: Path) -> None:
    with stopped(lab, "kube-apiserver"):
        run = run_cli(*lab_run_args(lab, tmp_path), timeout=30)
    line = assert_one_line_exit_2(run, f"API server {lab.layout.apiserver_url}", "unreachable", "connection refused")
    assert run.seconds < 15
    record("kube-apiserver stopped", run, line[14:110])


@pytest.mark.timeout(90)
def test_apiserver_frozen_times_out_in_one_line(lab: Lab, tmp_path: Path) -> None:
    """SIGSTOP: the kernel still accepts the connection, nothing answers; the reachability call is bounded (5 s)."""
    with frozen(lab, "kube-apiserver"):
        run = run_cli(*lab_run_args(lab, tmp_path), timeout=40)
    line = assert_one_line_exit_2(run, f"API server {lab.layout.apiserver_url}", "did not answer", "timed out")
    assert run.seconds < 20
    record("kube-apiserver frozen (SIGSTOP)", run, line[14:110])


def test_token_that_may_only_list_namespaces(lab: Lab, tmp_path: Path) -> None:
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]
    with token_kubeconfig(lab, tmp_path, "ic-fault-ns-only", rules) as kc:
        run = run_cli(*lab_run_args(lab, tmp_path, "--kubeconfig", str(kc)), timeout=30)
    line = assert_one_line_exit_2(run, "list ingresses.networking.k8s.io", "forbidden", "cannot list resource")
    record("token allowed only to list namespaces", run, line[14:110])


def test_token_without_secret_access_is_an_error_of_the_static_check_not_a_missing_secret(
    lab: Lab, tmp_path: Path
) -> None:
    with token_kubeconfig(lab, tmp_path, "ic-fault-no-secrets", NO_SECRETS) as kc:
        run = run_cli(
            *lab_run_args(lab, tmp_path, "--kubeconfig", str(kc), "-n", "demo", "--probes", "static"),
            json_report=tmp_path / "report.json",
            timeout=60,
        )
    assert_no_traceback(run)
    assert run.code == 1, run.stderr
    tls = run.one("static.tls_secret", "shop.apps.test")
    assert tls["status"] == "error", tls
    assert "does not exist" not in tls["message"]
    assert "may not get secrets in namespace demo" in tls["message"] and "HTTP 403" in tls["message"], tls
    record(
        "token without Secret access (static.tls_secret)",
        run,
        f"static.tls_secret {tls['status']}: " + tls["message"][:80],
    )


def test_token_without_secret_access_auth_secret_is_an_error_too(lab: Lab, tmp_path: Path) -> None:
    """auth.secret (probe auth_config, engine v2) should use Inventory.secret_unreadable() the same way."""
    with token_kubeconfig(lab, tmp_path, "ic-fault-no-secrets-auth", NO_SECRETS) as kc:
        run = run_cli(
            *lab_run_args(
                lab, tmp_path, "--kubeconfig", str(kc), "-n", "demo", "--probes", "auth_config", "--timeout", "3"
            ),
            json_report=tmp_path / "report.json",
            timeout=90,
        )
    assert_no_traceback(run)
    secret = run.one("auth.secret", "wordpress.example.test")
    record(
        "token without Secret access (auth.secret)", run, f"auth.secret {secret['status']}: " + secret["message"][:80]
    )
    assert secret["status"] == "error", secret
    assert "get secrets" in secret["message"] and "403" in secret["message"], secret
