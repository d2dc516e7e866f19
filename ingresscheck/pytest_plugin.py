"""The pytest plugin: the conformance suites in ``suites/`` run the same probes as `ingresscheck run`.

- Registers through the ``pytest11`` entry point; options live in their own group, named so they
  do not collide with locust's plugin (which adds ``--host``).
- Discovery runs once, on the controller; pytest-xdist workers get its result as a file.
- Tests are parametrized per discovered target, ids ``namespace/ingress/host``.
- Each test's probe results travel back in ``user_properties``; the controller builds the HTML and
  JSON reports once, from every worker's results.
- A check that passes is a pass, ``warn`` is a pytest warning, ``fail`` fails the test with the
  probe's message and evidence, ``error`` (could not decide) errors the test, ``skip`` skips it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest

from .discovery import Inventory, Target
from .results import Report, Result, Status

AREAS = ("dns", "redirect", "tls", "routing", "auth", "static", "exposure", "reload")
_RESULTS_KEY = "ingresscheck_results"


class IngressCheckWarning(UserWarning):
    """A check that passed with a warning (e.g. a wildcard DNS record)."""


class CheckError(Exception):
    """A check could not decide: reported as a test error, never as a pass."""


# --- options and configuration ------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ingresscheck", "ingresscheck conformance suites")
    group.addoption("--kubeconfig", dest="ic_kubeconfig", help="kubeconfig of the cluster to check")
    group.addoption("--kube-context", dest="ic_context", help="kubeconfig context")
    group.addoption("--profile", dest="ic_profile", help="ingresscheck profile YAML")
    group.addoption("--ingress-namespace", dest="ic_namespace", help="only Ingresses of this namespace")
    group.addoption("--manifests", dest="ic_manifests", help="check manifests offline instead of a cluster")
    group.addoption("--allow-mutations", dest="ic_mutations", action="store_true",
                    help="run tests that change the cluster (marker: mutating)")
    group.addoption("--ingresscheck-html", dest="ic_html", help="HTML report path (default: reports/...)")
    group.addoption("--ingresscheck-json", dest="ic_json", help="JSON report path (default: reports/...)")


def pytest_configure(config: pytest.Config) -> None:
    for area in AREAS:
        config.addinivalue_line("markers", f"{area}: ingresscheck {area} checks")
    config.addinivalue_line("markers", "mutating: changes the cluster; runs only with --allow-mutations")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    # warnings are the checks' warn status: shown, never turned into errors by -W error settings
    config.addinivalue_line("filterwarnings", "default::ingresscheck.pytest_plugin.IngressCheckWarning")
    state = _State(config)
    config.stash[_STATE] = state
    if not _is_worker(config) and state.wanted:
        state.discover()


def pytest_configure_node(node: Any) -> None:  # pytest-xdist hook: hand the discovery to workers
    state: _State = node.config.stash[_STATE]
    if state.inventory_file:
        node.workerinput["ingresscheck_inventory"] = state.inventory_file


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class _State:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        opt = config.option
        self.wanted = any(getattr(opt, k, None) for k in ("ic_kubeconfig", "ic_profile", "ic_manifests"))
        self.inventory: Inventory | None = None
        self.inventory_file: str | None = None
        self.error: str | None = None
        self.cache: dict[tuple[str, str], list[Result]] = {}
        self.started = dt.datetime.now(dt.UTC)
        self.written: dict[str, Path] = {}
        self._profile: Any = None

    @property
    def profile(self) -> Any:
        from .profile import Profile, load

        if self._profile is None:
            opt = self.config.option
            base = load(opt.ic_profile) if opt.ic_profile else Profile()
            self._profile = base.with_overrides(kubeconfig=opt.ic_kubeconfig, context=opt.ic_context)
        return self._profile

    def discover(self) -> None:
        from .errors import IngresscheckError

        opt = self.config.option
        try:
            if opt.ic_manifests:
                from .discovery.manifests import discover as from_manifests

                self.inventory = from_manifests(opt.ic_manifests, opt.ic_namespace)
            else:
                from .discovery.kube import discover
                from .kube import check_reachable, connect

                cluster = connect(self.profile.kubeconfig, self.profile.context)
                check_reachable(cluster)
                self.inventory = discover(cluster, opt.ic_namespace)
        except IngresscheckError as exc:
            raise pytest.UsageError(f"ingresscheck: {exc}") from None
        fd, path = tempfile.mkstemp(prefix="ingresscheck-inventory-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(self.inventory.to_dict(), f)
        self.inventory_file = path

    def load(self) -> Inventory | None:
        if self.inventory is None and _is_worker(self.config):
            path = self.config.workerinput.get("ingresscheck_inventory")  # type: ignore[attr-defined]
            if path:
                self.inventory = Inventory.from_dict(json.loads(Path(path).read_text()))
        return self.inventory

    def results_for(self, probe: str, target: Target | None) -> list[Result]:
        """The results of ``probe`` for one target (None: cluster-wide), run once per process.

        A target's chain runs against the whole inventory, so it sees what `ingresscheck run` sees
        (other Ingresses of the same host, every Service); cluster-wide probes run once and are
        filtered per target."""
        from .probes import Scope, registry

        available = registry()
        if probe not in available:
            raise CheckError(f"probe {probe!r} is not installed")
        if available[probe].scope is Scope.CLUSTER:
            found = self._run(available, probe, None)
            if target is None:
                return found
            return [r for r in found if r.host == target.host and r.ingress in (None, target.ingress)]
        assert target is not None, f"probe {probe} runs per target"
        return self._run(available, probe, target)

    def _run(self, available: dict[str, Any], probe: str, target: Target | None) -> list[Result]:
        from . import runner

        where = target.id if target else "cluster"
        if (probe, where) not in self.cache:
            inventory = self.load()
            assert inventory is not None
            names = _with_needs(available, probe)
            options = runner.RunOptions(allow_mutations=bool(self.config.option.ic_mutations))
            report = runner.run(runner.plan(available, names, None), self.profile, inventory, options,
                                targets=[target] if target else [])
            for name in names:
                self.cache[(name, where)] = [r for r in report.results if r.probe == name]
        return self.cache[(probe, where)]


_STATE = pytest.StashKey[_State]()


def _with_needs(available: dict[str, Any], probe: str) -> list[str]:
    out: list[str] = []

    def visit(name: str) -> None:
        if name in out or name not in available:
            return
        for need in available[name].needs:
            visit(need)
        out.append(name)

    visit(probe)
    return out


# --- parametrization ----------------------------------------------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ingress_target" not in metafunc.fixturenames:
        return
    state: _State = metafunc.config.stash[_STATE]
    inventory = state.load() if state.wanted else None
    if inventory is None:
        metafunc.parametrize("ingress_target", [pytest.param(None, marks=pytest.mark.skip(
            reason="no cluster given: use --profile, --kubeconfig or --manifests"))], ids=["no-cluster"])
        return
    targets = inventory.targets
    if not targets:
        metafunc.parametrize("ingress_target", [pytest.param(None, marks=pytest.mark.skip(
            reason="discovery found no Ingress host to check"))], ids=["no-targets"])
        return
    metafunc.parametrize("ingress_target", targets, ids=[t.id for t in targets])


@pytest.fixture
def ingress_cluster(request: pytest.FixtureRequest) -> Inventory:
    """The discovered inventory, for cluster-wide checks; skips when no cluster was given."""
    state: _State = request.config.stash[_STATE]
    inventory = state.load() if state.wanted else None
    if inventory is None:
        pytest.skip("no cluster given: use --profile, --kubeconfig or --manifests")
    return inventory


def _results_fixture(probe: str, per_target: bool) -> Any:
    """A fixture ``<probe>_results``: the probe's results, obtained in the test's setup so a check
    that could not decide (status error) makes the test ERROR rather than pass or fail."""

    def results(request: pytest.FixtureRequest, target: Target | None) -> list[Result]:
        state: _State = request.config.stash[_STATE]
        found = state.results_for(probe, target)
        request.node.user_properties.append((_RESULTS_KEY, [r.to_dict() for r in found]))
        errors = [r for r in found if r.status is Status.ERROR]
        if errors:
            raise CheckError("could not decide:\n" + "\n".join(f"{r.check} {_where(r)}: {r.message}" for r in errors))
        return found

    if per_target:
        def fixture(request: pytest.FixtureRequest, ingress_target: Target) -> list[Result]:
            return results(request, ingress_target)
    else:
        def fixture(request: pytest.FixtureRequest, ingress_cluster: Inventory) -> list[Result]:  # type: ignore[misc]
            return results(request, None)

    fixture.__name__ = f"{probe}_results"
    fixture.__doc__ = f"Results of the {probe} probe for {'the target' if per_target else 'the cluster'}."
    return pytest.fixture(name=f"{probe}_results")(fixture)


for _probe in AREAS:
    globals()[f"{_probe}_results"] = _results_fixture(_probe, per_target=_probe not in ("exposure", "reload"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.ic_mutations:
        return
    skip = pytest.mark.skip(reason="changes the cluster: run with --allow-mutations")
    for item in items:
        if "mutating" in item.keywords:
            item.add_marker(skip)


# --- verdicts -----------------------------------------------------------------------------------
def assert_checks_pass(results: list[Result]) -> None:
    """Fail with the probe's own message and evidence; error when a check could not decide."""
    __tracebackhide__ = True
    if not results:
        pytest.skip("the probe reported no check for this target")
    failures = [r for r in results if r.status is Status.FAIL]
    for r in results:
        if r.status is Status.WARN:
            warnings.warn(IngressCheckWarning(f"{r.check} {_where(r)}: {r.message}"), stacklevel=2)
    if failures:
        pytest.fail("\n\n".join(_explain(r) for r in failures), pytrace=False)
    if all(r.status is Status.SKIP for r in results):
        pytest.skip("; ".join(sorted({r.message for r in results})))


