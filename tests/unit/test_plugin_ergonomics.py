"""pytest ergonomics (issue 26): a failure's section is headed by its test id, and the empty-scope error
names the plugin's own options, in one line without chained-exception noise. Real pytest runs of the
suites on real manifests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingresscheck.pytest_plugin import in_pytest_words

ROOT = Path(__file__).resolve().parents[2]
BAD = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: blog, namespace: blog}
spec:
  rules:
  - host: blog.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: gone, port: {number: 80}}}}]}
"""


def _suites(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    m = tmp_path / "m"
    m.mkdir(exist_ok=True)
    (m / "a.yaml").write_text(BAD)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-p",
            "no:cacheprovider",
            "--manifests",
            str(m),
            *args,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_failure_section_is_headed_by_the_test_id(tmp_path: Path) -> None:
    """Given a missing Service, when the suites run, then the failure's section names the check's test id
    (not 'test session'), and the short summary keeps the check ID's dots."""
    out = _suites(tmp_path, "-k", "backend_service", "-rf")
    assert out.returncode == 1, out.stdout
    assert "_ test session _" not in out.stdout, out.stdout
    assert "_ check static.backend_service[" in out.stdout, out.stdout
    assert "::static.backend_service[" in out.stdout and "static::backend_service" not in out.stdout, out.stdout


def test_the_empty_scope_error_is_one_line_without_chained_exceptions(tmp_path: Path) -> None:
    """Given a namespace with no Ingress, then one collection error line, no 'During handling' noise
    (the cluster form's option names: the next test and tests/lab/test_suites.py)."""
    out = _suites(tmp_path, "--ingress-namespace", "nowhere")
    assert out.returncode == 2, out.stdout
    errors = [line for line in out.stdout.splitlines() if line.startswith("ingresscheck: ")]
    assert len(errors) == 1, out.stdout
    assert "During handling" not in out.stdout, out.stdout
    assert "Traceback" not in out.stdout + out.stderr, out.stdout


def test_run_flag_names_become_the_plugins_and_other_words_stay() -> None:
    """Given the session's empty-scope hint (written with `run`'s flags), then the plugin says its own."""
    text = "check -n/-l/--context, or give --allow-empty; --timeout 5; a-n-b stays"
    assert in_pytest_words(text) == (
        "check --ingress-namespace/--ingress-selector/--kube-context, or give --allow-empty; "
        "--ingresscheck-timeout 5; a-n-b stays"
    )
