"""Reload latency: canary Ingresses are created, changed and deleted while existing routes are
called at a fixed rate; changes must reach the data plane and existing traffic must not suffer.
Changes the cluster: runs only with --allow-mutations."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = [pytest.mark.reload, pytest.mark.mutating, pytest.mark.slow]


def test_reload(reload_results):
    assert_checks_pass(reload_results)
