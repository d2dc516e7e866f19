"""Gateway API hostname semantics: a listener/route wildcard is a suffix match over one or more labels;
a certificate wildcard covers exactly one label. Given / When / Then in the names."""

from __future__ import annotations

import pytest

from ingresscheck.discovery.gateway import certificate_gaps, effective_hostnames, intersect


@pytest.mark.parametrize(
    ("listener", "route", "effective"),
    [
        ("*.gw.test", "a.gw.test", "a.gw.test"),
        ("*.gw.test", "a.b.gw.test", "a.b.gw.test"),  # a listener wildcard matches more than one label
        ("*.gw.test", "gw.test", None),  # ... but never the bare domain
        ("*.gw.test", "a.other.test", None),
        ("a.gw.test", "*.gw.test", "a.gw.test"),  # a route wildcard narrows to the listener's name
        ("a.b.gw.test", "*.gw.test", "a.b.gw.test"),
        ("*.gw.test", "*.b.gw.test", "*.b.gw.test"),  # of two wildcards, the more specific
        ("*.b.gw.test", "*.gw.test", "*.b.gw.test"),
        ("*.gw.test", "*.other.test", None),
        ("A.GW.test", "a.gw.test.", "a.gw.test"),  # case and a trailing dot do not matter
        (None, "a.gw.test", "a.gw.test"),  # a listener without hostname takes the route's
        ("*.gw.test", None, "*.gw.test"),  # a route without hostnames takes the listener's
        (None, None, "*"),
    ],
)
def test_listener_and_route_hostnames_intersect_as_the_spec_says(
    listener: str | None, route: str | None, effective: str | None
) -> None:
    assert intersect(listener, route) == effective


def test_a_route_whose_hostnames_intersect_no_listener_has_no_effective_hostname() -> None:
    """Given a route for other.test on a *.gw.test listener, then it attaches nowhere (empty list)."""
    assert effective_hostnames("*.gw.test", ["shop.other.test", "gw.test"]) == []
    assert effective_hostnames("*.gw.test", ["a.gw.test", "x.other.test", "A.gw.test"]) == ["a.gw.test"]
    assert effective_hostnames("*.gw.test", []) == ["*.gw.test"]


def test_a_certificate_wildcard_covers_one_label_only() -> None:
    """Given a *.gw.test certificate, then a.gw.test is covered and a.b.gw.test is not (the listener accepts both)."""
    sans = ["*.gw.test"]
    assert certificate_gaps("a.gw.test", sans) is None
    assert certificate_gaps("a.b.gw.test", sans) == "no subjectAltName covers a.b.gw.test"
    assert intersect("*.gw.test", "a.b.gw.test") == "a.b.gw.test"  # attached, yet not covered: the gap to flag


def test_a_wildcard_hostname_needs_the_same_wildcard_san() -> None:
    assert certificate_gaps("*.gw.test", ["*.gw.test"]) is None
    assert certificate_gaps("*.gw.test", ["a.gw.test"]) == "no subjectAltName *.gw.test for the wildcard hostname"
    assert certificate_gaps("*.b.gw.test", ["*.gw.test"]) is not None
    assert certificate_gaps("*", ["*.gw.test"]) is not None
