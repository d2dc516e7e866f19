"""The pytest plugin: the conformance suites run the same probes as `ingresscheck run`, opened the
same way (``ingresscheck.session``: the same flags, the same cluster lookup as kubectl).

- A test module holding ``checks = CheckSuite()`` gets one test per (check ID, target), generated
  from the installed probes' declarations (``Probe.checks``, ``Probe.scope``): ids like
  ``tls.expiry[demo/shop/shop.apps.test]``; a cluster-wide probe's checks are ``static.endpoints[cluster]``.
  Third-party probes appear the same way; a plugin that cannot load is one erroring test.
- A check's results for several subjects (addresses, rules, Services) are judged together in that
  one test: the worst wins and the message lists each subject.
- ``pass`` passes, ``warn`` is a pytest warning, ``fail`` fails with the probe's message, remediation
  and evidence, ``error`` (could not decide) errors the test, ``skip`` skips it.
- No cluster at all, or a scope matching nothing, is a collection error, never a green run of skips;
  a run whose every check skipped exits 5 (``--allow-empty`` accepts both).
- Discovery runs once per process; under pytest-xdist, when an ingresscheck option is given, once on
  the controller, and workers get its result as a file. Results travel back in ``user_properties``;
  the controller builds the HTML and JSON reports once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .results import Report, Result, Status

if TYPE_CHECKING:
    from .discovery import Inventory, Target
    from .probes import BrokenPlugin, Probe
    from .session import Request, Session

_RESULTS_KEY = "ingresscheck_results"
_ITEM_KEY = "ingresscheck_check"


class IngressCheckWarning(UserWarning):
    """A check that passed with a warning (e.g. a wildcard DNS record)."""


class CheckError(Exception):
    """A check could not decide: reported as a test error, never as a pass."""


class CheckFailed(AssertionError):
    """A check failed: the message is the probe's, per subject."""


class CheckSuite:
    """Put ``checks = CheckSuite()`` in a test module: one test per (check ID, target) of every
    installed probe (or of ``probes`` only)."""

    def __init__(self, probes: tuple[str, ...] | None = None) -> None:
        self.probes = probes


# --- options and configuration ------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    from .session import add_pytest_flags

    group = parser.getgroup("ingresscheck", "ingresscheck conformance suites (the flags of `ingresscheck run`)")
    add_pytest_flags(group)
    from .probes import _options, load_probes

    for probe in load_probes().available.values():  # each probe's declared options: --reload-rounds...
        _options.add_arguments(group, probe, short=False, pytest=True)
    group.addoption("--ingresscheck-html", dest="ic_html", help="HTML report path (default: reports/...)")
    group.addoption("--ingresscheck-json", dest="ic_json", help="JSON report path (default: reports/...)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mutating: changes the cluster; runs only with --allow-mutations")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    # warnings are the checks' warn status: shown, never turned into errors by -W error settings
    config.addinivalue_line("filterwarnings", "default::ingresscheck.pytest_plugin.IngressCheckWarning")
    state = _State(config)
    config.stash[_STATE] = state
    if not _is_worker(config) and state.explicit and getattr(config.option, "numprocesses", None):
        # pytest-xdist: discover once here; workers read the result (pytest_configure_node)
        from .errors import IngresscheckError

        try:
            state.open()
        except IngresscheckError as exc:
            raise pytest.UsageError(f"ingresscheck: {exc}") from None


def pytest_configure_node(node: Any) -> None:  # pytest-xdist hook: hand the discovery to workers
    state: _State = node.config.stash[_STATE]
    if state.inventory_file:
        node.workerinput["ingresscheck_inventory"] = state.inventory_file


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class _State:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.request = _request(config)
        self.explicit = self.request != type(self.request)()  # any ingresscheck option given
        self._session: Session | None = None
        self.inventory_file: str | None = None
        self.cache: dict[tuple[str, str], list[Result]] = {}
        self.started = dt.datetime.now(dt.UTC)
        self.written: dict[str, Path] = {}
        self.checks_seen = False  # a check test reported
        self.checked = False  # a check test did not skip

    def open(self) -> Session:
        """The session, opened once per process (a worker uses the controller's discovery)."""
        from .discovery import Inventory
        from .session import open_session

        if self._session is None:
            inventory = None
            if _is_worker(self.config):
                path = self.config.workerinput.get("ingresscheck_inventory")  # type: ignore[attr-defined]
                if path:
                    inventory = Inventory.from_dict(json.loads(Path(path).read_text()))
            self._session = open_session(self.request, inventory=inventory)
            if not _is_worker(self.config):
                fd, path = tempfile.mkstemp(prefix="ingresscheck-inventory-", suffix=".json")
                with os.fdopen(fd, "w") as f:
                    json.dump(self._session.inventory.to_dict(), f)
                self.inventory_file = path
        return self._session

    @property
    def session(self) -> Session | None:
        return self._session

    def results_for(self, probe: type[Probe], target: Target | None) -> list[Result]:
        """The results of ``probe`` for one target (None: cluster-wide), run once per process with the
        probes it needs. A target's chain runs against the whole inventory, so it sees what
        `ingresscheck run` sees (other Ingresses of the same host, every Service)."""
        from . import runner

        session = self.open()
        where = target.id if target else "cluster"
        if (probe.name, where) not in self.cache:
            chain = runner.plan(session.found.available, [probe.name], None)
            report = session.run(probes=chain, targets=[target] if target else [], plugin_errors=False)
            for p in chain:
                self.cache.setdefault((p.name, where), [r for r in report.results if r.probe == p.name])
        return self.cache[(probe.name, where)]


