"""Profile loading: fields, relative paths, credentials by reference only, and one line per bad field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingresscheck.errors import UsageError
from ingresscheck.profile import Profile, Resolve, load, parse_timeout


def test_fields_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    (tmp_path / "pw").write_text("s3cret\n")
    p = tmp_path / "p.yaml"
    p.write_text("""
dns: {servers: ["127.0.0.2:5353", "127.0.0.3", "[::1]:53"]}
load_balancers: [127.0.0.10]
ca_bundle: ca.crt
resolve: ["api.example.test:443:127.0.0.10"]
credentials:
  wp.example.test: {username: admin, password_file: pw}
thresholds: {timeout: 2, cert_expiry_warning_days: 30}
node_port_range: 30000-31000
reload: {domain: example.test}
""")
    prof = load(p)
    assert prof.dns_servers == (("127.0.0.2", 5353), ("127.0.0.3", 53), ("::1", 53))
    assert prof.ca_bundle == str(tmp_path / "ca.crt")
    assert prof.credentials["wp.example.test"].password() == "s3cret"
    assert prof.thresholds.timeout == 2 and prof.thresholds.cert_expiry_warning_days == 30
    assert prof.resolve_override("API.example.test", 443) == ["127.0.0.10"]
    assert prof.resolve_override("api.example.test", 80) == []
    assert prof.node_port_range == (30000, 31000) and prof.reload_domain == "example.test"
    prof.check_credentials()  # the file is there: nothing to say


def test_password_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("credentials:\n  h: {username: u, password_env: IC_PW}\n")
    monkeypatch.delenv("IC_PW", raising=False)
    prof = load(p)  # loading does not need the secret yet ...
    with pytest.raises(UsageError, match=r"credentials\.h\.password_env: environment variable IC_PW is not set"):
        prof.check_credentials()  # ... but a run that needs it stops with exit 2 instead of skipping quietly
    monkeypatch.setenv("IC_PW", "pw")
    prof.check_credentials()
    assert prof.credentials["h"].password() == "pw"


def test_missing_password_file_is_a_configuration_error(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("credentials:\n  h: {username: u, password_file: nowhere}\n")
    with pytest.raises(UsageError, match=r"credentials\.h\.password_file: .*nowhere does not exist"):
        load(p).check_credentials()


@pytest.mark.parametrize(
    "content, needle",
    [
        ('thresholds: {timeout: "abc"}', "thresholds.timeout: expected a number of seconds > 0, got 'abc'"),
        ("thresholds: {timeout: .nan}", "thresholds.timeout: must be a finite number of seconds > 0"),
        ("thresholds: {timeout: .inf}", "thresholds.timeout: must be a finite number of seconds > 0"),
        ("thresholds: {timeout: 0}", "thresholds.timeout: must be a finite number of seconds > 0"),
        ("thresholds: {timout: 3}", "thresholds: unknown field 'timout' (known: "),
        ("credentials: [a, b]", "credentials: expected a mapping of host to {username, password_env | password_file}"),
        (
            "credentials: {a.test: {username: u}}",
            "credentials.a.test: give exactly one of password_env or password_file",
        ),
        ("domains: 5", "domains: expected a list of DNS domains, got 5"),
        ("domains: ['bad..domain']", "domains[0]: 'bad..domain': not a DNS domain"),
        ("reload: [x]", "reload: expected a mapping {domain: DOMAIN}"),
        ("resolve: a", "resolve: expected a list of HOST:PORT:ADDRESS, got 'a'"),
        ("resolve: [a]", "resolve[0]: 'a': expected HOST:PORT:ADDRESS"),
        ("ports: {http: '80'}", "ports.http: expected a port number from 1 to 65535, got '80'"),
        ("ports: {https: 70000}", "ports.https: must be less than 65536, got 70000"),
        ("dns: {servers: ['1.2.3.4:99999']}", "dns.servers[0]: '1.2.3.4:99999': expected ADDRESS[:PORT]"),
        ("controller: nginx", "controller: must be 'traefik' or 'ingress-nginx', got 'nginx'"),
        ("lb_redirects: 'yes'", "lb_redirects: expected true or false, got 'yes'"),
        ("node_port_range: 5", "node_port_range: expected LOW-HIGH, e.g. 30000-32767, got 5"),
        ("context: 5", "context: expected a kubeconfig context name, got 5"),
        ("[1, 2]", "must be a mapping of fields"),
    ],
)
def test_every_wrong_type_or_value_is_one_line_naming_the_field(tmp_path: Path, content: str, needle: str) -> None:
    """Given a profile with one wrong field, then loading names the file, the field and what is expected."""
    p = tmp_path / "p.yaml"
    p.write_text(content + "\n")
    with pytest.raises(UsageError) as err:
        load(p)
    assert str(err.value).startswith(f"profile {p}: ")
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_inline_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("credentials:\n  a.test: {username: u, password: hunter2}\n")
    with pytest.raises(UsageError, match="inline passwords are refused") as err:
        load(p)
    assert "hunter2" not in str(err.value)


def test_resolve_parsing() -> None:
    assert Resolve.parse("*:443:[::1]") == Resolve("*", 443, ("::1",))
    with pytest.raises(UsageError, match="HOST:PORT:ADDRESS"):
        Resolve.parse("api.example.test")
    with pytest.raises(UsageError, match="not an IP address"):
        Resolve.parse("a:443:lb.example.test")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1.0])
def test_timeout_flag_refuses_nan_inf_and_non_positive(value: float) -> None:
    with pytest.raises(UsageError, match="--timeout .*finite number of seconds > 0"):
        parse_timeout(value)
    assert parse_timeout(0.5) == 0.5


def test_overrides_keep_unset_fields() -> None:
    base = Profile(load_balancers=("127.0.0.10",), context="lab")
    assert base.with_overrides(context=None, kubeconfig="/k").load_balancers == ("127.0.0.10",)


def test_client_certificates_and_source_addresses_by_reference(tmp_path: Path) -> None:
    # Given a profile naming a client certificate by file and two vantage points
    (tmp_path / "c.crt").write_text("cert")
    (tmp_path / "c.key").write_text("key")
    p = tmp_path / "p.yaml"
    p.write_text("""
