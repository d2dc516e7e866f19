"""A third-party probe installed as a package registers through the same entry points and runs, in
`run` and in the suites; a plugin that cannot be imported is that plugin's error while the others run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = """
from ingresscheck.probes import CheckSpec, Probe, Scope
from ingresscheck.results import Severity, Step


class CountProbe(Probe):
    name = "count"
    scope = Scope.CLUSTER
    network = False
    checks = (CheckSpec("count.ingresses", Step.INGRESS, Severity.INFO, "counts Ingresses", "none"),)

    async def run(self, ctx):
        ctx.passed("count.ingresses", f"{len(ctx.inventory.ingresses)} Ingresses")
"""


ROOT = Path(__file__).resolve().parents[2]


def _install(tmp_path: Path, entry_points: str, code: str) -> Path:
    """pip-install a real package with ``ingresscheck.probes`` entry points into a private site dir."""
    pkg = tmp_path / "src"
    (pkg / "ic_count").mkdir(parents=True)
    (pkg / "ic_count" / "__init__.py").write_text(code)
    (pkg / "pyproject.toml").write_text(f"""
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "ic-count"
version = "0.1"
[project.entry-points."ingresscheck.probes"]
{entry_points}
""")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(pkg),
        ],
        check=True,
        timeout=120,
    )
    return site


def _manifests(tmp_path: Path) -> Path:
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "a.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
        "metadata: {name: a, namespace: x}\nspec: {rules: [{host: a.test}]}\n"
    )
    return manifests


def test_third_party_probe_is_installed_and_runs(tmp_path: Path) -> None:
    site = _install(tmp_path, 'count = "ic_count:CountProbe"', PLUGIN)
    manifests = _manifests(tmp_path)
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--manifests",
            str(manifests),
            "--json",
            str(out),
            "--html",
            str(tmp_path / "r.html"),
            "--junit",
            str(tmp_path / "r.xml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert [(r["probe"], r["check"], r["status"], r["message"]) for r in results if r["probe"] == "count"] == [
        ("count", "count.ingresses", "pass", "1 Ingresses")
    ]


def test_third_party_probe_appears_in_the_suites_and_a_broken_one_errors_alone(tmp_path: Path) -> None:
    """Given an installed count probe and a second entry point whose module does not import, when the
    suites run offline, then count.ingresses[cluster] passes, plugin[broken] errors naming the import
    error, the built-in static checks still run, and `run` reports the same error result (exit 1)."""
    site = _install(tmp_path, 'count = "ic_count:CountProbe"\nbroken = "ic_count_missing:Nope"', PLUGIN)
    manifests = _manifests(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-p",
            "no:cacheprovider",
            "-v",
            "-rA",
            "--manifests",
            str(manifests),
            "--ingresscheck-json",
            str(tmp_path / "s.json"),
            "--ingresscheck-html",
            str(tmp_path / "s.html"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "PASSED suites/test_checks.py::count.ingresses[cluster]" in done.stdout, done.stdout
    assert "ERROR suites/test_checks.py::plugin[broken]" in done.stdout, done.stdout
    assert "ModuleNotFoundError" in done.stdout
    assert "suites/test_checks.py::static.ingress_class[cluster] PASSED" in done.stdout
    assert done.returncode == 1
    out = tmp_path / "r.json"
    run = subprocess.run(
        [sys.executable, "-m", "ingresscheck", "run", "--manifests", str(manifests), "--json", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stderr
    results = json.loads(out.read_text())["results"]
    (err,) = [r for r in results if r["probe"] == "broken"]
    assert err["status"] == "error" and "cannot be loaded: ModuleNotFoundError" in err["message"]
    assert any(r["probe"] == "count" and r["status"] == "pass" for r in results)


def test_suites_without_a_cluster_or_with_every_check_skipped_are_not_green(tmp_path: Path) -> None:
    """Given no kubeconfig anywhere (no flag, no $KUBECONFIG, no ~/.kube/config, not in a cluster), then the
    suites stop with a collection error naming what to give (exit 2), not 'skipped'; given manifests but
    only checks that skip, then exit 5 saying nothing was checked; --allow-empty accepts that (exit 0)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))

    def suites(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    none = suites()
    assert none.returncode == 2 and "no kubeconfig found" in none.stdout and " skipped" not in none.stdout, none.stdout
    manifests = _manifests(tmp_path)
    skipped = suites("--manifests", str(manifests), "-k", "auth")
    assert skipped.returncode == 5 and "nothing was checked" in skipped.stdout, skipped.stdout
    assert suites("--manifests", str(manifests), "-k", "auth", "--allow-empty").returncode == 0