def _request(config: pytest.Config) -> Request:
    from .session import Request

    return Request.from_flags(lambda dest: getattr(config.option, f"ic_{dest}", None))


_STATE = pytest.StashKey[_State]()


# --- collection: one test per (check, target) ---------------------------------------------------
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[pytest.Item] | None:
    if not isinstance(obj, CheckSuite):
        return None
    from .errors import IngresscheckError
    from .probes import Scope

    state: _State = collector.config.stash[_STATE]
    problem = None
    try:
        session = state.open()
    except IngresscheckError as exc:
        problem = in_pytest_words(str(exc))
    if problem is not None:  # failed outside the handler: one line, no chained exception
        pytest.fail(f"ingresscheck: {problem}", pytrace=False)
    items: list[pytest.Item] = []
    for probe in session.probes:
        if obj.probes is not None and probe.name not in obj.probes:
            continue
        _register_marker(collector.config, probe.name, f"checks of the {probe.name} probe")
        subjects: list[Target | None] = [None] if probe.scope is Scope.CLUSTER else list(session.inventory.targets)
        for check in probe.checks:
            for target in subjects:
                item = CheckItem.from_parent(
                    collector,
                    name=f"{check.id}[{target.id if target else 'cluster'}]",
                    probe=probe,
                    check=check.id,
                    target=target,
                )
                item.add_marker(probe.name)
                if probe.mutates:
                    item.add_marker("mutating")
                    item.add_marker("slow")
                items.append(item)
    if obj.probes is None:
        for broken in session.broken:
            items.append(PluginItem.from_parent(collector, name=f"plugin[{broken.name}]", broken=broken))
    return items


def in_pytest_words(text: str) -> str:
    """A session message with `ingresscheck run`'s flag names given as this plugin's (``-n`` is
    ``--ingress-namespace`` here: pytest-xdist owns ``-n``)."""
    import re

    from .session import FLAGS

    for flag in FLAGS:
        if flag.pytest is None:
            continue
        for name in flag.cli:
            if name != flag.pytest:
                text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag.pytest, text)
    return text


def _register_marker(config: pytest.Config, name: str, text: str) -> None:
    if not any(line.split(":")[0] == name for line in config.getini("markers")):
        config.addinivalue_line("markers", f"{name}: {text}")


