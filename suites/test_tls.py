"""TLS: handshake, chain, RFC 6125 hostname (a wildcard covers one label), expiry, keys, protocols,
default certificate and where TLS terminates."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.tls


def test_tls(tls_results):
    assert_checks_pass(tls_results)
