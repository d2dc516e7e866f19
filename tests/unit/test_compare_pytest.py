"""The parity pytest plugin: one test per host, failing on breaking differences and warning on changed ones."""

from __future__ import annotations

import pytest

from ingresscheck.compare import BREAKING, CHANGED, COSMETIC, Difference, Exchange, HostParity, Observation, Request
from ingresscheck.compare._pytest import ParityBroken, ParityChanged, assert_parity
from ingresscheck.net import Attempt, HttpResponse, Outcome, Subject
from ingresscheck.results import Severity

pytest_plugins = ["pytester"]


def _seen(status: int) -> Observation:
    response = HttpResponse(status, "", (), b"", 0, False)
    return Observation(Attempt("http", Subject("127.0.0.1", 80), Outcome.OK, response=response))


def _host(*severities: Severity) -> HostParity:
    req = Request("plain http", "redirect", "http", "api.example.test", "/v1")
    diffs = tuple(Difference(s, req, "status", "302", "301", "why") for s in severities)
    return HostParity(
        "api.example.test",
        "Ingress demo/api",
        "HTTPRoute demo/api",
        (Exchange(req, _seen(302), _seen(301), diffs),),
    )


def test_breaking_fails_changed_warns_cosmetic_passes() -> None:
    with pytest.raises(ParityBroken, match="1 breaking difference"):
        assert_parity(_host(BREAKING))
    with pytest.warns(ParityChanged, match="A 302 / B 301"):
        assert_parity(_host(CHANGED))
    assert_parity(_host(COSMETIC))


def test_suite_collects_one_test_per_host(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_parity="""
        from ingresscheck.compare._pytest import ParitySuite
        parity = ParitySuite(a="127.0.0.10", b="127.0.0.30", hosts=("api.example.test", "shop.apps.test"))
    """
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*parity[[]api.example.test[]]", "*parity[[]shop.apps.test[]]"])
