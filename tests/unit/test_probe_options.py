"""Probe options are declared once, on the probe (``Options``): the command line, the pytest plugin and
the runner derive from that declaration, with its one default; a bad value is one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingresscheck.cli import build_parser
from ingresscheck.errors import UsageError
from ingresscheck.probes import _options
from ingresscheck.probes.reload import ReloadOptions, ReloadProbe
from ingresscheck.session import Request, open_session

from .test_plugin import ROOT, _install, _manifests

PLUGIN = """
from pydantic import Field

from ingresscheck.probes import CheckSpec, Probe, ProbeOptions, Scope
from ingresscheck.results import Severity, Step


class LimitOptions(ProbeOptions):
    limit: int = Field(3, ge=1, le=50, description="how many to count")


class CountProbe(Probe):
    name = "count"
    scope = Scope.CLUSTER
    network = False
    Options = LimitOptions
    checks = (CheckSpec("count.ingresses", Step.INGRESS, Severity.INFO, "counts Ingresses", "none"),)

    async def run(self, ctx):
        ctx.passed("count.ingresses", f"limit {ctx.options.limit}")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _install(tmp_path_factory.mktemp("plugin"), 'count = "ic_count:CountProbe"', PLUGIN)


def _ic(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def _said(report: Path) -> list[str]:
    return [r["message"] for r in json.loads(report.read_text())["results"] if r["check"] == "count.ingresses"]


def test_a_probes_option_reaches_it_from_run_with_its_one_default(site: Path, tmp_path: Path) -> None:
    # Given a third-party probe declaring limit (default 3), When run without and with --count-limit
    m, out = _manifests(tmp_path), tmp_path / "r.json"
    plain = _ic(site, tmp_path, "ingresscheck", "run", "--manifests", str(m), "--probes", "count", "--json", str(out))
    assert plain.returncode == 0, plain.stderr
    # Then the probe sees the declared default, then the flag's value
    assert _said(out) == ["limit 3"]
    given = _ic(
        site,
        tmp_path,
        "ingresscheck",
        "run",
        "--manifests",
        str(m),
        "--probes",
        "count",
        "--count-limit",
        "7",
        "--json",
        str(out),
    )
    assert given.returncode == 0, given.stderr
    assert _said(out) == ["limit 7"]


def test_a_bad_option_value_is_one_line_and_exit_2(site: Path, tmp_path: Path) -> None:
    # Given a value the declaration refuses, When run, Then one line naming the flag, exit 2, no traceback
    done = _ic(site, tmp_path, "ingresscheck", "run", "--manifests", str(_manifests(tmp_path)), "--count-limit", "0")
    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        "ingresscheck: --count-limit 0: input should be greater than or equal to 1"
    ]


def test_the_suites_take_the_probes_options(site: Path, tmp_path: Path) -> None:
    # Given the pytest plugin, When the suites run with --count-limit 5, Then the probe got 5
    out = tmp_path / "s.json"
    args = ["pytest", "suites", "-p", "no:cacheprovider", "-q", "--manifests", str(_manifests(tmp_path))]
    done = _ic(site, ROOT, *args, "-k", "count", "--count-limit", "5", "--ingresscheck-json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _said(out) == ["limit 5"]
    bad = _ic(site, ROOT, *args, "-k", "count", "--count-limit", "0")
    assert bad.returncode != 0 and "--count-limit 0" in bad.stdout + bad.stderr


def test_reload_rounds_have_one_default_reached_from_run_and_reload(tmp_path: Path) -> None:
    # Given the reload probe's declaration, Then the rounds default is the one the CLI documents (10)
    assert ReloadOptions().rounds == 10 and ReloadProbe.Options is ReloadOptions
    parser = build_parser()
    m = _manifests(tmp_path)
    # When `run` is given --reload-rounds 4, or nothing, Then the session hands the probe 4, or 10
    for argv, rounds in ((["--reload-rounds", "4"], 4), ([], 10)):
        args = parser.parse_args(["run", "--manifests", str(m), *argv])
        session = open_session(Request.from_args(args))
        assert session.probe_options(ReloadProbe) == ReloadOptions(rounds=rounds)
    # and `reload --rounds 2` names the same field
    args = parser.parse_args(["reload", "--manifests", str(m), "--rounds", "2", "--kind", "httproute"])
    assert Request.from_args(args).probe_options == {"reload": {"rounds": 2, "kind": "httproute"}}
    # and the deadline follows the rounds
    assert ReloadProbe.deadline(session.profile, ReloadOptions(rounds=2)) < ReloadProbe.deadline(
        session.profile, ReloadOptions()
    )


def test_a_bad_reload_value_names_the_flag_as_written() -> None:
    # Given a rate over the cap, When validated for `reload` and for `run`, Then each names its own flag
    with pytest.raises(UsageError, match=r"^--rate 5000.0: input should be less than or equal to 2000$"):
        _options.validate(ReloadProbe, {"rate": 5000.0}, lambda f: f"--{f}")
    with pytest.raises(UsageError, match=r"^--reload-gateway 'nope': give NAMESPACE/NAME$"):
        _options.validate(ReloadProbe, {"gateway": "nope"})
