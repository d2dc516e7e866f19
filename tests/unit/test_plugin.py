"""A third-party probe installed as a package registers through the same entry points and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = '''
from ingresscheck.probes import CheckSpec, Probe, Scope
from ingresscheck.results import Severity, Step


class CountProbe(Probe):
    name = "count"
    scope = Scope.CLUSTER
    network = False
    checks = (CheckSpec("count.ingresses", Step.INGRESS, Severity.INFO, "counts Ingresses", "none"),)

    async def run(self, ctx):
        ctx.passed("count.ingresses", f"{len(ctx.inventory.ingresses)} Ingresses")
'''


def test_third_party_probe_is_installed_and_runs(tmp_path: Path) -> None:
    pkg = tmp_path / "src"
    (pkg / "ic_count").mkdir(parents=True)
    (pkg / "ic_count" / "__init__.py").write_text(PLUGIN)
    (pkg / "pyproject.toml").write_text("""
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "ic-count"
version = "0.1"
[project.entry-points."ingresscheck.probes"]
count = "ic_count:CountProbe"
""")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(site), str(pkg)], check=True, timeout=120)
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "a.yaml").write_text("apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
                                      "metadata: {name: a, namespace: x}\nspec: {rules: [{host: a.test}]}\n")
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-m", "ingresscheck", "run", "--manifests", str(manifests),
                           "--json", str(out), "--html", str(tmp_path / "r.html"), "--junit", str(tmp_path / "r.xml")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert [(r["probe"], r["check"], r["status"], r["message"]) for r in results if r["probe"] == "count"] == [
        ("count", "count.ingresses", "pass", "1 Ingresses")]
