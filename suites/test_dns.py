"""DNS: every Ingress host resolves, to a load-balancer address; wildcard records are a warning."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.dns


def test_dns(dns_results):
    assert_checks_pass(dns_results)
