"""Basic-auth annotations (auth-type, auth-secret, auth-realm) protect the host, and no typo opens it."""

import pytest

from ingresscheck.pytest_plugin import assert_checks_pass

pytestmark = pytest.mark.auth


def test_auth(auth_results):
    assert_checks_pass(auth_results)