def _where(r: Result) -> str:
    return "/".join(x for x in (r.namespace, r.ingress, r.host) if x) or "cluster"


def _explain(r: Result) -> str:
    from .reports import redact

    evidence = json.dumps(redact(r.evidence), indent=2, default=str)
    if len(evidence) > 2000:
        evidence = evidence[:2000] + "\n  ... (full evidence in the HTML/JSON report)"
    return f"{r.check} ({r.severity.value}) {_where(r)}\n  {r.message}\n  fix: {r.remediation}\n  evidence: " + \
        evidence.replace("\n", "\n  ")


# --- reports, once, on the controller -----------------------------------------------------------
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for name, value in report.user_properties:
        if name == _RESULTS_KEY and isinstance(value, list):
            _collect(value)


_COLLECTED: dict[tuple[Any, ...], dict[str, Any]] = {}


def _collect(results: list[dict[str, Any]]) -> None:
    for r in results:
        key = (r["probe"], r["check"], r["host"], r["namespace"], r["ingress"], r["message"])
        _COLLECTED[key] = r


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config) or _STATE not in config.stash:
        return
    state = config.stash[_STATE]
    if state.inventory_file:
        Path(state.inventory_file).unlink(missing_ok=True)
    if not _COLLECTED or state.inventory is None:
        return
    from . import reports

    results = sorted((Result.from_dict(r) for r in _COLLECTED.values()),
                     key=lambda r: (r.host or "", r.probe, r.check, r.message))
    report = Report(state.started, dt.datetime.now(dt.UTC), state.inventory.context, state.inventory.server, results)
    stamp = state.started.strftime("%Y%m%dT%H%M%SZ")
    base = Path("reports") / f"ingresscheck-pytest-{state.inventory.context}-{stamp}"
    written = reports.write_all(report, html=config.option.ic_html or f"{base}.html",
                                json=config.option.ic_json or f"{base}.json")
    state.written = written


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    for kind, path in (state.written if state else {}).items():
        terminalreporter.write_line(f"ingresscheck {kind} report: {path}")
