"""The load balancer's HTTP→HTTPS redirect keeps host, path and query, and ends without a loop."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.redirect


def test_redirect(redirect_results):
    assert_checks_pass(redirect_results)
