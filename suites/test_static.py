"""What the objects say, without traffic: Services, endpoints, TLS Secrets, classes, duplicates."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.static


def test_static(static_results):
    assert_checks_pass(static_results)
