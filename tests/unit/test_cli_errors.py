"""Every bad input ends in one line on stderr, no traceback, and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import ingress


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingresscheck", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def _kubeconfig(path: Path, server: str, context: str = "lab") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": context,
                "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    return path


def _assert_one_line(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unreadable_kubeconfig(tmp_path: Path) -> None:
    out = _run("run", "--kubeconfig", str(tmp_path / "missing"), cwd=tmp_path)
    _assert_one_line(out, "kubeconfig", "missing", "cannot be read")


def test_garbage_kubeconfig(tmp_path: Path) -> None:
    bad = tmp_path / "kc"
    bad.write_text("::: not yaml [")
    _assert_one_line(_run("run", "--kubeconfig", str(bad), cwd=tmp_path), "kubeconfig", str(bad))


def test_unknown_context(tmp_path: Path) -> None:
    kc = _kubeconfig(tmp_path / "kc", "https://127.0.0.1:1")
    _assert_one_line(
        _run("run", "--kubeconfig", str(kc), "--context", "prod", cwd=tmp_path), "no context 'prod'", "lab"
    )


def test_unreachable_api_server(tmp_path: Path) -> None:
    kc = _kubeconfig(tmp_path / "kc", "https://127.0.0.1:1")
    _assert_one_line(
        _run("run", "--kubeconfig", str(kc), cwd=tmp_path), "API server https://127.0.0.1:1", "unreachable"
    )


@pytest.mark.parametrize(
    "content, needle",
    [
        ("dns: [oops", "invalid YAML at line"),
        ("colour: blue\n", "unknown field 'colour'"),
        ("load_balancers: [not-an-ip]\n", "not an IP address"),
        ("credentials:\n  a.test: {username: u, password: hunter2}\n", "inline passwords are refused"),
        ("thresholds: {timeout: -1}\n", "thresholds.timeout: must be a finite number of seconds > 0"),
        ('thresholds: {timeout: "abc"}\n', "thresholds.timeout: expected a number"),
        ("credentials: [a, b]\n", "credentials: expected a mapping"),
        ("domains: 5\n", "domains: expected a list of DNS domains"),
        ("reload: [x]\n", "reload: expected a mapping"),
        ("resolve: a\n", "resolve: expected a list of HOST:PORT:ADDRESS"),
    ],
)
def test_bad_profile(tmp_path: Path, content: str, needle: str) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(content)
    out = _run("run", "--profile", str(profile), "--manifests", str(tmp_path), cwd=tmp_path)
    _assert_one_line(out, f"profile {profile}", needle)
    assert "hunter2" not in out.stderr


def test_manifests_with_invalid_yaml_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "good.yaml").write_text("kind: Namespace\nmetadata: {name: a}\n")
    (tmp_path / "m" / "bad.yaml").write_text("kind: Ingress\nmetadata:\n  name: x\n  labels: {a: [\n")
    out = _run("run", "--manifests", str(tmp_path / "m"), cwd=tmp_path)
    _assert_one_line(out, "bad.yaml:", "invalid YAML")
    assert "bad.yaml:4" in out.stderr or "bad.yaml:5" in out.stderr


def test_unknown_probe_and_bad_flags(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    _assert_one_line(_run("run", "--manifests", str(tmp_path / "m"), cwd=tmp_path), "no .yaml")
    (tmp_path / "m" / "a.yaml").write_text("kind: Namespace\nmetadata: {name: a}\n")
    _assert_one_line(
        _run("run", "--manifests", str(tmp_path / "m"), "--probes", "nope", cwd=tmp_path), "unknown probe 'nope'"
    )
    _assert_one_line(_run("run", "--concurrency", "x", cwd=tmp_path), "--concurrency")
    _assert_one_line(_run("lab", "up", "--extra-hosts", "-3", cwd=tmp_path), "--extra-hosts")


def test_kubeconfig_with_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    """Given `clusters: [` unterminated, then one line with the file and line, exit 2 (was a traceback)."""
    bad = tmp_path / "kc"
    bad.write_text("apiVersion: v1\nkind: Config\nclusters: [\n")
    _assert_one_line(_run("run", "--kubeconfig", str(bad), cwd=tmp_path), f"kubeconfig {bad}:", "invalid YAML")


@pytest.mark.parametrize(
    "change, needle",
    [
        (
            {"clusters": [{"name": "c", "cluster": {"server": 5}}]},
            "clusters[0].cluster.server: expected a valid string",
        ),
        ({"clusters": "c"}, "clusters: expected a valid list"),
        ({"contexts": [{"name": "lab", "context": {"cluster": "nope", "user": "u"}}]}, "names cluster 'nope'"),
    ],
)
def test_kubeconfig_of_the_wrong_shape_names_the_field(tmp_path: Path, change: dict, needle: str) -> None:
    kc = _kubeconfig(tmp_path / "kc", "https://127.0.0.1:1")
    doc = yaml.safe_load(kc.read_text())
    doc.update(change)
    kc.write_text(yaml.safe_dump(doc))
    _assert_one_line(_run("run", "--kubeconfig", str(kc), cwd=tmp_path), f"kubeconfig {kc}:", needle)


@pytest.mark.parametrize(
    "flags, needle",
    [
        (("--timeout", "nan"), "--timeout nan: must be a finite number of seconds > 0"),
        (("--timeout", "inf"), "--timeout inf: must be a finite number of seconds > 0"),
        (("--probes", ","), "--probes ',' names no"),
        (("--skip", " , "), "--skip ' , ' names no"),
    ],
)
def test_flags_that_name_nothing_or_no_number(tmp_path: Path, flags: tuple[str, ...], needle: str) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text("kind: Namespace\nmetadata: {name: a}\n")
    _assert_one_line(_run("run", "--manifests", str(tmp_path / "m"), *flags, cwd=tmp_path), needle)


def test_profile_credentials_from_an_unset_variable_are_a_configuration_error(tmp_path: Path) -> None:
    """Given credentials.<host>.password_env naming an unset variable, then exit 2 naming it (was: exit 0 and
    auth.good_credentials skipped as if the profile had no credentials)."""
    profile = tmp_path / "p.yaml"
    profile.write_text("credentials:\n  wp.test: {username: u, password_env: IC_UNSET_PASSWORD_VAR}\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.yaml").write_text(yaml.safe_dump(ingress("wp", "wp.test")))
    out = _run("run", "--profile", str(profile), "--manifests", str(tmp_path / "m"), "--probes", "auth", cwd=tmp_path)
    _assert_one_line(out, "credentials.wp.test.password_env", "IC_UNSET_PASSWORD_VAR is not set")


def test_api_server_that_accepts_and_never_answers_times_out_in_one_line(tmp_path: Path) -> None:
    """Given a listener that never answers the TLS ClientHello (a frozen API server), then exit 2 within ~5 s,
    classified as a timeout, not as 'connection closed'."""
    import socket
    import threading

    srv = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(srv.accept()[0]), daemon=True)
    accepting.start()
    try:
        kc = _kubeconfig(tmp_path / "kc", f"https://127.0.0.1:{srv.getsockname()[1]}")
        out = _run("run", "--kubeconfig", str(kc), cwd=tmp_path)
    finally:
        accepting.join(1)
        for conn in held:
            conn.close()
        srv.close()
    _assert_one_line(out, "did not answer", "timed out")
