"""On the lab: a command that would check nothing says what matched nothing (scope and context) and
exits 2, unless --allow-empty; a reload that cannot run is a configuration error, not a skip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]


def _ic(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingresscheck", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_run_on_a_namespace_or_selector_matching_nothing_is_exit_2(lab: Lab, tmp_path: Path) -> None:
    """Given the lab, when run looks at namespace shop (no Ingress), then exit 2 with one line naming the
    namespace (and the selector, when one is given) and the context, and no report; --allow-empty is exit 0."""
    profile = str(lab.layout.profile)
    ns = _ic("run", "--profile", profile, "-n", "shop", cwd=tmp_path)
    assert ns.returncode == 2, ns.stdout + ns.stderr
    assert "nothing matched: no Ingress in namespace shop, context lab (https://" in ns.stderr, ns.stderr
    assert len(ns.stderr.strip().splitlines()) == 1 and not (tmp_path / "reports").exists()
    sel = _ic("run", "--profile", profile, "-n", "shop", "-l", "app=nomatch", "--no-progress", cwd=tmp_path)
    assert sel.returncode == 2 and "selector app=nomatch" in sel.stderr and "context lab" in sel.stderr, sel.stderr
    # demo has Ingresses and HTTPRoutes: a selector matching none of either selects nothing
    routes = _ic("run", "--profile", profile, "-n", "demo", "-l", "app=nomatch", "--no-progress", cwd=tmp_path)
    assert routes.returncode == 2 and "nothing matched" in routes.stderr, routes.stdout + routes.stderr
    ok = _ic("run", "--profile", profile, "-n", "shop", "--allow-empty", "--no-reports", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr


def test_load_targets_matching_nothing_is_exit_2(lab: Lab, tmp_path: Path) -> None:
    """Given a misspelt namespace, then load-targets writes nothing and exits 2 naming it; given demo, it
    writes the routes and says how many."""
    bad = _ic("load-targets", "--profile", str(lab.layout.profile), "-n", "demoo", "--out", "t.json", cwd=tmp_path)
    assert bad.returncode == 2 and "namespace demoo" in bad.stderr, bad.stderr
    assert not (tmp_path / "t.json").exists()
    good = _ic("load-targets", "--profile", str(lab.layout.profile), "-n", "demo", "--out", "t.json", cwd=tmp_path)
    assert good.returncode == 0 and (tmp_path / "t.json").is_file(), good.stderr
    assert "targets (" in good.stdout and "namespace demo" in good.stdout


def test_reload_without_a_canary_domain_is_a_configuration_error(lab: Lab, tmp_path: Path) -> None:
    """Given no profile (so no reload.domain), then reload exits 2 before creating anything, saying what
    to set; the report is not written."""
    out = _ic("reload", "--kubeconfig", str(lab.layout.kubeconfig), "--allow-mutations", "--rounds", "1", cwd=tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "reload.domain" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "reports").exists()