class CheckItem(pytest.Item):
    """One check of one target: runs (or reuses) the probe's results in setup, judges them in the call."""

    def __init__(self, *, probe: type[Probe], check: str, target: Target | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.probe, self.check, self.target = probe, check, target
        self.results: list[Result] = []
        self.user_properties.append((_ITEM_KEY, check))

    def setup(self) -> None:
        state: _State = self.config.stash[_STATE]
        session = state.open()
        if self.check in session.skip_checks:
            pytest.skip(f"left out by --skip {self.check}")
        self.results = [r for r in state.results_for(self.probe, self.target) if r.check == self.check]
        self.user_properties.append((_RESULTS_KEY, [r.to_dict() for r in self.results]))
        errors = [r for r in self.results if r.status is Status.ERROR]
        if errors:
            raise CheckError(
                f"{self.check} could not decide:\n" + "\n".join(f"  {_where(r)}: {r.message}" for r in errors)
            )

    def runtest(self) -> None:
        assert_checks_pass(self.results)

    def reportinfo(self) -> tuple[Any, int, str]:
        # a line is required for marker skips. The domain heads a failure's section (empty: "test session");
        # one the node id does not end with leaves the node id shown as is (pytest would turn the check
        # ID's dots into "::" otherwise)
        return self.path, 0, f"check {self.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (CheckFailed, CheckError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))


class PluginItem(pytest.Item):
    """A third-party probe plugin that could not be loaded: an error, while every other test runs."""

    def __init__(self, *, broken: BrokenPlugin, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broken = broken
        self.user_properties.append((_ITEM_KEY, f"{broken.name}.plugin"))

    def setup(self) -> None:
        from .session import plugin_error

        self.user_properties.append((_RESULTS_KEY, [plugin_error(self.broken).to_dict()]))
        raise CheckError(str(self.broken))

    def runtest(self) -> None:  # pragma: no cover - setup always raises
        raise CheckError(str(self.broken))

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"check {self.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.ic_allow_mutations:
        return
    skip = pytest.mark.skip(reason="changes the cluster: run with --allow-mutations")
    for item in items:
        if "mutating" in item.keywords:
            item.add_marker(skip)


# --- verdicts -----------------------------------------------------------------------------------
def assert_checks_pass(results: list[Result]) -> None:
    """One verdict over one check's results for every subject: the worst wins. Fails with each
    subject's message (remediation and evidence for the failed ones); skips when all skipped."""
    __tracebackhide__ = True
    if not results:
        pytest.skip("the probe reported no result for this check here")
    for r in results:
        if r.status is Status.WARN:
            warnings.warn(IngressCheckWarning(f"{r.check} {_where(r)}: {r.message}"), stacklevel=2)
    failures = [r for r in results if r.status is Status.FAIL]
    if failures:
        head = f"{failures[0].check}: {len(failures)} of {len(results)} subject(s) failed"
        others = [f"  {r.status.value:<5} {_where(r)}: {r.message}" for r in results if r.status is not Status.FAIL]
        raise CheckFailed("\n".join([head, *others, "", *(_explain(r) for r in failures)]))
    if all(r.status is Status.SKIP for r in results):
        pytest.skip("; ".join(sorted({r.message for r in results})))


def _where(r: Result) -> str:
    where = "/".join(x for x in (r.namespace, r.name or r.ingress, r.host) if x) or "cluster"
    return f"{where} [{r.subject}]" if r.subject else where


def _explain(r: Result) -> str:
    from .reports import redact

    evidence = json.dumps(redact(r.evidence), indent=2, default=str)
    if len(evidence) > 2000:
        evidence = evidence[:2000] + "\n  ... (full evidence in the HTML/JSON report)"
    return (
        f"{r.check} ({r.severity.value}) {_where(r)}\n  {r.message}\n  fix: {r.remediation}\n  evidence: "
        + evidence.replace("\n", "\n  ")
    )


# --- reports and the "nothing checked" verdict, once, on the controller --------------------------
_COLLECTED: dict[tuple[Any, ...], dict[str, Any]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    props = dict((k, v) for k, v in report.user_properties if k in (_ITEM_KEY,))
    config_state = _CONTROLLER_STATE[0] if _CONTROLLER_STATE else None
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return  # (a teardown "passes" even when the test skipped)
    if _ITEM_KEY in props and config_state is not None:
        config_state.checks_seen = True
        if report.outcome != "skipped":
            config_state.checked = True
    for name, value in report.user_properties:
        if name == _RESULTS_KEY and isinstance(value, list):
            for r in value:
                key = (
                    r["probe"],
                    r["check"],
                    r["host"],
                    r["namespace"],
                    r.get("name") or r["ingress"],
                    r.get("subject"),
                    r["message"],
                )
                _COLLECTED[key] = r


_CONTROLLER_STATE: list[_State] = []


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONTROLLER_STATE[:] = [session.config.stash[_STATE]]
    _COLLECTED.clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config) or _STATE not in config.stash:
        return
    state = config.stash[_STATE]
    if state.inventory_file:
        Path(state.inventory_file).unlink(missing_ok=True)
    if (
        state.checks_seen
        and not state.checked
        and not state.request.allow_empty
        and session.exitstatus == pytest.ExitCode.OK
    ):
        state.written["nothing checked"] = Path("every ingresscheck test was skipped (--allow-empty accepts this)")
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
    if not _COLLECTED:
        return
    from . import reports

    inventory = _inventory_of(state)
    results = sorted(
        (Result.from_dict(r) for r in _COLLECTED.values()),
        key=lambda r: (r.host or "", r.probe, r.check, r.subject or "", r.message),
    )
    context = inventory.context if inventory else "cluster"
    report = Report(state.started, dt.datetime.now(dt.UTC), context, inventory.server if inventory else "", results)
    stamp = state.started.strftime("%Y%m%dT%H%M%SZ")
    base = Path("reports") / f"ingresscheck-pytest-{context}-{stamp}"
    state.written.update(
        reports.write_all(
            report, html=config.option.ic_html or f"{base}.html", json=config.option.ic_json or f"{base}.json"
        )
    )


def _inventory_of(state: _State) -> Inventory | None:
    if state.session is not None:
        return state.session.inventory
    if state.inventory_file and Path(state.inventory_file).exists():
        from .discovery import Inventory

        return Inventory.from_dict(json.loads(Path(state.inventory_file).read_text()))
    return None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    for kind, path in (state.written if state else {}).items():
        if kind == "nothing checked":
            terminalreporter.write_line(f"ingresscheck: nothing was checked: {path}", red=True)
        else:
            terminalreporter.write_line(f"ingresscheck {kind} report: {path}")
