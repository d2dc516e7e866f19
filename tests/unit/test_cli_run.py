"""`ingresscheck run` never exits 0 having checked nothing, and its output options do what they say.

Offline (--manifests): the static probe decides from the files alone, so every case here runs the
real command on real manifests, no cluster needed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingresscheck.errors import UsageError
from ingresscheck.profile import Profile, Resolve

ROOT = Path(__file__).resolve().parents[2]

INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: {namespace}, labels: {{app: {name}}}}}
spec:
  rules:
  - host: {host}
    http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}]}}
"""
SERVICE = (
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec: {selector: {app: web}, ports: [{port: 80}]}\n"
)
CLASS = (
    "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: nginx\n  annotations:\n"
    "    ingressclass.kubernetes.io/is-default-class: 'true'\nspec: {controller: k8s.io/ingress-nginx}\n"
)


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingresscheck", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """One healthy Ingress (shop/web, its Service and a default class) and one whose Service is missing."""
    m = tmp_path / "m"
    m.mkdir()
    (m / "good.yaml").write_text(
        INGRESS.format(name="web", namespace="shop", host="shop.test", service="web")
        + "---\n"
        + SERVICE
        + "---\n"
        + CLASS
    )
    (m / "bad.yaml").write_text(INGRESS.format(name="blog", namespace="blog", host="blog.test", service="gone"))
    return m


def test_a_namespace_without_ingress_is_exit_2(manifests: Path, tmp_path: Path) -> None:
    """Given manifests with Ingresses in shop and blog, when run looks at namespace nowhere, then exit 2 with
    one line, no traceback and no report (the cluster case, naming scope and context, is in tests/lab)."""
    out = _run("run", "--manifests", str(manifests), "-n", "nowhere", cwd=tmp_path)
    assert out.returncode == 2, out
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "nothing matched" in out.stderr or "has no Ingress" in out.stderr, out.stderr
    assert not (tmp_path / "reports").exists()


def test_a_run_where_every_check_skipped_is_not_a_pass(manifests: Path, tmp_path: Path) -> None:
    """Given only a mutating probe chosen without --allow-mutations, then exit 2: nothing was checked."""
    out = _run("run", "--manifests", str(manifests), "--probes", "reload", "--no-reports", cwd=tmp_path)
    assert out.returncode == 2, out
    assert "nothing was checked" in out.stderr and "--allow-mutations" in out.stderr, out.stderr


def test_json_on_stdout_writes_no_files(manifests: Path, tmp_path: Path) -> None:
    """Given -o json, then stdout is exactly the JSON report, the findings go to stderr and no report file
    is written (reports/ stays absent)."""
    out = _run("run", "--manifests", str(manifests), "-o", "json", cwd=tmp_path)
    assert out.returncode == 1, out.stderr  # blog's Service is missing
    doc = json.loads(out.stdout)
    assert doc["schema"].startswith("ingresscheck.report/")
    assert {(r["check"], r["status"]) for r in doc["results"] if r["host"] == "blog.test"} >= {
        ("static.backend_service", "fail")
    }
    assert "static.backend_service" in out.stderr
    assert not (tmp_path / "reports").exists()


def test_named_report_is_the_only_file_and_no_reports_writes_none(manifests: Path, tmp_path: Path) -> None:
    """Given --json PATH alone, then only that file is written; given --no-reports, nothing is."""
    _run("run", "--manifests", str(manifests), "--json", str(tmp_path / "only.json"), cwd=tmp_path)
    assert (tmp_path / "only.json").is_file()
    assert not (tmp_path / "reports").exists()
    _run("run", "--manifests", str(manifests), "--no-reports", cwd=tmp_path)
    assert not (tmp_path / "reports").exists()
    _run("run", "--manifests", str(manifests), cwd=tmp_path)
    assert sorted(p.suffix for p in (tmp_path / "reports").iterdir()) == [".html", ".json", ".xml"]


def test_fail_on_warn_and_skip_by_check_id(tmp_path: Path) -> None:
    """Given a healthy Ingress but no IngressClass (static.ingress_class warns), then exit 0 by default,
    1 with --fail-on warn, and 0 again when --skip leaves that check out (reported as left out)."""
    m = tmp_path / "m"
    m.mkdir()
    (m / "a.yaml").write_text(
        INGRESS.format(name="web", namespace="shop", host="shop.test", service="web") + "---\n" + SERVICE
    )
    assert _run("run", "--manifests", str(m), "--no-reports", cwd=tmp_path).returncode == 0
    assert _run("run", "--manifests", str(m), "--no-reports", "--fail-on", "warn", cwd=tmp_path).returncode == 1
    out = _run(
        "run", "--manifests", str(m), "-o", "json", "--fail-on", "warn", "--skip", "static.ingress_class", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    (left,) = [r for r in json.loads(out.stdout)["results"] if r["check"] == "static.ingress_class"]
    assert left["status"] == "skip" and left["message"].startswith("left out by --skip static.ingress_class")
    bad = _run("run", "--manifests", str(m), "--skip", "static.nope", cwd=tmp_path)
    assert bad.returncode == 2 and "neither a probe" in bad.stderr


def test_version(tmp_path: Path) -> None:
    out = _run("--version", cwd=tmp_path)
    assert out.returncode == 0 and re.fullmatch(r"ingresscheck \d+\.\d+\.\d+\S*\n", out.stdout), out


def test_terminal_output_keeps_check_ids_whole_at_80_columns(manifests: Path, tmp_path: Path) -> None:
    """Given a terminal 80 columns wide (rich forced to terminal mode), then no line is longer than 80
    and every finding's check ID appears whole."""
    out = _run(
        "run",
        "--manifests",
        str(manifests),
        "--no-reports",
        "--no-progress",
        cwd=tmp_path,
        env={"COLUMNS": "80", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0"},
    )
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    assert "static.backend_service" in plain and "static.ingress_class" not in plain, plain
    assert "blog/blog/blog.test" in plain
    assert max(len(line) for line in plain.splitlines()) <= 80, plain


@pytest.mark.parametrize(
    "text, expected",
    [
        ("shop.apps.test:443:127.0.0.10", ("shop.apps.test", 443, ("127.0.0.10",))),
        ("Shop.Apps.Test:443:127.0.0.10,127.0.0.11", ("shop.apps.test", 443, ("127.0.0.10", "127.0.0.11"))),
        ("*:443:[::1],127.0.0.1", ("*", 443, ("::1", "127.0.0.1"))),
    ],
)
def test_resolve_takes_curls_forms(text: str, expected: tuple[str, int, tuple[str, ...]]) -> None:
    r = Resolve.parse(text)
    assert (r.host, r.port, r.addresses) == expected


def test_resolve_override_lists_every_address_of_the_first_matching_entry() -> None:
    profile = Profile(resolve=(Resolve.parse("shop.test:443:127.0.0.10,127.0.0.11"), Resolve.parse("*:443:127.0.0.99")))
    assert profile.resolve_override("SHOP.test", 443) == ["127.0.0.10", "127.0.0.11"]
    assert profile.resolve_override("other.test", 443) == ["127.0.0.99"]
    assert profile.resolve_override("shop.test", 80) == []


@pytest.mark.parametrize("text", ["shop.test:443:", "shop.test:443:127.0.0.1,nope", "shop.test:x:127.0.0.1"])
def test_bad_resolve_is_one_usage_line(text: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        Resolve.parse(text)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text("kind: Namespace\nmetadata: {name: a}\n")
    out = _run("run", "--manifests", str(tmp_path / "m"), "--resolve", text, cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "--resolve" in out.stderr, out


def test_progress_lines_name_the_hosts_cluster_wide_checks_failed(capsys: pytest.CaptureFixture[str]) -> None:
    """Given a static failure for a host, then the cluster-wide line names that host, and a host's own line says
    it is that host's request chain (not its whole verdict)."""
    from ingresscheck.cli.run import _Progress
    from ingresscheck.results import Result, Severity, Status, Step

    fail = Result(
        "static",
        "static.endpoints",
        Status.FAIL,
        Severity.CRITICAL,
        "no endpoints",
        Step.BACKEND,
        host="shop.apps.test",
    )
    ok = Result("dns", "dns.resolves", Status.PASS, Severity.CRITICAL, "ok", Step.DNS, host="shop.apps.test")
    progress = _Progress(2, enabled=False)
    progress.done("demo/shop/shop.apps.test", [ok])
    progress.done("cluster", [fail])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "[1/2] pass  demo/shop/shop.apps.test (request chain)"
    assert err[1] == "[2/2] fail  cluster-wide checks (not passing for shop.apps.test)"
