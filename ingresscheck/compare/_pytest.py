"""The comparison as pytest tests: put ``parity = ParitySuite(a=..., b=...)`` in a test module and get one
test per host, id ``parity[api.example.test]``, plus one per host served on A only.

A breaking difference fails the host's test with every breaking difference in the message; changed
differences are pytest warnings; cosmetic ones pass. The comparison runs once per suite object, at the
first test that needs it, so collecting without a cluster never touches the network.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest

from ._model import BREAKING, CHANGED, HostParity, ParityReport, Side


class ParityChanged(UserWarning):
    """A host behaves differently on B without breaking (another redirect code, another realm...)."""


class ParityBroken(AssertionError):
    """A host breaks on B: the message lists each breaking difference and why it matters."""


@dataclass
class ParitySuite:
    a: str | None = None
    b: str | None = None
    a_kind: str | None = None
    b_kind: str | None = None
    a_context: str | None = None
    b_context: str | None = None
    hosts: tuple[str, ...] = ()  # the hosts to expect (test ids are known before any traffic)
    kubeconfig: str | None = None
    profile: str | None = None
    namespace: str | None = None
    expect: str | None = None  # an --expect file: known differences pass, with their reason
    _report: ParityReport | None = field(default=None, init=False, repr=False)

    def report(self) -> ParityReport:
        if self._report is None:
            from ..profile import Profile, load
            from . import compare, load_expectations

            prof = load(self.profile) if self.profile else Profile()
            self._report = compare(
                Side("A", self.a, self.a_context, self.a_kind),
                Side("B", self.b, self.b_context, self.b_kind),
                prof,
                kubeconfig=self.kubeconfig,
                namespace=self.namespace,
                expectations=load_expectations(self.expect) if self.expect else (),
            )
        return self._report

    def check(self, host: str) -> None:
        __tracebackhide__ = True
        report = self.report()
        if host in report.only_a:
            raise ParityBroken(f"{host} is served on A only: it stops being served after the switch")
        found = next((h for h in report.hosts if h.host == host), None)
        if found is None:
            pytest.skip(f"{host} is served on neither side")
        assert_parity(found)


def assert_parity(host: HostParity) -> None:
    """Fail on breaking differences, warn on changed ones."""
    __tracebackhide__ = True
    for d in host.differences:
        if d.severity is CHANGED:
            warnings.warn(
                ParityChanged(f"{host.host}: {d.request.describe()} {d.aspect}: A {d.a} / B {d.b} ({d.explanation})"),
                stacklevel=2,
            )
    breaking = [d for d in host.differences if d.severity is BREAKING]
    if breaking:
        raise ParityBroken(
            f"{host.host}: {len(breaking)} breaking difference(s)\n"
            + "\n".join(f"  {d.request.describe()} {d.aspect}: A {d.a} / B {d.b} ({d.explanation})" for d in breaking)
        )


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> list[pytest.Item] | None:
    if not isinstance(obj, ParitySuite):
        return None
    if not obj.hosts:
        raise pytest.UsageError(f"{name} = ParitySuite(...): name the hosts to compare (hosts=(...))")
    return [
        pytest.Function.from_parent(collector, name=f"{name}[{host}]", callobj=_bound(obj, host)) for host in obj.hosts
    ]


def _bound(suite: ParitySuite, host: str) -> Any:
    def test() -> None:
        __tracebackhide__ = True
        suite.check(host)

    return test
