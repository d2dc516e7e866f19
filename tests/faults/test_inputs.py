"""Broken inputs: every bad profile, manifest, kubeconfig and flag is one line naming what and where,
exit 2, no traceback, in bounded time. No lab needed: these are refused before any traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ._helpers import assert_one_line_exit_2, record, run_cli

BOUND = 15.0  # seconds: an input error is found before any network work


def _ingress(host: str = "shop.example.test", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": spec or {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [_PATH]}}]},
    }


_PATH = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}


def _manifests(tmp_path: Path, *objs: dict[str, Any], raw: str | None = None) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "app.yaml").write_text(raw if raw is not None else yaml.safe_dump_all(objs, allow_unicode=True))
    return folder


# --- the profile ------------------------------------------------------------------------------------

PROFILES = [
    (
        "profile password_env unset",
        "credentials:\n  shop.example.test: {username: u, password_env: IC_FAULT_UNSET}\n",
        "credentials.shop.example.test.password_env: environment variable IC_FAULT_UNSET is not set",
    ),
    ("profile thresholds.timeout: abc", 'thresholds: {timeout: "abc"}\n', "thresholds.timeout: expected a number"),
    ("profile credentials: [a, b]", "credentials: [a, b]\n", "credentials: expected a mapping"),
    ("profile domains: 5", "domains: 5\n", "domains: expected a list of DNS domains"),
    ("profile reload: [x]", "reload: [x]\n", "reload: expected a mapping"),
    ("profile resolve: 'a'", "resolve: a\n", "resolve: expected a list of HOST:PORT:ADDRESS, got 'a'"),
    ("profile thresholds.timeout: .nan", "thresholds: {timeout: .nan}\n", "thresholds.timeout: must be a finite"),
]


@pytest.mark.parametrize("fault, text, needle", PROFILES, ids=[p[0] for p in PROFILES])
def test_bad_profile_is_one_line_naming_the_field(tmp_path: Path, fault: str, text: str, needle: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(text)
    folder = _manifests(tmp_path, _ingress())
    run = run_cli(
        "run",
        "--profile",
        str(profile),
        "--manifests",
        str(folder),
        "--probes",
        "static,auth",
        "--no-progress",
        "--reports-dir",
        str(tmp_path),
        timeout=BOUND,
    )
    line = assert_one_line_exit_2(run, f"profile {profile}", needle)
    assert "--resolve" not in line  # a profile field is never reported as the flag
    record(fault, run, "exit 2: " + line.split(": ", 2)[-1][:70])


# --- manifests ----------------------------------------------------------------------------------------

MANIFESTS = [
    (
        "manifest Ingress without spec",
        {"spec": None},
        "spec: Invalid value: []: either `defaultBackend` or `rules` must be specified",
    ),
    (
        "manifest spec.rules: notalist",
        {"spec": {"rules": "notalist"}},
        "spec.rules: Invalid value: 'notalist': must be of type array",
    ),
    (
        "manifest uppercase host",
        {"host": "Shop.Example.Test"},
        "spec.rules[0].host: Invalid value: 'Shop.Example.Test': a lowercase RFC 1123 subdomain",
    ),
    (
        "manifest Unicode host",
        {"host": "bücher.example.test"},
        "spec.rules[0].host: Invalid value: 'bücher.example.test': a lowercase RFC 1123 subdomain",
    ),
]


@pytest.mark.parametrize("fault, change, needle", MANIFESTS, ids=[m[0] for m in MANIFESTS])
def test_manifest_the_api_would_refuse(tmp_path: Path, fault: str, change: dict[str, Any], needle: str) -> None:
    obj = _ingress(change.get("host", "shop.example.test"))
    if "spec" in change:
        if change["spec"] is None:
            obj.pop("spec")
        else:
            obj["spec"] = change["spec"]
    folder = _manifests(tmp_path, obj)
    run = run_cli("run", "--manifests", str(folder), "--no-progress", "--reports-dir", str(tmp_path), timeout=BOUND)
    line = assert_one_line_exit_2(run, "app.yaml:", "Ingress demo/web", needle)
    record(fault, run, "exit 2: " + line.split(": ", 3)[-1][:70])


def test_manifest_folder_without_ingress(tmp_path: Path) -> None:
    folder = _manifests(tmp_path, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}})
    run = run_cli("run", "--manifests", str(folder), "--no-progress", "--reports-dir", str(tmp_path), timeout=BOUND)
    line = assert_one_line_exit_2(run, "has no Ingress or HTTPRoute to check", "found: Service")
    record("manifest folder without Ingress", run, "exit 2: " + line[14:80])


# --- kubeconfig and flags -------------------------------------------------------------------------------


def test_kubeconfig_with_broken_yaml(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: [\n")
    run = run_cli("run", "--kubeconfig", str(kc), "--no-progress", "--reports-dir", str(tmp_path), timeout=BOUND)
    line = assert_one_line_exit_2(run, f"kubeconfig {kc}:", "invalid YAML")
    record("kubeconfig `clusters: [` unterminated", run, "exit 2: " + line[14:90])


FLAGS = [
    ("--timeout nan", ("--timeout", "nan"), "--timeout nan: must be a finite number of seconds > 0"),
    ("--timeout inf", ("--timeout", "inf"), "--timeout inf: must be a finite number of seconds > 0"),
    ("--probes ,", ("--probes", ","), "--probes ','"),
]


@pytest.mark.parametrize("fault, flags, needle", FLAGS, ids=[f[0] for f in FLAGS])
def test_flags_that_mean_nothing(tmp_path: Path, fault: str, flags: tuple[str, ...], needle: str) -> None:
    folder = _manifests(tmp_path, _ingress())
    run = run_cli(
        "run", "--manifests", str(folder), *flags, "--no-progress", "--reports-dir", str(tmp_path), timeout=BOUND
    )
    line = assert_one_line_exit_2(run, needle)
    record(f"flag {fault}", run, "exit 2: " + line[14:80])


@pytest.mark.parametrize(
    "flags, needle",
    [
        (("--rounds", "100000"), "--rounds"),
        (("--rate", "1e9"), "--rate"),
        (("--rate", "nan"), "--rate"),
    ],
)
def test_load_is_never_unbounded_reload_caps(tmp_path: Path, flags: tuple[str, ...], needle: str) -> None:
    """Given a reload asking for more rounds or a higher rate than the hard caps, then exit 2 before any traffic."""
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    run = run_cli(
        "reload",
        "--allow-mutations",
        "--kubeconfig",
        str(kc),
        *flags,
        "--no-progress",
        "--reports-dir",
        str(tmp_path),
        timeout=BOUND,
    )
    assert_one_line_exit_2(run, needle)
    record(f"reload {' '.join(flags)}", run, "exit 2: refused before traffic")
