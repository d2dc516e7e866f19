"""--family restricts the address families a run dials (issue 23)."""

from __future__ import annotations

import pytest

from ingresscheck.errors import UsageError
from ingresscheck.session import Request, build_profile


@pytest.mark.parametrize("value", ["4", "6"])
def test_family_flag_sets_the_profiles_family(value: str) -> None:
    # Given --family 4 or 6, when the profile is built, then only that family is dialled
    assert build_profile(Request(family=value)).protocols.family == int(value)


def test_no_family_flag_dials_every_family() -> None:
    assert build_profile(Request()).protocols.family is None


@pytest.mark.parametrize("value", ["5", "ipv6", ""])
def test_family_flag_other_than_4_or_6_is_a_usage_error_naming_the_flag(value: str) -> None:
    # Given a family that is neither 4 nor 6, then one clear line naming --family
    with pytest.raises(UsageError, match="--family"):
        build_profile(Request(family=value))
