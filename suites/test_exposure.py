"""Service exposure: NodePort on every node, LoadBalancer addresses assigned and reachable."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.exposure


def test_exposure(exposure_results):
    assert_checks_pass(exposure_results)
