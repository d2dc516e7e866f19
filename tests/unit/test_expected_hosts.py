"""Hosts that must not disappear: the profile's expected hosts (a list or a file) and hosts.expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingresscheck.errors import UsageError
from ingresscheck.profile import Profile, load
from ingresscheck.results import Status

from .helpers import by_check, ingress, one, run_probes


def test_a_host_missing_from_the_cluster_fails_naming_it_and_its_near_miss() -> None:
    """Given the profile expects www.example.test and its Ingress now says wwww.example.test (a typo), then
    hosts.expected fails for www naming the similar name, and passes for api."""
    profile = Profile(expected_hosts=("www.example.test", "api.example.test"))
    report = run_probes(["hosts"], profile, [ingress("www", "wwww.example.test"), ingress("api", "api.example.test")])
    www = one(report, "hosts.expected", "www.example.test")
    assert www.status is Status.FAIL
    assert "www.example.test is expected" in www.message and "similar names served: wwww.example.test" in www.message
    api = one(report, "hosts.expected", "api.example.test")
    assert api.status is Status.PASS and "served by Ingress demo/api" in api.message


def test_a_wildcard_rule_covers_an_expected_host_one_label_deep() -> None:
    """Given a wildcard rule *.apps.test, then shop.apps.test is covered and a.b.apps.test is not."""
    profile = Profile(expected_hosts=("shop.apps.test", "a.b.apps.test"))
    report = run_probes(["hosts"], profile, [ingress("apps", "*.apps.test")])
    assert one(report, "hosts.expected", "shop.apps.test").status is Status.PASS
    assert one(report, "hosts.expected", "a.b.apps.test").status is Status.FAIL


def test_without_expected_hosts_the_check_is_skipped_saying_why() -> None:
    report = run_probes(["hosts"], Profile(), [ingress("api", "api.example.test")])
    [r] = by_check(report, "hosts.expected")
    assert r.status is Status.SKIP and "no expected hosts" in r.message


def test_the_profile_takes_hosts_as_a_list_or_a_file(tmp_path: Path) -> None:
    """Given hosts: [...] in one profile and hosts: FILE (comments, blank lines) in another, then both load."""
    listed = tmp_path / "a.yaml"
    listed.write_text("hosts: [www.example.test, api.example.test]\n")
    assert load(listed).expected_hosts == ("www.example.test", "api.example.test")
    (tmp_path / "hosts.txt").write_text("# the shop\nshop.apps.test\n\napi.example.test  # the API\n")
    from_file = tmp_path / "b.yaml"
    from_file.write_text("hosts: hosts.txt\n")
    assert load(from_file).expected_hosts == ("shop.apps.test", "api.example.test")


@pytest.mark.parametrize(
    "content, extra, message",
    [
        ("hosts: [Not_A_Host]\n", None, "hosts[0]: 'Not_A_Host': not a DNS domain"),
        ("hosts: 5\n", None, "hosts: expected a list of host names or a file path, got 5"),
        ("hosts: missing.txt\n", None, "hosts: cannot read"),
        ("hosts: bad.txt\n", "ok.example.test\nbad host\n", "bad.txt line 2: 'bad host'"),
    ],
)
def test_a_bad_hosts_entry_is_one_line_naming_it(tmp_path: Path, content: str, extra: str | None, message: str) -> None:
    if extra is not None:
        (tmp_path / "bad.txt").write_text(extra)
    p = tmp_path / "p.yaml"
    p.write_text(content)
    with pytest.raises(UsageError) as exc:
        load(p)
    assert message in str(exc.value) and "\n" not in str(exc.value)
