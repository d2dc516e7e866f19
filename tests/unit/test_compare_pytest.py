"""The parity pytest plugin: one test per host, failing on breaking differences and warning on changed ones."""

from __future__ import annotations

import pytest

from ingresscheck.compare import Difference, Exchange, HostParity, Observation, Request, Severity
from ingresscheck.compare._pytest import ParityBroken, ParityChanged, assert_parity

pytest_plugins = ["pytester"]


def _host(*severities: Severity) -> HostParity:
    req = Request("plain http", "redirect", "http", "api.example.test", "/v1")
    diffs = tuple(Difference(s, req, "status", "302", "301", "why") for s in severities)
    return HostParity(
        "api.example.test",
        "Ingress demo/api",
        "HTTPRoute demo/api",
        (Exchange(req, Observation(302), Observation(301), diffs),),
    )


def test_breaking_fails_changed_warns_cosmetic_passes() -> None:
    with pytest.raises(ParityBroken, match="1 breaking difference"):
        assert_parity(_host(Severity.BREAKING))
    with pytest.warns(ParityChanged, match="A 302 / B 301"):
        assert_parity(_host(Severity.CHANGED))
    assert_parity(_host(Severity.COSMETIC))


def test_suite_collects_one_test_per_host(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_parity="""
        from ingresscheck.compare._pytest import ParitySuite
        parity = ParitySuite(a="127.0.0.10", b="127.0.0.30", hosts=("api.example.test", "shop.apps.test"))
    """
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*parity[[]api.example.test[]]", "*parity[[]shop.apps.test[]]"])
