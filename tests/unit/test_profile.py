"""Profile loading: fields, relative paths, credentials by reference only."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingresscheck.errors import UsageError
from ingresscheck.profile import Profile, Resolve, load


def test_fields_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    (tmp_path / "pw").write_text("s3cret\n")
    p = tmp_path / "p.yaml"
    p.write_text("""
dns: {servers: ["127.0.0.2:5353", "127.0.0.3"]}
load_balancers: [127.0.0.10]
ca_bundle: ca.crt
resolve: ["api.example.test:443:127.0.0.10"]
credentials:
  wp.example.test: {username: admin, password_file: pw}
thresholds: {timeout: 2, cert_expiry_warning_days: 30}
""")
    prof = load(p)
    assert prof.dns_servers == (("127.0.0.2", 5353), ("127.0.0.3", 53))
    assert prof.ca_bundle == str(tmp_path / "ca.crt")
    assert prof.credentials["wp.example.test"].password() == "s3cret"
    assert prof.thresholds.timeout == 2 and prof.thresholds.cert_expiry_warning_days == 30
    assert prof.resolve_override("API.example.test", 443) == "127.0.0.10"
    assert prof.resolve_override("api.example.test", 80) is None


def test_password_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("credentials:\n  h: {username: u, password_env: IC_PW}\n")
    cred = load(p).credentials["h"]
    with pytest.raises(UsageError, match="IC_PW is not set"):
        cred.password()
    monkeypatch.setenv("IC_PW", "pw")
    assert cred.password() == "pw"


def test_resolve_parsing() -> None:
    assert Resolve.parse("*:443:[::1]") == Resolve("*", 443, "::1")
    with pytest.raises(UsageError, match="HOST:PORT:ADDRESS"):
        Resolve.parse("api.example.test")
    with pytest.raises(UsageError, match="not an IP address"):
        Resolve.parse("a:443:lb.example.test")


def test_overrides_keep_unset_fields() -> None:
    base = Profile(load_balancers=("127.0.0.10",), context="lab")
    assert base.with_overrides(context=None, kubeconfig="/k").load_balancers == ("127.0.0.10",)
