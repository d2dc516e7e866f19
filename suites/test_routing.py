"""Host-header routing reaches the backend each rule names; unknown hosts get 404; Exact vs Prefix."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.routing


def test_routing(routing_results):
    assert_checks_pass(routing_results)