client_certificates:
  MTLS.example.test: {cert_file: c.crt, key_file: c.key}
source_addresses: [127.0.21.70, 127.0.21.200, 127.0.21.70]
""")
    prof = load(p)
    # Then the paths are relative to the profile, the host is lower-cased and the addresses de-duplicated
    cert = prof.client_certificates["mtls.example.test"]
    assert cert.cert_file == str(tmp_path / "c.crt") and cert.read() == (b"cert", b"key")
    assert prof.source_addresses == ("127.0.21.70", "127.0.21.200")
    prof.check_credentials()


def test_an_inline_client_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("client_certificates:\n  a.test: {cert_file: c.crt, key_file: c.key, key: SECRETKEY}\n")
    with pytest.raises(UsageError, match="inline keys are refused; use key_file") as err:
        load(p)
    assert "SECRETKEY" not in str(err.value)


def test_bad_access_fields_are_one_line_naming_the_field(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("source_addresses: [not-an-ip]\n")
    with pytest.raises(UsageError, match=r"source_addresses\[0\]: 'not-an-ip': not an IP address"):
        load(p)
    p.write_text("client_certificates:\n  a.test: {cert_file: c.crt}\n")
    with pytest.raises(UsageError, match=r"client_certificates\.a\.test\.key_file: is required"):
        load(p)


def test_a_missing_client_certificate_file_is_a_configuration_error(tmp_path: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("client_certificates:\n  a.test: {cert_file: gone.crt, key_file: gone.key}\n")
    with pytest.raises(UsageError, match=r"client_certificates\.a\.test\.cert_file: .*gone\.crt does not exist"):
        load(p).check_credentials()
